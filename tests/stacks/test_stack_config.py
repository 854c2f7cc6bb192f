"""The stack's config gate, every result path: valid, invalid, stale, failing the checks, wrong stack,
and the offline-plan switch outside the mocks (issue 15). Called directly with a stand-in for
`pulumi.Config`, so each case costs microseconds and names exactly what it refuses."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sitekit.spec import Fleet, site_digest


class Config:
    """What `site_from_config` reads from `pulumi.Config("sitekit")`."""

    def __init__(self, site: Any, digest: str, offline: bool | None = None) -> None:
        self.values = {"site": site, "specDigest": digest, "offlinePlan": offline}

    def require_object(self, key: str) -> Any:
        return self.values[key]

    def require(self, key: str) -> str:
        return str(self.values[key])

    def get_bool(self, key: str) -> bool | None:
        value = self.values[key]
        return value if value is None else bool(value)


@pytest.fixture(scope="module")
def stack_config() -> Iterator[Any]:
    """The module, loaded from its file under its path name `stacks.components.stack_config` (it imports
    nothing from `components`), so mutmut can tell which of its functions a test calls."""
    path = Path(__file__).resolve().parents[2] / "stacks" / "components" / "stack_config.py"
    spec = importlib.util.spec_from_file_location("stacks.components.stack_config", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    yield module


def raw(fleet: Fleet) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(fleet.site("ee").model_dump_json())
    return data


def test_a_rendered_site_is_read_back(stack_config: Any, fleet: Fleet) -> None:
    ee = fleet.site("ee")
    assert stack_config.site_from_config(Config(raw(fleet), site_digest(ee)), "ee") == ee


def test_invalid_config_names_every_key(stack_config: Any, fleet: Fleet) -> None:
    data = raw(fleet)
    data["network"]["node_cidr"] = "10.20.0.0/33"
    data["keys"]["threshold"] = 0
    with pytest.raises(stack_config.StackConfigError) as info:
        stack_config.site_from_config(Config(data, "x"), "ee")
    text = str(info.value)
    assert text.startswith("invalid stack config: sitekit:site.network.node_cidr: ")
    assert "; sitekit:site.keys.threshold: Input should be greater than or equal to 1" in text
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_a_stale_digest_is_refused(stack_config: Any, fleet: Fleet) -> None:
    ee = fleet.site("ee")
    digest = site_digest(ee)
    with pytest.raises(stack_config.StackConfigError) as info:
        stack_config.site_from_config(Config(raw(fleet), "f" * 64), "ee")
    assert str(info.value) == (
        f"stale render: sitekit:specDigest is {'f' * 12}… but sitekit:site hashes to {digest[:12]}…; "
        "run `sitekit render ee` instead of editing Pulumi.ee.yaml"
    )


def test_a_site_failing_the_checks_is_refused_with_every_problem(stack_config: Any, fleet: Fleet) -> None:
    data = raw(fleet)
    data["keys"]["threshold"] = 5
    data["tenants"][0]["gpu_quota"] = 99
    site = fleet.site("ee").model_validate(data)
    with pytest.raises(stack_config.StackConfigError) as info:
        stack_config.site_from_config(Config(data, site_digest(site)), "ee")
    assert str(info.value) == (
        "the site fails the fleet spec's checks: sitekit:site.tenants: tenant GPU quotas add up to 101, above the "
        "10 GPUs the site's hosts provide; sitekit:site.keys.threshold: threshold M=5 is above the number of "
        "custodians N=3"
    )


def test_the_wrong_stack_is_refused(stack_config: Any, fleet: Fleet) -> None:
    with pytest.raises(stack_config.StackConfigError) as info:
        stack_config.site_from_config(Config(raw(fleet), site_digest(fleet.site("ee"))), "ke")
    assert str(info.value) == "stack 'ke' holds the config of country 'ee'; select stack 'ee'"


@pytest.mark.parametrize(("offline", "mocked", "result"), [
    (None, False, False), (False, False, False), (True, True, True), (None, True, False), (True, False, "refused"),
])
def test_offline_plan_only_under_mocks(
    stack_config: Any, fleet: Fleet, monkeypatch: pytest.MonkeyPatch, offline: bool | None, mocked: bool,
    result: bool | str,
) -> None:
    ee = fleet.site("ee")
    config = Config(raw(fleet), site_digest(ee), offline)
    monkeypatch.setattr(stack_config.pulumi, "Config", lambda name: config if name == "sitekit" else None)
    monkeypatch.setattr(stack_config.pulumi, "get_stack", lambda: "ee")
    monkeypatch.setattr(stack_config, "under_mocks", lambda: mocked)
    if result == "refused":
        with pytest.raises(stack_config.StackConfigError) as info:
            stack_config.read_site()
        assert str(info.value) == (
            "sitekit:offlinePlan is set: it is only for `sitekit plan`; remove it from the stack"
        )
    else:
        assert stack_config.read_site() == (ee, result)


def test_under_mocks_tells_the_mock_monitor_from_none(stack_config: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from pulumi.runtime.mocks import MockMonitor, Mocks
    from pulumi.runtime.settings import SETTINGS

    class Nothing(Mocks):
        def new_resource(self, args: Any) -> tuple[str, dict[str, Any]]:
            return "id", {}

        def call(self, args: Any) -> tuple[dict[str, Any], list[tuple[str, str]]]:
            return {}, []

    monkeypatch.setattr(SETTINGS, "monitor", None)
    assert stack_config.under_mocks() is False
    monkeypatch.setattr(SETTINGS, "monitor", MockMonitor(Nothing()))
    assert stack_config.under_mocks() is True
