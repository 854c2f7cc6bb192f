"""Each policy function called directly, and through the CrossGuard adapter without a policy server."""

from __future__ import annotations

from typing import Any

import pytest

from sitekit.policy import POLICIES, Resource, evaluate
from sitekit.policy.isolation import check_default_deny, check_load_balancer
from sitekit.policy.pod_security import check_namespace_labels, check_restricted
from sitekit.policy.residency import check_egress
from sitekit.policy.supply_chain import check_charts, check_images, image_registry
from sitekit.spec import Fleet, Site


@pytest.fixture
def ee(fleet: Fleet) -> Site:
    return fleet.site("ee")


def k8s(kind: str, name: str, namespace: str = "", **rest: Any) -> Resource:
    meta = {"name": name, **({"namespace": namespace} if namespace else {})}
    return Resource(
        f"kubernetes:x:{kind}",
        name,
        f"urn:pulumi:ee::sitekit::{kind}::{name}",
        {"apiVersion": "v1", "kind": kind, "metadata": meta, **rest},
    )


def pod(container: dict[str, Any], **spec: Any) -> Resource:
    return k8s("Pod", "p", "tenant-ria", spec={"containers": [container], **spec})


GOOD = {
    "name": "c",
    "image": "registry.ee.sovereign.example/x@sha256:" + "a" * 64,
    "securityContext": {
        "allowPrivilegeEscalation": False,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    },
}


@pytest.mark.parametrize(
    ("image", "registry"),
    [
        ("nginx", "docker.io"),
        ("library/nginx:1", "docker.io"),
        ("ghcr.io/a/b", "ghcr.io"),
        ("registry.ee.sovereign.example:5000/a@sha256:x", "registry.ee.sovereign.example:5000"),
        ("localhost/a", "localhost"),
    ],
)
def test_image_registry(image: str, registry: str) -> None:
    assert image_registry(image) == registry


def test_images_tag_and_foreign(ee: Site) -> None:
    assert list(check_images(ee, pod(GOOD))) == []
    tagged = {**GOOD, "image": "registry.ee.sovereign.example/x:latest"}
    assert "not pinned by digest" in next(iter(check_images(ee, pod(tagged))))
    init = {**GOOD, "image": "quay.io/x@sha256:" + "a" * 64}
    msgs = list(check_images(ee, pod(GOOD, initContainers=[init])))
    assert msgs and msgs[0].startswith("initContainers[0] c: image 'quay.io/")


def test_charts(ee: Site) -> None:
    release = Resource(
        "kubernetes:helm.sh/v3:Release",
        "r",
        "urn",
        {
            "chart": "gpu-operator",
            "version": "v24.9.2",
            "repositoryOpts": {"repo": "https://helm.ngc.nvidia.com/nvidia"},
            "values": {"driver": {"repository": "nvcr.io/nvidia"}},
        },
    )
    msgs = list(check_charts(ee, release))
    assert any("helm.ngc.nvidia.com" in m for m in msgs)
    assert any("values.driver.repository 'nvcr.io/nvidia'" in m for m in msgs)
    floating = Resource(
        "kubernetes:helm.sh/v3:Release",
        "r",
        "urn",
        {"chart": "x", "version": "~1.2", "repositoryOpts": {"repo": ee.residency.chart_repository.url}},
    )
    assert [m for m in check_charts(ee, floating)] == [
        "chart 'x' version '~1.2' is not pinned to an exact version",
        "chart 'x' is not in sitekit/charts.yaml: its image-bearing values are unknown",
    ]


