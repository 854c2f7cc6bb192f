"""Every sitekit policy, and evaluating them over a list of resources (what `sitekit plan` does)."""

from __future__ import annotations

from collections.abc import Sequence

from sitekit.policy import isolation, pod_security, quotas, residency, supply_chain
from sitekit.policy.model import Policy, Resource, ResourcePolicy, StackPolicy, Violation
from sitekit.spec import Site

POLICIES: tuple[Policy, ...] = (
    ResourcePolicy(
        supply_chain.IMAGES_POLICY,
        "Images only from the in-country registry, pinned by digest",
        supply_chain.check_images,
    ),
    ResourcePolicy(
        supply_chain.CHARTS_POLICY,
        "Charts only from the in-country chart repository, pinned",
        supply_chain.check_charts,
    ),
    ResourcePolicy(
        residency.EGRESS_POLICY, "Egress only to in-country ranges, never to metadata addresses", residency.check_egress
    ),
    StackPolicy(
        isolation.DEFAULT_DENY_POLICY, "Every namespace has a default-deny NetworkPolicy", isolation.check_default_deny
    ),
    ResourcePolicy(
        pod_security.RESTRICTED_POLICY,
        "Workloads outside the GPU operator meet Pod Security restricted",
        pod_security.check_restricted,
    ),
    ResourcePolicy(
        pod_security.NAMESPACE_POLICY,
        "Namespaces enforce restricted; the one exemption is documented",
        pod_security.check_namespace_labels,
    ),
    ResourcePolicy(
        isolation.LOAD_BALANCER_POLICY,
        "No LoadBalancer Service unless the spec allows it",
        isolation.check_load_balancer,
    ),
    StackPolicy(
        quotas.QUOTA_POLICY, "Tenant GPU quotas and requests within what the spec grants", quotas.check_tenant_quota
    ),
)


def evaluate(site: Site, resources: Sequence[Resource], policies: Sequence[Policy] = POLICIES) -> list[Violation]:
    """Run every policy; violations come back in policy order, then resource order."""
    found: list[Violation] = []
    for policy in policies:
        if isinstance(policy, ResourcePolicy):
            for resource in resources:
                found += [Violation(policy.name, msg, resource) for msg in policy.check(site, resource)]
        else:
            found += [Violation(policy.name, msg, res) for res, msg in policy.check(site, resources)]
    return found
