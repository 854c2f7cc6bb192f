"""sitekit's policies as plain functions: residency, isolation, pod security, supply chain, quotas.

The CrossGuard pack in `policies/` wraps them (`sitekit.policy.pack`), and `sitekit plan` calls them
directly, so the same rules judge a preview and an offline plan. Importing this package starts nothing.
"""

from sitekit.policy.catalogue import POLICIES, evaluate
from sitekit.policy.model import Policy, Resource, ResourcePolicy, StackPolicy, Violation

__all__ = ["POLICIES", "Policy", "Resource", "ResourcePolicy", "StackPolicy", "Violation", "evaluate"]
