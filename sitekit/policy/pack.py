"""Adapting the policy functions to Pulumi CrossGuard (`pulumi preview --policy-pack policies/`).

CrossGuard does not pass the stack's config to a policy, but every URN names its stack, and a stack is
named after its country: the site is loaded from the fleet spec (`$SITEKIT_SITES`, else `<repo>/sites`)
by that name. Building these objects starts nothing; only `PolicyPack(...)` in `policies/__main__.py` does.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from sitekit.paths import repo_root
from sitekit.policy.catalogue import POLICIES
from sitekit.policy.model import Policy, Resource, ResourcePolicy, StackPolicy
from sitekit.spec import Site, load_fleet

PACK_NAME = "sitekit"


@lru_cache(maxsize=8)
def _site(cc: str, sites: str) -> Site:
    return load_fleet(Path(sites)).site(cc)


def site_for_urn(urn: str) -> Site:
    """The site whose stack the URN belongs to (`urn:pulumi:<stack>::<project>::…`)."""
    head = urn.split("::", 1)[0]  # "urn:pulumi:<stack>" (older URNs may carry "<org>/<project>/<stack>")
    stack = head.split(":", 2)[2].rsplit("/", 1)[-1] if head.count(":") >= 2 else ""
    sites = os.environ.get("SITEKIT_SITES") or str(repo_root() / "sites")
    return _site(stack, sites)


def _resource(args: Any) -> Resource:
    return Resource(type=args.resource_type, name=args.name, urn=args.urn, props=dict(args.props))


def _resource_validator(policy: ResourcePolicy) -> Callable[[Any, Callable[..., None]], None]:
    def validate(args: Any, report_violation: Callable[..., None]) -> None:
        resource = _resource(args)
        for message in policy.check(site_for_urn(resource.urn), resource):
            report_violation(f"{resource.ref}: {message}", resource.urn)

    return validate


def _stack_validator(policy: StackPolicy) -> Callable[[Any, Callable[..., None]], None]:
    def validate(args: Any, report_violation: Callable[..., None]) -> None:
        resources = [_resource(r) for r in args.resources]
        if not resources:
            return
        site = site_for_urn(resources[0].urn)
        for resource, message in policy.check(site, resources):
            if resource is None:
                report_violation(message)
            else:
                report_violation(f"{resource.ref}: {message}", resource.urn)

    return validate


def crossguard_policies(policies: Sequence[Policy] = POLICIES) -> list[Any]:
    """`ResourceValidationPolicy`/`StackValidationPolicy` objects, mandatory, one per sitekit policy."""
    from pulumi_policy import EnforcementLevel, ResourceValidationPolicy, StackValidationPolicy

    out: list[Any] = []
    for policy in policies:
        if isinstance(policy, ResourcePolicy):
            out.append(
                ResourceValidationPolicy(
                    name=policy.name,
                    description=policy.description,
                    validate=_resource_validator(policy),
                    enforcement_level=EnforcementLevel.MANDATORY,
                )
            )
        else:
            out.append(
                StackValidationPolicy(
                    name=policy.name,
                    description=policy.description,
                    validate=_stack_validator(policy),
                    enforcement_level=EnforcementLevel.MANDATORY,
                )
            )
    return out
