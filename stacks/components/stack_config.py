"""Reading and checking the stack's configuration before any resource is declared."""

from __future__ import annotations

from typing import Any

import pulumi
from pydantic import ValidationError

from sitekit.spec import Site, site_digest
from sitekit.spec.checks import check_site


class StackConfigError(Exception):
    """The stack configuration is invalid or stale; the message says which key and what to run."""


def site_from_config(config: Any, stack: str) -> Site:
    """The `sitekit:site` object, validated with the spec models and checked against `sitekit:specDigest`.

    A digest mismatch means `Pulumi.<cc>.yaml` was edited by hand or rendered from another spec: refuse it
    rather than deploy something no reviewed spec describes.
    """
    raw = config.require_object("site")
    try:
        site = Site.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"sitekit:site.{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise StackConfigError(f"invalid stack config: {problems}") from None
    expected = config.require("specDigest")
    actual = site_digest(site)
    if actual != expected:
        raise StackConfigError(
            f"stale render: sitekit:specDigest is {expected[:12]}… but sitekit:site hashes to {actual[:12]}…; "
            f"run `sitekit render {site.cc}` instead of editing Pulumi.{site.cc}.yaml"
        )
    problems = check_site(site)
    if problems:
        listed = "; ".join(f"sitekit:site.{path}: {reason}" for path, reason in problems)
        raise StackConfigError(f"the site fails the fleet spec's checks: {listed}")
    if stack != site.cc:
        raise StackConfigError(f"stack {stack!r} holds the config of country {site.cc!r}; select stack {site.cc!r}")
    return site


def under_mocks() -> bool:
    """True when the program runs under Pulumi's mocks (`sitekit plan`, tests), never under the engine."""
    from pulumi.runtime.mocks import MockMonitor
    from pulumi.runtime.settings import SETTINGS

    return isinstance(getattr(SETTINGS, "monitor", None), MockMonitor)


def read_site() -> tuple[Site, bool]:
    """The validated site, and whether this run is `sitekit plan` (offline, mocked).

    `sitekit:offlinePlan` lets TLS fall back to placeholders and the provider go uncontacted; a stack file
    that sets it under the real engine is refused, so a hand edit cannot turn those shortcuts on.
    """
    config = pulumi.Config("sitekit")
    site = site_from_config(config, pulumi.get_stack())
    offline = bool(config.get_bool("offlinePlan"))
    if offline and not under_mocks():
        raise StackConfigError("sitekit:offlinePlan is set: it is only for `sitekit plan`; remove it from the stack")
    return site, offline
