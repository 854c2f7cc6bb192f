"""The log path's firewall check (SK-LOG-004) judges a live ruleset, without a lab: the collector's port
open to exactly the country's other hosts passes, open wider or not at all fails; a client without an
output path to the collector fails; a site without a collector is skipped, never passed."""

from __future__ import annotations

from typing import Any

import hostcheck_fakes as fakes
import pytest
from hostcheck_fakes import Probe, accept_rule, base_chain, host_check_module, match

COLLECTOR = {"name": "ee-cp-1", "address": "10.20.0.11", "port": 6514, "dns_name": "ee-cp-1.ee.sovereign.example"}

LOG = host_check_module("sk_test_logging", "test_logging.py")


class Expect(fakes.Expect):
    def __init__(self, here: bool, collector: dict[str, Any] | None = None) -> None:
        super().__init__(
            {
                "firewall_log_collector": COLLECTOR if collector is None else collector,
                "firewall_log_collector_here": here,
                "firewall_log_sources": ["10.20.0.21", "10.20.0.22"],
                "firewall_log_port": 6514,
            }
        )


def _ruleset(hook: str, *rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = [{"table": {"family": "inet", "name": "sitekit"}}, base_chain(hook)]
    items += [accept_rule(hook, *expr) for expr in rules]
    return items


def _run(items: list[dict[str, Any]], expect: Expect) -> None:
    LOG.test_sk_log_004(Probe(items), expect, lambda o, e=None: None, None)


def test_the_collector_open_to_exactly_the_countrys_hosts_passes() -> None:
    rule = [match("ip", "saddr", {"set": ["10.20.0.21", "10.20.0.22"]}), match("tcp", "dport", 6514)]
    _run(_ruleset("input", rule), Expect(here=True))


def test_the_collector_open_wider_fails_naming_the_source() -> None:
    rule = [match("ip", "saddr", {"prefix": {"addr": "10.20.0.0", "len": 16}}), match("tcp", "dport", 6514)]
    with pytest.raises(AssertionError, match="outside the country's hosts"):
        _run(_ruleset("input", rule), Expect(here=True))


def test_the_collector_closed_fails() -> None:
    with pytest.raises(AssertionError, match="does not accept tcp/6514 at all"):
        _run(_ruleset("input"), Expect(here=True))


def test_a_client_needs_an_output_path_to_the_collector() -> None:
    to_collector = [match("ip", "daddr", {"prefix": {"addr": "10.20.0.11", "len": 32}}), match("tcp", "dport", 6514)]
    _run(_ruleset("output", to_collector), Expect(here=False))
    elsewhere = [match("ip", "daddr", {"prefix": {"addr": "10.20.1.53", "len": 32}}), match("tcp", "dport", 6514)]
    with pytest.raises(AssertionError, match="no output path to the collector"):
        _run(_ruleset("output", elsewhere), Expect(here=False))


def test_without_a_collector_the_check_is_skipped() -> None:
    with pytest.raises(pytest.skip.Exception, match="names no log collector"):
        _run(_ruleset("input"), Expect(here=False, collector={}))
