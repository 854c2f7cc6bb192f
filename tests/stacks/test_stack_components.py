"""Each component on its own, under mocks: what it declares and the properties that matter."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from stackhelpers import objects, one, with_changes

from sitekit.plan.program import Recording
from sitekit.spec import Fleet

Declare = Callable[..., Recording]


def test_baseline_labels_namespaces_restricted_except_gpu_operator(declare: Declare) -> None:
    from components.baseline import Baseline, BaselineArgs, NamespaceSpec

    rec = declare(
        lambda: Baseline(
            "b",
            BaselineArgs(
                namespaces=(
                    NamespaceSpec("gpu-operator", "system", "needs host access", default_limits=False),
                    NamespaceSpec("sitekit-serving", "serving"),
                ),
                kubernetes_version="1.30",
            ),
        )
    )
    serving = one(rec, "Namespace", "sitekit-serving")["metadata"]["labels"]
    for mode in ("enforce", "audit", "warn"):
        assert serving[f"pod-security.kubernetes.io/{mode}"] == "restricted"
        assert serving[f"pod-security.kubernetes.io/{mode}-version"] == "v1.30"
    gpu = one(rec, "Namespace", "gpu-operator")["metadata"]
    assert gpu["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"
    assert gpu["annotations"]["sitekit.io/pod-security-exemption"] == "needs host access"
    assert [r.props["metadata"]["namespace"] for r in objects(rec, "LimitRange")] == ["sitekit-serving"]
    component = next(r for r in rec.resources if r.type == "sitekit:baseline:Baseline")
    assert component.name == "b"


def test_network_isolation_default_deny_dns_and_metadata_carved_out(declare: Declare, fleet: Fleet) -> None:
    from ipaddress import IPv4Network

    from components.network_isolation import Destination, NetworkIsolation, NetworkIsolationArgs

    site = fleet.site("ee")
    wide = Destination("wide", IPv4Network("169.254.0.0/16"), (443,))
    rec = declare(
        lambda: NetworkIsolation(
            "n", NetworkIsolationArgs(namespace="tenant-x", role="tenant", site=site, destinations=(wide,))
        )
    )
    deny = one(rec, "NetworkPolicy", "default-deny")["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    dns = one(rec, "NetworkPolicy", "allow-dns")["spec"]["egress"][0]
    assert {p["protocol"] for p in dns["ports"]} == {"UDP", "TCP"}
    egress = one(rec, "NetworkPolicy", "allow-in-country-egress")["spec"]["egress"][0]
    carved = ["169.254.169.254/32", "169.254.170.2/32"]
    assert egress["to"][0]["ipBlock"] == {"cidr": "169.254.0.0/16", "except": carved}
    assert all(r.props["metadata"]["namespace"] == "tenant-x" for r in objects(rec, "NetworkPolicy"))


def test_gpu_operator_chart_from_country_repo_with_sharing(declare: Declare, fleet: Fleet) -> None:
    from components.gpu_operator import GpuOperator, GpuOperatorArgs

    site = fleet.site("ee")
    rec = declare(lambda: GpuOperator("g", GpuOperatorArgs(site=site, namespace="gpu-operator")))
    release = next(r.props for r in rec.resources if r.type == "kubernetes:helm.sh/v3:Release")
    assert release["repositoryOpts"]["repo"] == site.residency.chart_repository.url
    assert release["version"] == site.cluster.gpu_operator_version
    assert release["values"]["driver"]["repository"].startswith(site.residency.container_registry.host + "/")
    assert release["values"]["mig"]["strategy"] == "none"
    config = one(rec, "ConfigMap", "device-plugin-config")["data"]
    assert set(config) == {"default", "time-slicing-4"}
    assert "replicas: 4" in config["time-slicing-4"]


def test_gpu_operator_mig(declare: Declare, fleet: Fleet) -> None:
    from components.gpu_operator import GpuOperator, GpuOperatorArgs, node_labels

    site = fleet.site("ke")
    rec = declare(lambda: GpuOperator("g", GpuOperatorArgs(site=site, namespace="gpu-operator")), stack="ke")
    release = next(r.props for r in rec.resources if r.type == "kubernetes:helm.sh/v3:Release")
    assert release["values"]["mig"]["strategy"] == "single"
    assert release["values"]["migManager"]["enabled"] is True
    assert node_labels(site)["ke-gpu-1"]["nvidia.com/mig.config"] == "all-1g.10gb"


def test_model_serving_deployment_is_restricted_and_gpu_scheduled(declare: Declare, fleet: Fleet) -> None:
    from components.model_serving import ModelServing, ModelServingArgs

    site = fleet.site("ke")
    model = site.models[1]
    rec = declare(
        lambda: ModelServing(
            "m", ModelServingArgs(site=site, model=model, namespace="sitekit-serving", tls_secret_name="ingress-tls")
        ),
        stack="ke",
    )
    pod = one(rec, "Deployment")["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    terms = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    # ke's H100s: ke-gpu-1 is MIG-partitioned (single strategy), ke-gpu-2 whole; GFD spells both.
    assert terms == [
        {
            "matchExpressions": [
                {
                    "key": "nvidia.com/gpu.product",
                    "operator": "In",
                    "values": ["NVIDIA-H100-SXM5-80GB", "NVIDIA-H100-SXM5-80GB-MIG-1g.10gb"],
                }
            ]
        }
    ]
    assert pod["tolerations"][0]["key"] == "nvidia.com/gpu"
    (container,) = pod["containers"]
    assert container["image"] == model.image
    res = container["resources"]
    assert res["requests"] == res["limits"], "Guaranteed QoS: the LimitRange default must never fill a limit in"
    assert res["requests"]["nvidia.com/gpu"] == str(model.gpus_per_replica)
    ctx = container["securityContext"]
    assert ctx == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert container["startupProbe"]["httpGet"]["path"] == "/health"
    assert container["startupProbe"]["periodSeconds"] * container["startupProbe"]["failureThreshold"] >= 1800
    hpa = one(rec, "HorizontalPodAutoscaler")["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (model.min_replicas, model.max_replicas)
    assert hpa["metrics"] == [
        {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "AverageValue", "averageValue": "800m"}}}
    ], "scale on a metric the site serves (metrics-server), not on one nothing deploys"
    assert "replicas" not in one(rec, "Deployment")["spec"], "the autoscaler owns replicas; pulumi up must not fight it"
    ingress = one(rec, "Ingress")["spec"]
    assert ingress["tls"] == [{"hosts": [f"{model.name}.{site.network.ingress_domain}"], "secretName": "ingress-tls"}]
    assert ingress["ingressClassName"] == site.cluster.ingress_class
    locale = one(rec, "ConfigMap")["data"]
    assert locale["SITEKIT_SYSTEM_PROMPT_LANGUAGE"] == model.locale.system_prompt_language
    assert not [r for r in rec.resources if r.props.get("kind") == "PodDisruptionBudget"], (
        "a one-replica model gets no disruption budget: it would protect nothing"
    )
    assert one(rec, "Service")["spec"]["type"] == "ClusterIP"


def test_model_with_two_replicas_gets_a_budget_and_fixed_replicas_without_an_autoscaler(
    declare: Declare, fleet: Fleet
) -> None:
    from components.model_serving import ModelServing, ModelServingArgs

    site = fleet.site("ee")
    model = site.models[0].model_copy(update={"min_replicas": 2, "max_replicas": 2})
    rec = declare(
        lambda: ModelServing(
            "m", ModelServingArgs(site=site, model=model, namespace="sitekit-serving", tls_secret_name="ingress-tls")
        )
    )
    assert one(rec, "PodDisruptionBudget")["spec"]["maxUnavailable"] == 1
    assert one(rec, "Deployment")["spec"]["replicas"] == 2
    assert not [r for r in rec.resources if r.props.get("kind") == "HorizontalPodAutoscaler"]
    pod = one(rec, "Deployment")["spec"]["template"]["spec"]
    values = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0][
        "matchExpressions"
    ][0]["values"]
    assert values == ["NVIDIA-L40S", "NVIDIA-L40S-SHARED"], "ee-gpu-1 is time-sliced (GFD adds -SHARED), ee-gpu-2 not"


def test_ingress_tls_refuses_without_pki_outside_plan(
    declare: Declare, fleet: Fleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    from components.ingress_tls import IngressTls, IngressTlsArgs, IngressTlsUnavailable

    import sitekit.pki

    def missing(site: Any, names: Any) -> tuple[str, str]:
        raise RuntimeError("no key hierarchy for ee: run sitekit keys init ee")

    monkeypatch.setattr(sitekit.pki, "ingress_tls", missing)
    site = fleet.site("ee")
    with pytest.raises(IngressTlsUnavailable, match="keys init"):
        declare(lambda: IngressTls("t", IngressTlsArgs(site=site, namespace="s", hosts=("a.example",))))
    rec = declare(
        lambda: IngressTls("t", IngressTlsArgs(site=site, namespace="s", hosts=("a.example",), allow_placeholder=True))
    )
    secret = next(r for r in rec.resources if r.props.get("kind") == "Secret")
    assert ("stringData",) in secret.secret_paths
    assert secret.props["stringData"]["tls.key"].startswith("UNAVAILABLE")
    assert any("placeholder" in w for w in rec.warnings)


def test_ingress_tls_wraps_issued_material_as_secrets(
    declare: Declare, fleet: Fleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    from components.ingress_tls import IngressTls, IngressTlsArgs

    import sitekit.pki

    monkeypatch.setattr(sitekit.pki, "ingress_tls", lambda site, names: ("CHAIN", "KEY"))
    site = fleet.site("ee")
    rec = declare(lambda: IngressTls("t", IngressTlsArgs(site=site, namespace="s", hosts=("a.example",))))
    secret = next(r for r in rec.resources if r.props.get("kind") == "Secret")
    assert secret.props["stringData"] == {"tls.crt": "CHAIN", "tls.key": "KEY"}
    assert secret.secret_paths == (("stringData",),)
    assert not rec.warnings


def test_tenant_quota_role_and_bindings(declare: Declare, fleet: Fleet) -> None:
    from components.tenant import TenantArgs, TenantSpace

    site = fleet.site("ke")
    tenant = site.tenants[1]
    rec = declare(lambda: TenantSpace("t", TenantArgs(site=site, tenant=tenant)), stack="ke")
    ns = f"tenant-{tenant.name}"
    assert one(rec, "Namespace")["metadata"]["labels"]["sitekit.io/tenant"] == tenant.name
    assert one(rec, "ResourceQuota")["spec"]["hard"] == {
        "requests.nvidia.com/gpu": str(tenant.gpu_quota),
        # a tenant cannot publish the site: no LoadBalancer and no NodePort unless the spec allows
        "services.loadbalancers": "0",
        "services.nodeports": "0",
        "pods": "100",
        "persistentvolumeclaims": "20",
        "requests.storage": "1Ti",
    }
    rules = one(rec, "Role")["rules"]
    writable = {res for rule in rules if "create" in rule["verbs"] for res in rule["resources"]}
    assert not writable & {"networkpolicies", "resourcequotas", "limitranges", "rolebindings", "roles"}
    binding = one(rec, "RoleBinding")
    assert binding["subjects"] == [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": tenant.groups[0]}]
    assert binding["roleRef"]["kind"] == "Role"
    assert {r.props["metadata"]["namespace"] for r in objects(rec, "NetworkPolicy")} == {ns}


def test_children_are_parented_and_named_from_the_component(declare: Declare, fleet: Fleet) -> None:
    from components.site import SovereignSite, SovereignSiteArgs

    site = fleet.site("ee")
    rec = declare(lambda: SovereignSite("site-ee", SovereignSiteArgs(site=site, offline_plan=True)))
    assert all(r.name.startswith("site-ee") for r in rec.resources), [r.name for r in rec.resources]
    assert len({(r.type, r.name) for r in rec.resources}) == len(rec.resources)


def test_extra_egress_destination_is_allowed_for_tenants(declare: Declare, fleet: Fleet) -> None:
    from components.tenant import TenantArgs, TenantSpace

    site = with_changes(
        fleet.site("ee"),
        residency={
            **fleet.site("ee").residency.model_dump(mode="json"),
            "extra_egress": [{"name": "s3", "cidr": "10.20.5.0/24", "ports": [443]}],
        },
    )
    rec = declare(lambda: TenantSpace("t", TenantArgs(site=site, tenant=site.tenants[0])))
    egress = one(rec, "NetworkPolicy", "allow-in-country-egress")["spec"]["egress"]
    assert egress == [{"to": [{"ipBlock": {"cidr": "10.20.5.0/24"}}], "ports": [{"protocol": "TCP", "port": 443}]}]


def test_ingress_and_serving_namespaces_open_only_the_model_ports(declare: Declare, fleet: Fleet) -> None:
    from components.network_isolation import NetworkIsolation, NetworkIsolationArgs

    site = fleet.site("ke")

    def build() -> None:
        for ns, role in (("sitekit-ingress", "ingress"), ("sitekit-serving", "serving")):
            NetworkIsolation(
                ns,
                NetworkIsolationArgs(
                    namespace=ns, role=role, site=site, serving_ports=(8000,), needs_api_server=role == "ingress"
                ),
            )

    rec = declare(build, stack="ke")
    clients = one(rec, "NetworkPolicy", "allow-clients-in-country")["spec"]["ingress"][0]
    assert [p["ipBlock"]["cidr"] for p in clients["from"]] == ["10.30.0.0/16", "172.20.0.0/20"]
    to_serving = one(rec, "NetworkPolicy", "allow-to-serving")["spec"]["egress"][0]
    assert to_serving["ports"] == [{"protocol": "TCP", "port": 8000}]
    from_ingress = one(rec, "NetworkPolicy", "allow-from-ingress")["spec"]["ingress"][0]
    assert from_ingress["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "sitekit-ingress"}}}
    ]
    api = one(rec, "NetworkPolicy", "allow-in-country-egress")["spec"]["egress"]
    assert [e["to"][0]["ipBlock"]["cidr"] for e in api] == ["10.30.0.11/32", "10.30.0.12/32"]
