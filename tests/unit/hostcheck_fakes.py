"""Shared by the unit tests that run a host check (tests/hosts) in-process, without a lab: the check module
itself, a stand-in for its `expect` and `probe` fixtures, and builders of the JSON `nft -j list ruleset`
gives, so each test writes the live ruleset it judges."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

HOSTS = Path(__file__).resolve().parents[1] / "hosts"


def host_check_module(name: str, filename: str) -> ModuleType:
    """`tests/hosts/<filename>` loaded as module `name` (registered in sys.modules, as pytest would)."""
    sys.path.insert(0, str(HOSTS))
    try:
        spec = importlib.util.spec_from_file_location(name, HOSTS / filename)
        assert spec and spec.loader
        mod = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = mod
        spec.loader.exec_module(mod)
        return mod
    finally:
        sys.path.remove(str(HOSTS))


class Expect:
    """The `expect` fixture over fixed values: a name the test did not give fails with KeyError."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values

    def get(self, name: str) -> Any:
        return self.values[name]


class Probe:
    """The `probe` fixture as far as the nft checks use it: the live ruleset's items."""

    def __init__(self, items: list[dict[str, Any]]) -> None:
        self.items = items

    def nft(self) -> list[dict[str, Any]]:
        return self.items


class CommandTable:
    """The `probe` fixture of a fake host: the first key of `answers` found in a command gives its (rc, stdout);
    a command the table does not know fails the test."""

    def __init__(self, answers: dict[str, tuple[int, str]]) -> None:
        self.answers = answers

    def cmd(self, command: str) -> SimpleNamespace:
        for key, (rc, out) in self.answers.items():
            if key in command:
                return SimpleNamespace(rc=rc, stdout=out)
        raise AssertionError(f"unexpected command {command!r}")

    run = cmd

    def out(self, command: str) -> str:
        return str(self.cmd(command).stdout)

    def cat(self, path: str) -> str | None:
        r = self.cmd(f"cat {path}")
        return str(r.stdout) if r.rc == 0 else None


def match(proto: str, field: str, right: Any) -> dict[str, Any]:
    """`<proto> <field> == <right>`, e.g. match("tcp", "dport", 22)."""
    return {"match": {"op": "==", "left": {"payload": {"protocol": proto, "field": field}}, "right": right}}


def prefix(net: str) -> dict[str, Any]:
    """A CIDR as nft's JSON writes it."""
    addr, length = net.split("/")
    return {"prefix": {"addr": addr, "len": int(length)}}


def accept_rule(chain: str, *expr: dict[str, Any], table: str = "sitekit", family: str = "inet") -> dict[str, Any]:
    """One rule of `chain` that accepts what its expressions match."""
    return {"rule": {"family": family, "table": table, "chain": chain, "expr": [*expr, {"accept": None}]}}


def base_chain(hook: str, policy: str = "drop", table: str = "sitekit", family: str = "inet") -> dict[str, Any]:
    """A filter base chain named after its hook."""
    return {
        "chain": {
            "family": family,
            "table": table,
            "name": hook,
            "type": "filter",
            "hook": hook,
            "prio": 0,
            "policy": policy,
        }
    }
