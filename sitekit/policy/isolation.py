"""Default-deny in every namespace, and no public load balancer unless the spec allows one."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from sitekit.policy.model import Resource
from sitekit.spec import Site

DEFAULT_DENY_POLICY = "sitekit-namespace-default-deny"
LOAD_BALANCER_POLICY = "sitekit-no-public-load-balancer"


def selects_all(selector: Any) -> bool:
    """An empty label selector (`{}` or absent) selects every pod in the namespace."""
    if not selector:
        return True
    return isinstance(selector, Mapping) and not selector.get("matchLabels") and not selector.get("matchExpressions")


def is_default_deny(policy: Resource) -> bool:
    """Selects every pod, covers both directions, and allows nothing."""
    spec = policy.props.get("spec") or {}
    types = set(spec.get("policyTypes") or [])
    return (
        selects_all(spec.get("podSelector"))
        and {"Ingress", "Egress"} <= types
        and not spec.get("ingress")
        and not spec.get("egress")
    )


def check_default_deny(site: Site, resources: Sequence[Resource]) -> Iterator[tuple[Resource | None, str]]:
    """Every declared Namespace has a default-deny NetworkPolicy for ingress and egress."""
    covered = {r.namespace for r in resources if r.kind == "NetworkPolicy" and is_default_deny(r)}
    for ns in resources:
        if ns.kind == "Namespace" and ns.object_name not in covered:
            yield ns, "has no default-deny NetworkPolicy (podSelector {}, policyTypes Ingress and Egress, no rules)"


def check_load_balancer(site: Site, resource: Resource) -> Iterator[str]:
    """A Service of type LoadBalancer only where `network.allow_public_load_balancer` is true."""
    if resource.kind != "Service" or site.network.allow_public_load_balancer:
        return
    if (resource.props.get("spec") or {}).get("type") == "LoadBalancer":
        yield "is of type LoadBalancer, but the spec does not allow public load balancers"
