"""The plan's admission model: each rule refuses what the Kubernetes documentation says the API server refuses.

Every negative case names the page its expected outcome was taken from. The positive direction (the demo
countries pass with the model on) is in `test_plan_demo.py`; the lab's real API server checks the same
cases in `tests/lab/test_cluster_lab.py`.
"""

from __future__ import annotations

import copy
from fractions import Fraction
from typing import Any

import pytest

from sitekit.plan.admission import admit
from sitekit.plan.quantity import QuantityError, parse


def ns(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def limit_range(namespace: str, **item: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "LimitRange",
        "metadata": {"name": "default-limits", "namespace": namespace},
        "spec": {"limits": [{"type": "Container", **item}]},
    }


def quota(namespace: str, hard: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": "quota", "namespace": namespace},
        "spec": {"hard": hard},
    }


def deployment(
    namespace: str = "apps",
    name: str = "web",
    *,
    requests: dict[str, str] | None = None,
    limits: dict[str, str] | None = None,
    replicas: int | None = 1,
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    resources: dict[str, Any] = {}
    if requests is not None:
        resources["requests"] = requests
    if limits is not None:
        resources["limits"] = limits
    spec: dict[str, Any] = {
        "selector": {"matchLabels": {"app": name}},
        "template": {
            "metadata": {"labels": labels or {"app": name}},
            "spec": {
                "containers": [{"name": "main", "image": "r.example/a@sha256:" + "a" * 64, "resources": resources}]
            },
        },
    }
    if replicas is not None:
        spec["replicas"] = replicas
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def hpa(namespace: str, target: str, max_replicas: int) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": target, "namespace": namespace},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
            "minReplicas": 1,
            "maxReplicas": max_replicas,
        },
    }


def failures(*objects: dict[str, Any], nodes: int = 3) -> list[str]:
    return [str(f) for f in admit(list(objects), [], nodes).failures]


# --- quantities ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("4", Fraction(4)),
        ("100m", Fraction(1, 10)),
        ("1Gi", Fraction(2**30)),
        ("1.5", Fraction(3, 2)),
        ("1e3", Fraction(1000)),
        ("2k", Fraction(2000)),
    ],
)
def test_quantities_parse_exactly(text: str, value: Fraction) -> None:
    assert parse(text) == value


@pytest.mark.parametrize("text", ["", "1Gb", "four", "1..2", "--1"])
def test_bad_quantities_are_refused(text: str) -> None:
    with pytest.raises(QuantityError):
        parse(text)


# --- LimitRanger (https://kubernetes.io/docs/concepts/policy/limit-range/) -----------------------------------


def test_limitranger_default_limit_below_request_is_refused() -> None:
    # "If you set a request that is larger than the default limit ... the Pod will not be scheduled" —
    # the docs' example (Pod with request 700m, LimitRange default limit 500m) is refused:
    # "must be less than or equal to cpu limit".
    out = failures(ns("apps"), limit_range("apps", default={"cpu": "500m"}), deployment(requests={"cpu": "700m"}))
    assert out == [
        "[admission:LimitRanger] Deployment apps/web: containers[0] main: cpu request "
        "700m exceeds the defaulted limit 500m"
    ]


def test_limitranger_fills_defaults_that_then_fit() -> None:
    objs = [ns("apps"), limit_range("apps", default={"cpu": "1"}, defaultRequest={"cpu": "100m"}), deployment()]
    assert failures(*objs) == []


def test_limit_set_request_defaults_to_limit_not_to_default_request() -> None:
    # API defaulting copies a container's limit into its missing request before LimitRanger runs, so a
    # defaultRequest above the limit does not apply (limit-range page: "only limit specified").
    objs = [ns("apps"), limit_range("apps", defaultRequest={"cpu": "2"}), deployment(limits={"cpu": "1"})]
    assert failures(*objs) == []


