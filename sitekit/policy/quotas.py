"""Tenants' GPU requests stay within the quota the spec grants them.

The ResourceQuota makes the API server refuse pods over quota at run time; this check refuses a plan that
declares more than the spec grants, before anything is deployed, and catches a quota raised by hand.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence

from sitekit.policy.conventions import GPU_QUOTA_KEY, GPU_RESOURCE, TENANT_PREFIX
from sitekit.policy.model import Resource
from sitekit.policy.workloads import gpu_per_pod, pod_spec, quantity, replicas
from sitekit.spec import Site

QUOTA_POLICY = "sitekit-tenant-gpu-quota"


def _max_replicas(resources: Sequence[Resource]) -> dict[tuple[str, str, str], int]:
    """HPA ceilings by (namespace, kind, name) of their target: an autoscaled workload can grow to them."""
    out: dict[tuple[str, str, str], int] = {}
    for hpa in resources:
        if hpa.kind == "HorizontalPodAutoscaler":
            spec = hpa.props.get("spec") or {}
            target = spec.get("scaleTargetRef") or {}
            out[(hpa.namespace, str(target.get("kind")), str(target.get("name")))] = int(spec.get("maxReplicas") or 1)
    return out


def check_tenant_quota(site: Site, resources: Sequence[Resource]) -> Iterator[tuple[Resource | None, str]]:
    """Per tenant namespace: a GPU quota no larger than the spec's, and declared workloads that fit in it."""
    granted = {f"{TENANT_PREFIX}{t.name}": t.gpu_quota for t in site.tenants}
    ceilings = _max_replicas(resources)
    quota_seen: set[str] = set()
    demand: dict[str, float] = defaultdict(float)
    demanders: dict[str, list[Resource]] = defaultdict(list)
    for r in resources:
        ns = r.namespace if r.kind != "Namespace" else r.object_name
        if not ns.startswith(TENANT_PREFIX):
            continue
        if r.kind == "Namespace" and ns not in granted:
            yield r, "is a tenant namespace with no tenant in the spec (so no GPU quota is granted)"
        if r.kind == "ResourceQuota":
            hard = (r.props.get("spec") or {}).get("hard") or {}
            if GPU_QUOTA_KEY in hard:
                quota_seen.add(ns)
                value = quantity(hard[GPU_QUOTA_KEY])
                if value > granted.get(ns, 0):
                    yield r, f"{GPU_QUOTA_KEY} is {value:g}, above the {granted.get(ns, 0)} GPUs the spec grants"
        spec = pod_spec(r)
        if spec is not None:
            pods = ceilings.get((ns, r.kind, r.object_name), replicas(r))
            gpus = gpu_per_pod(spec, GPU_RESOURCE) * pods
            if gpus:
                demand[ns] += gpus
                demanders[ns].append(r)
    for ns in sorted(granted):
        if any(r.kind == "Namespace" and r.object_name == ns for r in resources) and ns not in quota_seen:
            yield None, f"tenant namespace {ns} has no ResourceQuota on {GPU_QUOTA_KEY}"
    for ns in sorted(demand):
        if demand[ns] > granted.get(ns, 0):
            names = ", ".join(r.ref for r in demanders[ns])
            yield (
                demanders[ns][-1],
                (
                    f"tenant namespace {ns} requests {demand[ns]:g} GPUs ({names}), "
                    f"over its quota of {granted.get(ns, 0)}"
                ),
            )
