"""Policy rules at their boundaries, with exact messages, every container and every list element (issue 15).

Pod Security `restricted`: each field on its own, at pod and at container level (the container's value wins,
even when it is a falsy one), for init and ephemeral containers too, not only the first container. Tenant GPU
quotas: a request equal to the quota and one above it, HPA ceilings, milli-quantities.
"""

from __future__ import annotations

from ipaddress import IPv4Network
from pathlib import Path
from typing import Any, ClassVar

import pytest

from sitekit.policy import POLICIES, Resource
from sitekit.policy.isolation import check_default_deny, check_load_balancer, is_default_deny, selects_all
from sitekit.policy.pod_security import check_namespace_labels, check_restricted
from sitekit.policy.quotas import check_tenant_quota
from sitekit.policy.workloads import gpu_per_pod, pod_labels, pod_spec, quantity, replicas
from sitekit.spec import load_fleet

ROOT = Path(__file__).resolve().parents[2]
EE = load_fleet(ROOT / "sites").site("ee")  # tenants tartu-nlp (1 GPU) and ria (2 GPUs)
SAFE_CTX = {
    "allowPrivilegeEscalation": False,
    "runAsNonRoot": True,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}


def k8s(kind: str, name: str, namespace: str = "", **rest: Any) -> Resource:
    meta = {"name": name, **({"namespace": namespace} if namespace else {})}
    return Resource(f"kubernetes:x:{kind}", name, f"urn:{kind}:{name}", {"kind": kind, "metadata": meta, **rest})


def container(name: str = "c", **ctx: Any) -> dict[str, Any]:
    return {"name": name, "image": "i", "securityContext": {**SAFE_CTX, **ctx}}


def pod(*containers: dict[str, Any], ns: str = "tenant-ria", **spec: Any) -> Resource:
    return k8s("Pod", "p", ns, spec={"containers": list(containers), **spec})


def test_a_safe_pod_passes_and_every_host_namespace_is_named() -> None:
    assert list(check_restricted(EE, pod(container()))) == []
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        assert list(check_restricted(EE, pod(container(), **{field: True}))) == [f"{field} is true"]


@pytest.mark.parametrize(
    ("ctx", "message"),
    [
        ({"privileged": True}, "privileged is true"),
        ({"allowPrivilegeEscalation": None}, "allowPrivilegeEscalation must be false"),
        ({"allowPrivilegeEscalation": True}, "allowPrivilegeEscalation must be false"),
        ({"runAsNonRoot": False}, "runAsNonRoot must be true"),
        ({"runAsUser": 0}, "runAsUser is 0 (root)"),
        ({"seccompProfile": {"type": "Unconfined"}}, "seccompProfile.type must be RuntimeDefault or Localhost"),
        ({"capabilities": {"drop": ["NET_RAW"]}}, "capabilities.drop must include ALL"),
        ({"capabilities": {"drop": ["ALL"], "add": ["SYS_ADMIN", "NET_BIND_SERVICE", "BPF"]}},
         "capabilities.add ['BPF', 'SYS_ADMIN'] (only NET_BIND_SERVICE is allowed)"),
    ],
)
def test_each_container_field_in_every_container_list(ctx: dict[str, Any], message: str) -> None:
    for field in ("containers", "initContainers", "ephemeralContainers"):
        spec = {"containers": [container("ok")], field: [*([container("ok")] if field == "containers" else []),
                                                         container("bad", **ctx)]}
        index = 1 if field == "containers" else 0
        found = list(check_restricted(EE, k8s("Pod", "p", "tenant-ria", spec=spec)))
        assert found == [f"{field}[{index}] bad: {message}"], (field, found)


