"""Baseline: the site's own namespaces, labelled for Pod Security, with default resource limits."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.labels import NamespaceRole, namespace_metadata


@dataclass(frozen=True)
class NamespaceSpec:
    """One namespace the baseline declares. `privileged_reason` marks the documented exemption."""

    name: str
    role: NamespaceRole
    privileged_reason: str | None = None
    default_limits: bool = True


@dataclass(frozen=True)
class BaselineArgs:
    """The namespaces to declare and the Kubernetes version their Pod Security labels pin."""

    namespaces: tuple[NamespaceSpec, ...]
    kubernetes_version: str


class Baseline(pulumi.ComponentResource):
    """System, ingress and serving namespaces (tenants declare their own), each with a default LimitRange.

    A LimitRange gives containers that forget `resources` a request and a memory ceiling, so one
    careless pod cannot starve a node that also serves models.
    """

    namespaces: dict[str, k8s.core.v1.Namespace]

    def __init__(self, name: str, args: BaselineArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("sitekit:baseline:Baseline", name, None, opts)
        self.namespaces = {}
        for spec in args.namespaces:
            ns = k8s.core.v1.Namespace(
                f"{name}-ns-{spec.name}",
                metadata=namespace_metadata(
                    spec.name, spec.role, args.kubernetes_version, privileged_reason=spec.privileged_reason
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.namespaces[spec.name] = ns
            if spec.default_limits:
                default_limit_range(f"{name}-limits-{spec.name}", spec.name, self, ns)
        self.register_outputs({"namespaces": sorted(self.namespaces)})


def default_limit_range(
    name: str, namespace: str, parent: pulumi.Resource, depends_on: pulumi.Resource, *, max_memory: str = "512Gi"
) -> k8s.core.v1.LimitRange:
    """A LimitRange with modest defaults and a per-container memory ceiling."""
    return k8s.core.v1.LimitRange(
        name,
        metadata={"name": "default-limits", "namespace": namespace},
        spec={
            "limits": [
                {
                    "type": "Container",
                    "default": {"cpu": "1", "memory": "1Gi"},
                    "default_request": {"cpu": "100m", "memory": "256Mi"},
                    "max": {"memory": max_memory},
                }
            ]
        },
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[depends_on]),
    )