def test_egress(ee: Site) -> None:
    def netpol(*rules: Any) -> Resource:
        return k8s("NetworkPolicy", "n", "tenant-ria", spec={"podSelector": {}, "egress": list(rules)})

    assert list(check_egress(ee, netpol({"to": [{"ipBlock": {"cidr": "10.20.5.0/24"}}]}))) == []
    assert list(check_egress(ee, netpol({"to": [{"namespaceSelector": {}}]}))) == []
    assert "no `to`" in next(iter(check_egress(ee, netpol({"ports": [{"port": 443}]}))))
    assert "outside the country" in next(iter(check_egress(ee, netpol({"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}))))
    with_metadata = list(check_egress(ee, netpol({"to": [{"ipBlock": {"cidr": "169.254.0.0/16"}}]})))
    assert any("169.254.169.254/32" in m for m in with_metadata)


def test_restricted(ee: Site) -> None:
    assert list(check_restricted(ee, pod(GOOD))) == []
    bad = {"name": "c", "image": "x", "securityContext": {"privileged": True, "capabilities": {"add": ["SYS_ADMIN"]}}}
    msgs = list(check_restricted(ee, pod(bad, hostNetwork=True, volumes=[{"name": "h", "hostPath": {"path": "/"}}])))
    joined = "\n".join(msgs)
    for needle in (
        "hostNetwork",
        "hostPath",
        "privileged is true",
        "allowPrivilegeEscalation",
        "runAsNonRoot",
        "seccompProfile",
        "drop must include ALL",
        "SYS_ADMIN",
    ):
        assert needle in joined
    exempt = k8s("Pod", "p", "gpu-operator", spec={"containers": [bad]})
    assert list(check_restricted(ee, exempt)) == []
    pod_level = {**GOOD, "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}}
    assert (
        list(
            check_restricted(
                ee, pod(pod_level, securityContext={"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}})
            )
        )
        == []
    )


def test_namespace_labels(ee: Site) -> None:
    ns = k8s("Namespace", "tenant-x")
    assert len(list(check_namespace_labels(ee, ns))) == 6
    gpu = Resource(
        "t",
        "n",
        "u",
        {
            "kind": "Namespace",
            "metadata": {
                "name": "gpu-operator",
                "labels": {
                    **{f"pod-security.kubernetes.io/{m}": "privileged" for m in ("enforce", "audit", "warn")},
                    **{f"pod-security.kubernetes.io/{m}-version": "v1.30" for m in ("enforce", "audit", "warn")},
                },
            },
        },
    )
    assert [m for m in check_namespace_labels(ee, gpu)] == [
        "the Pod Security exemption has no reason (annotation sitekit.io/pod-security-exemption)"
    ]


def test_default_deny_and_load_balancer(ee: Site) -> None:
    ns = k8s("Namespace", "tenant-x")
    half = k8s("NetworkPolicy", "d", "tenant-x", spec={"podSelector": {}, "policyTypes": ["Ingress"]})
    assert [r.ref for r, _ in check_default_deny(ee, [ns, half])] == ["Namespace tenant-x"]
    full = k8s("NetworkPolicy", "d", "tenant-x", spec={"podSelector": {}, "policyTypes": ["Ingress", "Egress"]})
    assert list(check_default_deny(ee, [ns, full])) == []
    lb = k8s("Service", "s", "x", spec={"type": "LoadBalancer"})
    assert list(check_load_balancer(ee, lb))
    allowed = ee.model_copy(update={"network": ee.network.model_copy(update={"allow_public_load_balancer": True})})
    assert list(check_load_balancer(allowed, lb)) == []


def test_evaluate_names_policy_and_object(ee: Site) -> None:
    found = evaluate(ee, [k8s("Service", "s", "x", spec={"type": "LoadBalancer"})])
    assert [str(v) for v in found] == [
        "[sitekit-no-public-load-balancer] Service x/s: is of type LoadBalancer, but the spec does not allow "
        "public load balancers"
    ]


def test_crossguard_adapter_reports_through_the_callback(
    ee: Site, monkeypatch: pytest.MonkeyPatch, repo_root: Any
) -> None:
    from pulumi_policy import ResourceValidationArgs, StackValidationArgs, StackValidationPolicy
    from pulumi_policy.policy import PolicyResource, PolicyResourceOptions

    from sitekit.policy.pack import crossguard_policies

    monkeypatch.setenv("SITEKIT_SITES", str(repo_root / "sites"))
    policies = {p.name: p for p in crossguard_policies()}
    assert set(policies) == {p.name for p in POLICIES}
    opts = PolicyResourceOptions(
        protect=False,
        ignore_changes=[],
        delete_before_replace=None,
        aliases=[],
        custom_timeouts=None,
        additional_secret_outputs=[],
    )
    urn = "urn:pulumi:ee::sitekit::kubernetes:core/v1:Service::s"
    args = ResourceValidationArgs(
        "kubernetes:core/v1:Service",
        {"kind": "Service", "metadata": {"name": "s", "namespace": "x"}, "spec": {"type": "LoadBalancer"}},
        urn,
        "s",
        opts,
        None,
    )
    reported: list[tuple[str, str | None]] = []
    policies["sitekit-no-public-load-balancer"].validate(args, lambda m, u=None: reported.append((m, u)))
    assert reported == [
        ("Service x/s: is of type LoadBalancer, but the spec does not allow public load balancers", urn)
    ]
    stack_policy = policies["sitekit-namespace-default-deny"]
    assert isinstance(stack_policy, StackValidationPolicy)
    ns = PolicyResource(
        "kubernetes:core/v1:Namespace",
        {"kind": "Namespace", "metadata": {"name": "tenant-x"}},
        "urn:pulumi:ee::sitekit::kubernetes:core/v1:Namespace::n",
        "n",
        opts,
        None,
        None,
        [],
        {},
    )
    reported.clear()
    stack_policy.validate(StackValidationArgs([ns]), lambda m, u=None: reported.append((m, u)))
    assert reported and reported[0][0].startswith("Namespace tenant-x: has no default-deny")
