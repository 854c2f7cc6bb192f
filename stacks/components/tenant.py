"""Tenant: a national start-up or agency's namespace, GPU quota, access and network isolation.

Groups are bound to a namespaced Role narrower than the built-in `edit`: `edit` may write
NetworkPolicies, ResourceQuotas' neighbours and RoleBindings, which would let a tenant undo its own
isolation. This Role manages workloads and their configuration, and nothing that changes who may talk to
or act in the namespace.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.baseline import default_limit_range
from components.labels import namespace_metadata
from components.network_isolation import NetworkIsolation, NetworkIsolationArgs, workload_destinations
from sitekit.policy.conventions import GPU_QUOTA_KEY, TENANT_PREFIX
from sitekit.spec import Site, Tenant

ROLE_NAME = "tenant-developer"

TENANT_RULES: tuple[dict[str, Any], ...] = (
    {
        "api_groups": [""],
        "resources": [
            "pods",
            "pods/log",
            "services",
            "configmaps",
            "secrets",
            "persistentvolumeclaims",
            "events",
        ],
        "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"],
    },
    {
        "api_groups": ["apps"],
        "resources": ["deployments", "statefulsets", "replicasets"],
        "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"],
    },
    {
        "api_groups": ["batch"],
        "resources": ["jobs", "cronjobs"],
        "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"],
    },
    {
        "api_groups": ["autoscaling"],
        "resources": ["horizontalpodautoscalers"],
        "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"],
    },
    {
        "api_groups": ["policy"],
        "resources": ["poddisruptionbudgets"],
        "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"],
    },
    {
        "api_groups": [""],
        "resources": ["resourcequotas", "limitranges"],
        "verbs": ["get", "list", "watch"],
    },
    {
        "api_groups": ["networking.k8s.io"],
        "resources": ["networkpolicies"],
        "verbs": ["get", "list", "watch"],
    },
)


def tenant_quota(tenant: Tenant) -> dict[str, str]:
    """The tenant's hard limits: GPUs, and everything that could open the site or exhaust it.

    LoadBalancer and NodePort Services are what would publish a tenant's workload outside the cluster,
    so both are bounded (zero unless the spec allows); pods, claims and storage bound what one tenant
    can take from the others.
    """
    return {
        GPU_QUOTA_KEY: str(tenant.gpu_quota),
        "services.loadbalancers": str(tenant.load_balancers),
        "services.nodeports": str(tenant.node_ports),
        "pods": str(tenant.max_pods),
        "persistentvolumeclaims": str(tenant.max_volume_claims),
        "requests.storage": tenant.storage,
    }


def tenant_namespace(tenant: Tenant) -> str:
    """`tenant-<name>`."""
    return f"{TENANT_PREFIX}{tenant.name}"


@dataclass(frozen=True)
class TenantArgs:
    """One tenant from the spec, and the site it lives in."""

    site: Site
    tenant: Tenant


class TenantSpace(pulumi.ComponentResource):
    """Namespace, ResourceQuota (GPUs, publishing Services, pods, storage), LimitRange, RBAC, NetworkIsolation."""

    namespace: str

    def __init__(self, name: str, args: TenantArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("sitekit:tenants:Tenant", name, None, opts)
        site, tenant = args.site, args.tenant
        ns_name = tenant_namespace(tenant)
        self.namespace = ns_name
        ns = k8s.core.v1.Namespace(
            f"{name}-ns",
            metadata=namespace_metadata(ns_name, "tenant", site.cluster.kubernetes_version, tenant=tenant.name),
            opts=pulumi.ResourceOptions(parent=self),
        )
        child = pulumi.ResourceOptions(parent=self, depends_on=[ns])
        k8s.core.v1.ResourceQuota(
            f"{name}-quota",
            metadata={"name": "gpu-quota", "namespace": ns_name},
            spec={"hard": tenant_quota(tenant)},
            opts=child,
        )
        default_limit_range(f"{name}-limits", ns_name, self, ns, max_memory="256Gi")
        role = k8s.rbac.v1.Role(
            f"{name}-role",
            metadata={"name": ROLE_NAME, "namespace": ns_name},
            rules=list(TENANT_RULES),
            opts=child,
        )
        for group in sorted(set(tenant.groups)):
            k8s.rbac.v1.RoleBinding(
                f"{name}-binding-{group}",
                metadata={"name": f"{ROLE_NAME}-{group}", "namespace": ns_name},
                role_ref={"api_group": "rbac.authorization.k8s.io", "kind": "Role", "name": ROLE_NAME},
                subjects=[{"api_group": "rbac.authorization.k8s.io", "kind": "Group", "name": group}],
                opts=pulumi.ResourceOptions(parent=self, depends_on=[ns, role]),
            )
        NetworkIsolation(
            f"{name}-network",
            NetworkIsolationArgs(
                namespace=ns_name,
                role="tenant",
                site=site,
                destinations=workload_destinations(site),
                depends_on=(ns,),
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"namespace": ns_name, "gpu_quota": tenant.gpu_quota})