def test_allowed_exceptions_stay_allowed() -> None:
    fine = container(seccompProfile={"type": "Localhost"}, capabilities={"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]},
                     runAsUser=1000)
    assert list(check_restricted(EE, pod(fine))) == []
    ok_volumes = [{"name": k, k: {}} for k in ("configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
                                                "persistentVolumeClaim", "projected", "secret")]
    assert list(check_restricted(EE, pod(container(), volumes=ok_volumes))) == []


def test_volumes_each_named_with_their_forbidden_kinds() -> None:
    vols = [{"name": "a", "emptyDir": {}}, {"name": "h", "hostPath": {"path": "/"}, "nfs": {}}]
    assert list(check_restricted(EE, pod(container(), volumes=vols))) == ["volume 'h' uses hostPath, nfs"]


def test_pod_level_settings_apply_and_the_container_wins() -> None:
    bare = {"name": "c", "image": "i", "securityContext": {"allowPrivilegeEscalation": False,
                                                          "capabilities": {"drop": ["ALL"]}}}
    pod_ctx = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
    assert list(check_restricted(EE, pod(bare, securityContext=pod_ctx))) == []
    assert list(check_restricted(EE, pod(bare, securityContext={**pod_ctx, "runAsUser": 0}))) == [
        "containers[0] c: runAsUser is 0 (root)"
    ]
    overridden = {**bare, "securityContext": {**bare["securityContext"], "runAsNonRoot": False}}
    assert list(check_restricted(EE, pod(overridden, securityContext=pod_ctx))) == [
        "containers[0] c: runAsNonRoot must be true"
    ]
    assert list(check_restricted(EE, pod(bare))) == [
        "containers[0] c: runAsNonRoot must be true",
        "containers[0] c: seccompProfile.type must be RuntimeDefault or Localhost",
    ]


def test_host_ports_are_named_and_the_gpu_operator_is_exempt() -> None:
    c = {**container(), "ports": [{"containerPort": 80}, {"containerPort": 81, "hostPort": 8081}]}
    assert list(check_restricted(EE, pod(c))) == ["containers[0] c: hostPort 8081"]
    assert list(check_restricted(EE, pod(container(privileged=True), ns="gpu-operator"))) == []
    assert list(check_restricted(EE, k8s("ConfigMap", "x", "tenant-ria", spec={"hostNetwork": True}))) == []


def labels(level: str, version: bool = True) -> dict[str, str]:
    out = {f"pod-security.kubernetes.io/{m}": level for m in ("enforce", "audit", "warn")}
    if version:
        out |= {f"pod-security.kubernetes.io/{m}-version": "v1.30" for m in ("enforce", "audit", "warn")}
    return out


def namespace(name: str, lab: dict[str, str], **annotations: str) -> Resource:
    meta: dict[str, Any] = {"name": name, "labels": lab, **({"annotations": annotations} if annotations else {})}
    return Resource("t", name, "u", {"kind": "Namespace", "metadata": meta})


def test_namespace_labels_each_mode_and_version() -> None:
    assert list(check_namespace_labels(EE, namespace("tenant-x", labels("restricted")))) == []
    assert list(check_namespace_labels(EE, namespace("tenant-x", labels("baseline", version=False)))) == [
        msg
        for m in ("enforce", "audit", "warn")
        for msg in (f"label pod-security.kubernetes.io/{m} is 'baseline', expected 'restricted'",
                    f"label pod-security.kubernetes.io/{m}-version is missing")
    ]
    partial = {**labels("restricted"), "pod-security.kubernetes.io/warn": "privileged"}
    assert list(check_namespace_labels(EE, namespace("tenant-x", partial))) == [
        "label pod-security.kubernetes.io/warn is 'privileged', expected 'restricted'"
    ]
    reason = {"sitekit.io/pod-security-exemption": "the GPU operator loads kernel modules"}
    assert list(check_namespace_labels(EE, namespace("gpu-operator", labels("privileged"), **reason))) == []
    assert next(iter(check_namespace_labels(EE, namespace("gpu-operator", labels("restricted"), **reason)))) == (
        "label pod-security.kubernetes.io/enforce is 'restricted', expected 'privileged'"
    )
    assert list(check_namespace_labels(EE, k8s("Pod", "p", "x"))) == []


def gpu_deploy(ns: str, name: str, gpus: Any, replicas_: int | None = None, key: str = "limits") -> Resource:
    spec: dict[str, Any] = {"template": {"spec": {"containers": [
        {"name": "c", "image": "i", "resources": {key: {"nvidia.com/gpu": gpus}}}]}}}
    if replicas_ is not None:
        spec["replicas"] = replicas_
    return k8s("Deployment", name, ns, spec=spec)


def quota(ns: str, gpus: Any) -> Resource:
    return k8s("ResourceQuota", "q", ns, spec={"hard": {"requests.nvidia.com/gpu": gpus}})


def test_quota_equal_to_the_grant_passes_and_above_fails() -> None:
    ns = k8s("Namespace", "tenant-ria")
    assert list(check_tenant_quota(EE, [ns, quota("tenant-ria", "2"), gpu_deploy("tenant-ria", "d", 1, 2)])) == []
    found = [(r.ref if r else None, m) for r, m in check_tenant_quota(EE, [ns, quota("tenant-ria", "3")])]
    assert found == [("ResourceQuota tenant-ria/q", "requests.nvidia.com/gpu is 3, above the 2 GPUs the spec grants")]
    over = [ns, quota("tenant-ria", "2000m"), gpu_deploy("tenant-ria", "a", 1), gpu_deploy("tenant-ria", "b", 1, 2)]
    found = [(r.ref if r else None, m) for r, m in check_tenant_quota(EE, over)]
    assert found == [("Deployment tenant-ria/b", "tenant namespace tenant-ria requests 3 GPUs (Deployment "
                      "tenant-ria/a, Deployment tenant-ria/b), over its quota of 2")]


def test_every_tenant_namespace_needs_a_quota_and_a_tenant() -> None:
    nss = [k8s("Namespace", "tenant-ria"), k8s("Namespace", "tenant-tartu-nlp"), k8s("Namespace", "tenant-ghost")]
    found = [(r.ref if r else None, m) for r, m in check_tenant_quota(EE, [*nss, quota("tenant-ria", 2)])]
    assert found == [
        ("Namespace tenant-ghost", "is a tenant namespace with no tenant in the spec (so no GPU quota is granted)"),
        (None, "tenant namespace tenant-tartu-nlp has no ResourceQuota on requests.nvidia.com/gpu"),
    ]
    other = k8s("ResourceQuota", "q", "tenant-ria", spec={"hard": {"requests.cpu": "99"}})
    assert [m for _, m in check_tenant_quota(EE, [nss[0], other])] == [
        "tenant namespace tenant-ria has no ResourceQuota on requests.nvidia.com/gpu"
    ]
    assert list(check_tenant_quota(EE, [k8s("Namespace", "kube-system"), gpu_deploy("kube-system", "d", 8)])) == []


def test_an_autoscaled_workload_counts_at_its_ceiling() -> None:
    hpa = k8s("HorizontalPodAutoscaler", "h", "tenant-ria",
              spec={"scaleTargetRef": {"kind": "Deployment", "name": "d"}, "maxReplicas": 3})
    found = [m for _, m in check_tenant_quota(EE, [hpa, gpu_deploy("tenant-ria", "d", 1)])]
    assert found == ["tenant namespace tenant-ria requests 3 GPUs (Deployment tenant-ria/d), over its quota of 2"]
    other = k8s("HorizontalPodAutoscaler", "h", "tenant-ria",
                spec={"scaleTargetRef": {"kind": "StatefulSet", "name": "d"}, "maxReplicas": 3})
    assert list(check_tenant_quota(EE, [other, gpu_deploy("tenant-ria", "d", 1)])) == []
    no_max = k8s("HorizontalPodAutoscaler", "h", "tenant-ria", spec={"scaleTargetRef": {"kind": "Deployment",
                                                                                        "name": "d"}})
    assert list(check_tenant_quota(EE, [no_max, gpu_deploy("tenant-ria", "d", 2, 5)])) == []


def test_workload_helpers() -> None:
    assert quantity("1500m") == 1.5 and quantity(" 2 ") == 2.0 and quantity(3) == 3.0
    spec = {"containers": [{"resources": {"requests": {"nvidia.com/gpu": 1}, "limits": {"nvidia.com/gpu": 4}}},
                           {"resources": {"limits": {"nvidia.com/gpu": "2"}}}, "junk"],
            "initContainers": [{"resources": {"limits": {"nvidia.com/gpu": 2}}}]}
    assert gpu_per_pod(spec, "nvidia.com/gpu") == 3.0
    spec["initContainers"] = [{"resources": {"limits": {"nvidia.com/gpu": 1}}},
                              {"resources": {"limits": {"nvidia.com/gpu": 5}}}]
    assert gpu_per_pod(spec, "nvidia.com/gpu") == 5.0
    assert gpu_per_pod({}, "nvidia.com/gpu") == 0.0
    for kind, field in (("Deployment", "replicas"), ("StatefulSet", "replicas"), ("ReplicaSet", "replicas"),
                        ("ReplicationController", "replicas"), ("Job", "parallelism")):
        assert replicas(k8s(kind, "w", spec={field: 4})) == 4
        assert replicas(k8s(kind, "w", spec={field: 0})) == 0
        assert replicas(k8s(kind, "w", spec={})) == 1
    assert replicas(k8s("Pod", "w", spec={"replicas": 4})) == 1
    cron = k8s("CronJob", "j", spec={"jobTemplate": {"spec": {"template": {"metadata": {"labels": {"a": 1}},
                                                                            "spec": {"containers": []}}}}})
    assert pod_spec(cron) == {"containers": []} and pod_labels(cron) == {"a": "1"}
    assert pod_spec(k8s("Deployment", "d", spec={"template": "x"})) == {}
    assert pod_spec(k8s("Service", "s")) is None
    assert pod_labels(k8s("Pod", "p")) == {}


def test_default_deny_needs_both_directions_all_pods_and_no_rules() -> None:
    def np(**spec: Any) -> Resource:
        return k8s("NetworkPolicy", "d", "tenant-x", spec=spec)

    both = ["Ingress", "Egress"]
    assert is_default_deny(np(podSelector={}, policyTypes=both))
    assert is_default_deny(np(policyTypes=both))
    assert not is_default_deny(np(podSelector={"matchLabels": {"a": "b"}}, policyTypes=both))
    assert not is_default_deny(np(podSelector={"matchExpressions": [{"key": "a"}]}, policyTypes=both))
    assert not is_default_deny(np(podSelector={}, policyTypes=["Egress"]))
    assert not is_default_deny(np(podSelector={}, policyTypes=both, ingress=[{}]))
    assert not is_default_deny(np(podSelector={}, policyTypes=both, egress=[{}]))
    assert selects_all(None) and selects_all({}) and not selects_all("x") and selects_all({"matchLabels": {}})
    nss = [k8s("Namespace", "a"), k8s("Namespace", "b")]
    deny_a = k8s("NetworkPolicy", "d", "a", spec={"policyTypes": both})
    found = [(r.ref if r else None, m) for r, m in check_default_deny(EE, [*nss, deny_a])]
    assert found == [("Namespace b", "has no default-deny NetworkPolicy (podSelector {}, policyTypes Ingress and "
                      "Egress, no rules)")]
    lb = k8s("Service", "s", "x", spec={"type": "LoadBalancer"})
    assert list(check_load_balancer(EE, lb)) == [
        "is of type LoadBalancer, but the spec does not allow public load balancers"
    ]
    assert list(check_load_balancer(EE, k8s("Service", "s", "x", spec={"type": "NodePort"}))) == []
    assert list(check_load_balancer(EE, k8s("Pod", "s", "x", spec={"type": "LoadBalancer"}))) == []


REPO = "https://charts.ee.sovereign.example/stable"
REG = "registry.ee.sovereign.example"


def release(chart: str = "metrics-server", version: str = "3.12.2", repo: str | None = REPO,
            values: dict[str, Any] | None = None, kind: str = "kubernetes:helm.sh/v3:Release") -> Resource:
    from sitekit.charts import mirror_values

    props: dict[str, Any] = {"chart": chart, "version": version,
                             "values": mirror_values(chart, REG) if values is None else values}
    if repo is not None:
        props["repositoryOpts"] = {"repo": repo}
    return Resource(kind, "r", "urn:r", props)


def test_a_mirrored_pinned_chart_passes_in_every_chart_form() -> None:
    from sitekit.policy.supply_chain import check_charts

    for kind in ("kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v4:Chart", "kubernetes:helm.sh/v3:Chart"):
        assert list(check_charts(EE, release(kind=kind))) == [], kind
    assert list(check_charts(EE, release(kind="kubernetes:core/v1:ConfigMap", repo="https://evil.example"))) == []
    for repo in (REPO + "/", REPO + "/sub", "oci://charts.ee.sovereign.example/x"):
        assert list(check_charts(EE, release(repo=repo))) == [], repo


def test_chart_sources_outside_the_repository_are_named() -> None:
    from sitekit.policy.supply_chain import check_charts

    found = list(check_charts(EE, release(repo="https://charts.ee.sovereign.example.evil.org/stable")))
    assert found == ["chart 'metrics-server' comes from 'https://charts.ee.sovereign.example.evil.org/stable', "
                     f"not from {REPO}"]
    assert list(check_charts(EE, release(repo="https://mirror.example.org/stable"))) == [
        f"chart 'metrics-server' comes from 'https://mirror.example.org/stable', not from {REPO}"
    ]
    unnamed = list(check_charts(EE, release(repo=None)))
    assert unnamed[0] == f"chart 'metrics-server' comes from 'metrics-server', not from {REPO}"
    url_chart = release(chart="https://evil.example/metrics-server-3.12.2.tgz", repo=REPO, values={})
    assert next(iter(check_charts(EE, url_chart))) == (
        "chart 'https://evil.example/metrics-server-3.12.2.tgz' comes from "
        f"'https://evil.example/metrics-server-3.12.2.tgz', not from {REPO}"
    )
    nothing = Resource("kubernetes:helm.sh/v3:Release", "r", "u", {})
    assert list(check_charts(EE, nothing))[:2] == [
        f"chart '' comes from 'an unnamed repository', not from {REPO}",
        "chart '' version '(none)' is not pinned to an exact version",
    ]


def test_chart_version_and_catalogue() -> None:
    from sitekit.policy.supply_chain import check_charts

    for version in ("3.12.2", "v3.12.2", "1.2.3-rc.1", "1.2.3+build"):
        assert not any("pinned" in m for m in check_charts(EE, release(version=version))), version
    for version in ("3.12", "^3.12.2", "3.12.x", ">=3"):
        assert f"chart 'metrics-server' version {version!r} is not pinned to an exact version" in list(
            check_charts(EE, release(version=version))
        )
    assert list(check_charts(EE, release(version="3.12.1"))) == [
        "chart 'metrics-server' version '3.12.1' is not the version sitekit/charts.yaml lists its images for (3.12.2)"
    ]
    assert list(check_charts(EE, release(version="v3.12.2"))) == []
    missing = list(check_charts(EE, release(values={})))
    assert missing and all(m.startswith("chart 'metrics-server': ") for m in missing)


def test_every_image_value_is_checked_at_any_depth() -> None:
    from sitekit.policy.supply_chain import _value_images, check_charts

    values = {"a": [{"image": "x/y"}, {"b": {"repository": "r"}}], "registry": "", "tag": "img/like:1",
              "image": 3}
    assert list(_value_images(values)) == [("values.a[0].image", "x/y"), ("values.a[1].b.repository", "r")]
    bad = release(values={"extra": [{"image": f"{REG}/ok"}, {"image": "quay.io/evil"}]})
    assert [m for m in check_charts(EE, bad) if "points outside" in m] == [
        f"values.extra[1].image 'quay.io/evil' points outside the in-country registry {REG}"
    ]


def test_images_from_the_registry_with_its_port_and_pinned() -> None:
    from sitekit.policy.supply_chain import check_images, registry_names

    digest = "@sha256:" + "a" * 64
    assert registry_names(EE) == {REG}
    assert list(check_images(EE, pod({**container(), "image": f"{REG}/x{digest}"}))) == []
    assert list(check_images(EE, pod({**container(), "image": f"docker.io/x{digest}"}))) == [
        f"containers[0] c: image 'docker.io/x{digest}' is not from the in-country registry {REG}"
    ]
    assert list(check_images(EE, pod({**container(), "image": f"{REG}/x:1"}))) == [
        f"containers[0] c: image '{REG}/x:1' is not pinned by digest (@sha256:…)"
    ]
    assert list(check_images(EE, pod({**container(), "image": f"{REG}/x{digest}0"}))) != []
    assert list(check_images(EE, k8s("Service", "s"))) == []


def test_evaluate_keeps_every_violation_with_policy_and_object() -> None:
    from sitekit.policy import evaluate

    nss = [k8s("Namespace", "tenant-ria"), k8s("Namespace", "tenant-tartu-nlp")]
    lb = k8s("Service", "s", "x", spec={"type": "LoadBalancer"})
    found = [str(v) for v in evaluate(EE, [*nss, lb])]
    assert "[sitekit-no-public-load-balancer] Service x/s: is of type LoadBalancer, but the spec does not allow " \
           "public load balancers" in found
    assert sum(f.startswith("[sitekit-namespace-default-deny] Namespace ") for f in found) == 2
    assert "[sitekit-tenant-gpu-quota] tenant namespace tenant-ria has no ResourceQuota on " \
           "requests.nvidia.com/gpu" in found
    assert sum(f.startswith("[sitekit-namespace-pod-security] Namespace tenant-ria: ") for f in found) == 6


def test_site_for_urn_reads_the_stack_from_any_urn_form(monkeypatch: pytest.MonkeyPatch) -> None:
    from sitekit.policy.pack import _site, site_for_urn

    _site.cache_clear()
    monkeypatch.delenv("SITEKIT_SITES", raising=False)
    assert site_for_urn("urn:pulumi:ee::sitekit::kubernetes:core/v1:Service::s").cc == "ee"
    assert site_for_urn("urn:pulumi:org/proj/ke::sitekit::a::b::c").cc == "ke"
    assert site_for_urn("urn:pulumi:cl::sitekit::x:y:z::n").cc == "cl"
    monkeypatch.setenv("SITEKIT_SITES", str(ROOT / "nowhere"))
    with pytest.raises(Exception, match="nowhere"):
        site_for_urn("urn:pulumi:ee::sitekit::a::b")
    with pytest.raises(Exception):  # noqa: B017 - no stack in the URN: no site
        site_for_urn("bogus")
    _site.cache_clear()


def test_labels_and_names_of_every_workload_kind() -> None:
    from sitekit.policy.workloads import containers

    labelled = {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": []}}
    assert pod_labels(Resource("t", "p", "u", {"kind": "Pod", **labelled})) == {"app": "x"}
    deploy = k8s("Deployment", "d", spec={"template": {"metadata": {"labels": {"app": 2}}, "spec": {}}})
    assert pod_labels(deploy) == {"app": "2"}
    assert list(containers({"containers": [{"image": "i"}]})) == [("containers[0] ?", {"image": "i"})]
    assert gpu_per_pod({"containers": [{"resources": {}}, {}]}, "nvidia.com/gpu") == 0.0


def test_an_allowed_volume_with_every_allowed_kind_passes() -> None:
    every = {"name": "v", **{k: {} for k in ("configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
                                             "persistentVolumeClaim", "projected", "secret")}}
    assert list(check_restricted(EE, pod(container(), volumes=[every]))) == []


def test_quota_in_a_namespace_the_spec_grants_nothing() -> None:
    ghost = [k8s("Namespace", "kube-system"), k8s("Namespace", "tenant-ghost"), quota("tenant-ghost", "1"),
             gpu_deploy("tenant-ghost", "d", 1)]
    found = [m for _, m in check_tenant_quota(EE, ghost)]
    assert found == [
        "is a tenant namespace with no tenant in the spec (so no GPU quota is granted)",
        "requests.nvidia.com/gpu is 1, above the 0 GPUs the spec grants",
        "tenant namespace tenant-ghost requests 1 GPUs (Deployment tenant-ghost/d), over its quota of 0",
    ]


def test_a_bad_except_does_not_hide_the_good_ones_after_it() -> None:
    from sitekit.policy.residency import check_egress

    block = {"cidr": "169.254.0.0/16", "except": ["bad", "fd00::/8", "169.254.169.254/32"]}
    two = EE.model_copy(update={"residency": EE.residency.model_copy(
        update={"address_ranges": (*EE.residency.address_ranges, IPv4Network("169.254.0.0/16"))})})
    policy = k8s("NetworkPolicy", "n", "x", spec={"egress": [{"to": [{"ipBlock": block}]}]})
    assert list(check_egress(two, policy)) == [
        "egress[0].to[0]: ipBlock 169.254.0.0/16 includes the metadata address 169.254.170.2/32 without an except"
    ]
    outside = k8s("NetworkPolicy", "n", "x", spec={"egress": [{"to": [{"ipBlock": {"cidr": "52.0.0.0/8"}}]}]})
    ranges = ", ".join(str(r) for r in two.residency.address_ranges)
    assert ", " in ranges
    assert list(check_egress(two, outside)) == [
        f"egress[0].to[0]: ipBlock 52.0.0.0/8 is outside the country's address ranges ({ranges})"
    ]


def test_a_chart_from_the_repository_host_over_plain_http_is_refused() -> None:
    """Found by mutation testing: the host clause accepted any scheme, so http:// on the in-country host passed."""
    from sitekit.policy.supply_chain import check_charts

    plain = "http://charts.ee.sovereign.example/stable"
    assert list(check_charts(EE, release(repo=plain))) == [
        f"chart 'metrics-server' comes from '{plain}', not from {REPO}"
    ]
    assert list(check_charts(EE, release(repo="oci://charts.ee.sovereign.example/charts"))) == []
    assert list(check_charts(EE, release(repo="https://charts.ee.sovereign.example/other"))) == []


def test_images_without_a_name_and_registries_with_a_port() -> None:
    from sitekit.policy.supply_chain import check_images, image_registry

    nameless = {k: v for k, v in container().items() if k != "image"}
    assert list(check_images(EE, pod(nameless))) == [
        f"containers[0] c: image '' is not from the in-country registry {REG}"
    ]
    assert image_registry("myreg:5000/x/y") == "myreg:5000"
    assert image_registry("localhost/x") == "localhost"
    assert image_registry("a.b/x") == "a.b"
    assert image_registry("user/x") == "docker.io"
    assert image_registry("nginx") == "docker.io"


def test_crossguard_stack_policy_reports_with_and_without_an_object(monkeypatch: pytest.MonkeyPatch) -> None:
    from pulumi_policy import EnforcementLevel

    from sitekit.policy.model import StackPolicy
    from sitekit.policy.pack import _site, crossguard_policies

    _site.cache_clear()
    monkeypatch.delenv("SITEKIT_SITES", raising=False)
    seen: list[tuple[str, str]] = []

    def check(site: Any, resources: Any) -> Any:
        seen.append((site.cc, ",".join(f"{r.type}/{r.name}" for r in resources)))
        yield None, "about the stack"
        yield resources[0], "about one object"

    class Args:
        def __init__(self, *resources: Any) -> None:
            self.resources = resources

    class Res:
        resource_type = "kubernetes:core/v1:Namespace"
        name = "n"
        urn = "urn:pulumi:ke::sitekit::kubernetes:core/v1:Namespace::n"
        props: ClassVar[dict[str, Any]] = {"kind": "Namespace", "metadata": {"name": "tenant-x"}}

    (policy,) = crossguard_policies([StackPolicy("p", "d", check)])
    assert policy.enforcement_level == EnforcementLevel.MANDATORY
    reported: list[tuple[Any, ...]] = []
    policy.validate(Args(Res()), lambda *a: reported.append(a))
    assert seen == [("ke", "kubernetes:core/v1:Namespace/n")]
    assert reported == [("about the stack",), ("Namespace tenant-x: about one object", Res.urn)]
    policy.validate(Args(), lambda *a: reported.append(a))
    assert len(reported) == 2
    (resource_policy,) = crossguard_policies([p for p in POLICIES if p.name == "sitekit-no-public-load-balancer"])
    assert resource_policy.enforcement_level == EnforcementLevel.MANDATORY
    _site.cache_clear()


def test_an_urn_without_a_stack_names_the_empty_stack(monkeypatch: pytest.MonkeyPatch) -> None:
    from sitekit.errors import UserError
    from sitekit.policy.pack import _site, site_for_urn

    _site.cache_clear()
    monkeypatch.delenv("SITEKIT_SITES", raising=False)
    with pytest.raises(UserError, match=r"^no site '' in the fleet"):
        site_for_urn("bogus")
    _site.cache_clear()


def test_the_repository_url_is_quoted_without_its_trailing_slashes() -> None:
    from sitekit.policy.supply_chain import check_charts

    for url, shown in (("https://charts.ee.sovereign.example/stable/", REPO),
                       ("https://charts.ee.sovereign.example/X/", "https://charts.ee.sovereign.example/X")):
        repo = EE.residency.chart_repository.model_copy(update={"url": url})
        site = EE.model_copy(update={"residency": EE.residency.model_copy(update={"chart_repository": repo})})
        assert list(check_charts(site, release(repo="https://elsewhere.example/c"))) == [
            f"chart 'metrics-server' comes from 'https://elsewhere.example/c', not from {shown}"
        ]
    assert list(check_charts(EE, release(repo="/" + REPO))) == [
        f"chart 'metrics-server' comes from '/{REPO}', not from {REPO}"
    ]


def test_objects_without_a_kind_are_named_by_type_and_name(monkeypatch: pytest.MonkeyPatch) -> None:
    from sitekit.policy.model import StackPolicy
    from sitekit.policy.pack import _site, crossguard_policies

    _site.cache_clear()
    monkeypatch.delenv("SITEKIT_SITES", raising=False)

    class Thing:
        resource_type = "random:index/id:RandomId"
        name = "rid"
        urn = "urn:pulumi:ee::sitekit::random:index/id:RandomId::rid"
        props: ClassVar[dict[str, Any]] = {}

    def check(site: Any, resources: Any) -> Any:
        yield resources[0], "flagged"

    class Args:
        resources = (Thing(),)

    (policy,) = crossguard_policies([StackPolicy("p", "d", check)])
    reported: list[tuple[Any, ...]] = []
    policy.validate(Args(), lambda *a: reported.append(a))
    assert reported == [("random:index/id:RandomId rid: flagged", Thing.urn)]
    _site.cache_clear()