def test_limitranger_max_refuses_larger_limit_and_missing_limit() -> None:
    # Docs (limit-range, "Constraints on resource limits and requests"): a container above `max` is refused,
    # and with a `max` set and no default, a container without a limit is refused.
    big = failures(ns("apps"), limit_range("apps", max={"memory": "1Gi"}), deployment(limits={"memory": "2Gi"}))
    assert big == [
        "[admission:LimitRanger] Deployment apps/web: containers[0] main: memory limit "
        "2Gi exceeds the LimitRange maximum 1Gi"
    ]
    none = failures(ns("apps"), limit_range("apps", max={"memory": "1Gi"}), deployment())
    assert "maximum memory usage is 1Gi but no limit is specified" in none[0]


def test_limitranger_min_and_ratio() -> None:
    low = failures(
        ns("apps"), limit_range("apps", min={"cpu": "200m"}), deployment(requests={"cpu": "100m"}, limits={"cpu": "1"})
    )
    assert "below the LimitRange minimum 200m" in low[0]
    ratio = failures(
        ns("apps"),
        limit_range("apps", maxLimitRequestRatio={"cpu": "2"}),
        deployment(requests={"cpu": "100m"}, limits={"cpu": "1"}),
    )
    assert "limit to request ratio 10 exceeds 2" in ratio[0]


def test_request_above_own_limit_is_a_validation_error() -> None:
    # Pod validation (resource-management page): "the request ... must be less than or equal to the limit".
    out = failures(ns("apps"), deployment(requests={"cpu": "2"}, limits={"cpu": "1"}))
    assert out == ["[admission:validation] Deployment apps/web: containers[0] main: cpu request 2 exceeds its limit 1"]


# --- ResourceQuota (https://kubernetes.io/docs/concepts/policy/resource-quotas/) -----------------------------


def test_quota_counts_workloads_at_the_autoscaler_ceiling() -> None:
    objs = [
        ns("apps"),
        quota("apps", {"requests.nvidia.com/gpu": "2"}),
        deployment(requests={"nvidia.com/gpu": "1"}, limits={"nvidia.com/gpu": "1"}),
    ]
    assert failures(*objs) == []
    scaled = [*objs, hpa("apps", "web", 3)]
    out = failures(*scaled)
    assert out == [
        "[admission:ResourceQuota] ResourceQuota apps/quota: requests.nvidia.com/gpu: the namespace's objects "
        "need 3 at "
        "their maximum replicas, above the hard limit 2"
    ]


def test_quota_tracking_compute_requires_every_pod_to_name_it() -> None:
    # Docs: "If quota is enabled in a namespace for compute resources like cpu and memory, users must
    # specify requests or limits for those values; otherwise, the quota system may reject pod creation."
    out = failures(ns("apps"), quota("apps", {"limits.memory": "10Gi"}), deployment(requests={"memory": "1Gi"}))
    assert out == [
        "[admission:ResourceQuota] Deployment apps/web: containers[0] main: must specify "
        "limits.memory (tracked by ResourceQuota apps/quota)"
    ]


def test_quota_object_counts_include_what_the_control_plane_creates() -> None:
    # Every namespace gets the `kube-root-ca.crt` ConfigMap, which counts against `configmaps`.
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "apps"}, "data": {}}
    assert failures(ns("apps"), quota("apps", {"configmaps": "2"}), cm) == []
    out = failures(ns("apps"), quota("apps", {"configmaps": "1"}), cm)
    assert "configmaps: the namespace's objects need 2" in out[0]


def test_quota_bounds_load_balancers_and_node_ports() -> None:
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "pub", "namespace": "apps"},
        "spec": {"type": "LoadBalancer", "ports": [{"name": "http", "port": 80}, {"name": "https", "port": 443}]},
    }
    out = failures(ns("apps"), quota("apps", {"services.loadbalancers": "0", "services.nodeports": "1"}), svc)
    assert any("services.loadbalancers" in f for f in out)
    assert any("services.nodeports: the namespace's objects need 2" in f for f in out)


# --- NamespaceLifecycle (admission-controllers page, #namespacelifecycle) ------------------------------------


def test_object_in_undeclared_namespace_is_refused() -> None:
    out = failures(deployment("nowhere"))
    assert out == [
        "[admission:NamespaceLifecycle] Deployment nowhere/web: namespace 'nowhere' not "
        "found (the stack does not declare it)"
    ]
    assert failures(deployment("kube-system")) == []


