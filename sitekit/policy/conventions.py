"""Names and labels the stack program and the policies must agree on.

The stack declares namespaces and labels; the policies and the plan's reachability analysis recognise them.
Keeping them in one module means a rename cannot silently turn a policy into a no-op.
"""

from __future__ import annotations

from ipaddress import IPv4Network
from typing import Final

GPU_OPERATOR_NAMESPACE: Final = "gpu-operator"
"""The one namespace exempt from Pod Security `restricted`: the operator's driver and toolkit pods need
host access (kernel modules, device nodes), which no other namespace is allowed."""

INGRESS_NAMESPACE: Final = "sitekit-ingress"
"""Where the in-country ingress controller runs; the only namespace allowed into the serving namespace."""

SERVING_NAMESPACE: Final = "sitekit-serving"
"""Where the country's model catalog is served."""

METRICS_NAMESPACE: Final = "sitekit-metrics"
"""Where metrics-server runs: the resource-metrics API the model autoscalers read."""

TENANT_PREFIX: Final = "tenant-"
"""A tenant's namespace is `tenant-<name>`."""

DNS_NAMESPACE: Final = "kube-system"
DNS_POD_LABELS: Final = {"k8s-app": "kube-dns"}

ROLE_LABEL: Final = "sitekit.io/namespace-role"
"""Namespace label: system, ingress, serving or tenant. Network policies select namespaces by it."""

TENANT_LABEL: Final = "sitekit.io/tenant"
EXEMPTION_ANNOTATION: Final = "sitekit.io/pod-security-exemption"
"""Annotation on the exempt namespace that says why it is exempt (the documented exemption)."""

NAMESPACE_NAME_LABEL: Final = "kubernetes.io/metadata.name"
"""Set by the API server on every namespace (immutable), so selecting by it cannot be spoofed by tenants."""

GPU_RESOURCE: Final = "nvidia.com/gpu"
GPU_QUOTA_KEY: Final = f"requests.{GPU_RESOURCE}"

METADATA_NETWORKS: Final = (
    IPv4Network("169.254.169.254/32"),  # AWS, GCP, Azure, OpenStack instance metadata
    IPv4Network("169.254.170.2/32"),  # AWS ECS task metadata
    IPv4Network("100.100.100.200/32"),  # Alibaba Cloud metadata
)
"""Cloud metadata addresses no workload may reach, even if a declared range happened to contain one."""

PSS_LEVEL_LABELS: Final = tuple(f"pod-security.kubernetes.io/{mode}" for mode in ("enforce", "audit", "warn"))