# --- names, labels and sizes (names page, labels page, configmap and secret pages) ---------------------------


def test_service_names_are_dns1035_labels() -> None:
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "1llama-et", "namespace": "apps"},
        "spec": {"ports": [{"port": 80}]},
    }
    out = failures(ns("apps"), svc)
    assert out and out[0].startswith(
        "[admission:names] Service apps/1llama-et: name '1llama-et' must be a DNS-1035 label"
    )


def test_namespace_names_are_dns1123_labels_of_at_most_63() -> None:
    out = failures(ns("tenant-" + "a" * 60))
    assert out and "must be a DNS-1123 label" in out[0]
    assert failures(ns("tenant-" + "a" * 56)) == []


def test_label_values_are_checked_in_metadata_templates_and_selectors() -> None:
    bad = deployment(labels={"app": "web", "tier": "x" * 64})
    out = failures(ns("apps"), bad)
    assert any("spec.template.metadata.labels" in f and "at most 63" in f for f in out)
    sel = copy.deepcopy(deployment())
    sel["spec"]["template"]["spec"]["nodeSelector"] = {"nvidia.com/gpu.product": "-bad-"}
    assert any("nodeSelector" in f for f in failures(ns("apps"), sel))


def test_configmap_over_one_mebibyte_is_refused() -> None:
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "big", "namespace": "apps"},
        "data": {"a": "x" * (1024 * 1024 + 1)},
    }
    out = failures(ns("apps"), cm)
    assert out and out[0].startswith(
        "[admission:size] ConfigMap apps/big: data is 1048577 bytes, more than the ConfigMap limit"
    )
    # ValidateConfigMap counts the values' bytes, not the keys: exactly 1 MiB of values is admitted
    cm["data"] = {"a": "x" * (1024 * 1024)}
    assert failures(ns("apps"), cm) == []


def test_annotations_over_256_kib_are_refused() -> None:
    obj = deployment()
    obj["metadata"]["annotations"] = {"example.com/note": "x" * (256 * 1024)}
    out = failures(ns("apps"), obj)
    assert any(f.startswith("[admission:annotations] Deployment apps/web: metadata.annotations total") for f in out)


def test_container_port_names_are_iana_service_names() -> None:
    obj = deployment()
    obj["spec"]["template"]["spec"]["containers"][0]["ports"] = [{"name": "much-too-long-port", "containerPort": 80}]
    out = failures(ns("apps"), obj)
    assert any("must be an IANA service name" in f for f in out)


def test_tenant_quota_refuses_a_tenant_node_port() -> None:
    hard = {"services.loadbalancers": "0", "services.nodeports": "0", "pods": "100"}
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "public", "namespace": "tenant-ria"},
        "spec": {"type": "NodePort", "ports": [{"port": 80}]},
    }
    out = failures(ns("tenant-ria"), quota("tenant-ria", hard), svc)
    assert out == [
        "[admission:ResourceQuota] ResourceQuota tenant-ria/quota: services.nodeports: the namespace's objects need 1 "
        "at their maximum replicas, above the hard limit 0"
    ]


@pytest.mark.parametrize("kind", ["DaemonSet", "Job", "CronJob", "StatefulSet"])
def test_every_pod_creating_kind_goes_through_limitranger(kind: str) -> None:
    """LimitRanger judges the pods of any workload, not only of Deployments (limit-range page)."""
    obj = deployment(requests={"cpu": "2"})
    obj["kind"] = kind
    obj["apiVersion"] = "batch/v1" if kind in ("Job", "CronJob") else "apps/v1"
    if kind == "CronJob":
        obj["spec"] = {"schedule": "@daily", "jobTemplate": {"spec": {"template": obj["spec"]["template"]}}}
    out = failures(ns("apps"), limit_range("apps", default={"cpu": "1"}), obj)
    assert out == [
        f"[admission:LimitRanger] {kind} apps/web: containers[0] main: cpu request 2 exceeds the defaulted limit 1"
    ]
