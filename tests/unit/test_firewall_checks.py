"""The firewall checks judge a live ruleset both ways, without a lab: what the spec opens must be open,
and an extra accepted port, source or protocol (in any table) fails SK-FW-002 naming it."""

from __future__ import annotations

from typing import Any

import hostcheck_fakes as fakes
import pytest
from hostcheck_fakes import Probe, accept_rule, base_chain, host_check_module, match, prefix

OPERATORS = "10.20.250.0/24"
NODE = "10.20.0.0/24"
POD = "10.20.64.0/18"

FW = host_check_module("sk_test_firewall", "test_firewall.py")


VALUES: dict[str, Any] = {
    "firewall_ssh_port": 22,
    "firewall_ssh_sources": [OPERATORS],
    "firewall_node_cidr": NODE,
    "firewall_pod_cidr": POD,
    "firewall_service_cidr": "10.20.128.0/20",
    "firewall_cluster_tcp_ports": ["10250"],
    "firewall_cluster_udp_ports": ["8472"],
    "firewall_cluster_node": True,
    "firewall_egress": [],
    "firewall_log_collector_here": False,
    "firewall_log_sources": ["10.20.0.21", "10.20.0.22"],
    "firewall_log_port": 6514,
    "firewall_log_collector": {"name": "ee-cp-1", "address": "10.20.0.11", "port": 6514},
}


class Expect(fakes.Expect):
    def __init__(self, **over: Any) -> None:
        super().__init__({**VALUES, **over})


def _ruleset(policy: str = "drop", extra: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    ct = {"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": ["established", "related"]}}
    lo = {"match": {"op": "==", "left": {"meta": {"key": "iif"}}, "right": "lo"}}
    return [
        {"table": {"family": "inet", "name": "sitekit"}},
        base_chain("input", policy),
        accept_rule("input", ct),
        accept_rule("input", lo),
        accept_rule("input", match("icmp", "type", {"set": ["destination-unreachable", "time-exceeded"]})),
        accept_rule("input", match("icmp", "type", "echo-request")),
        accept_rule("input", match("ip", "saddr", prefix(OPERATORS)), match("tcp", "dport", 22)),
        accept_rule("input", match("ip", "saddr", {"set": [prefix(NODE), prefix(POD)]}), match("tcp", "dport", 10250)),
        accept_rule("input", match("ip", "saddr", {"set": [prefix(NODE), prefix(POD)]}), match("udp", "dport", 8472)),
        *(extra or []),
    ]


def _run(check: Any, items: list[dict[str, Any]]) -> list[tuple[Any, Any]]:
    seen: list[tuple[Any, Any]] = []
    check(Probe(items), Expect(), lambda o, e=None: seen.append((o, e)), None)
    return seen


def test_the_intended_ruleset_passes_every_inbound_check() -> None:
    for check in (FW.test_sk_fw_002, FW.test_sk_fw_003, FW.test_sk_fw_004):
        _run(check, _ruleset())


@pytest.mark.parametrize(
    "extra,named",
    [
        (accept_rule("input", match("tcp", "dport", 2222)), "tcp dport 2222"),  # an extra port
        (accept_rule("input", match("ip", "saddr", prefix("192.0.2.0/24")), match("tcp", "dport", 22)), "192.0.2.0/24"),
        (accept_rule("input", match("udp", "dport", 53)), "udp dport 53"),  # another protocol
        (accept_rule("input", match("sctp", "dport", 10250)), "sctp"),
        (accept_rule("in", match("tcp", "dport", 3333), table="sk_drift", family="ip"), "3333"),  # another table
    ],
    ids=["port", "source", "udp", "protocol", "foreign-table"],
)
def test_anything_else_accepted_fails_and_is_named(extra: dict[str, Any], named: str) -> None:
    items = _ruleset(extra=[extra])
    if extra["rule"]["table"] == "sk_drift":
        items += [
            {"table": {"family": "ip", "name": "sk_drift"}},
            {
                "chain": {
                    "family": "ip",
                    "table": "sk_drift",
                    "name": "in",
                    "type": "filter",
                    "hook": "input",
                    "prio": -10,
                    "policy": "accept",
                }
            },
        ]
    with pytest.raises(AssertionError, match="beyond what the spec allows") as err:
        _run(FW.test_sk_fw_002, items)
    assert named in str(err.value)


def test_policy_accept_fails_and_the_row_keeps_observed_and_expected() -> None:
    with pytest.raises(AssertionError, match="no input base chain has policy drop"):
        _run(FW.test_sk_fw_002, _ruleset(policy="accept"))
    seen: list[tuple[Any, Any]] = []
    with pytest.raises(AssertionError, match="no input base chain has policy drop"):
        FW.test_sk_fw_004(Probe(_ruleset(policy="accept")), Expect(), lambda o, e=None: seen.append((o, e)), None)
    assert seen and seen[0][0] is not None and seen[0][1] is not None  # recorded before the verdict


LOG_RULE = accept_rule(
    "input",
    match("ip", "saddr", {"set": ["10.20.0.21", "10.20.0.22"]}),
    match("tcp", "dport", 6514),
)


def test_the_log_port_is_explained_on_the_collector_only() -> None:
    items = _ruleset(extra=[LOG_RULE])
    FW.test_sk_fw_002(Probe(items), Expect(firewall_log_collector_here=True), lambda o, e=None: None, None)
    with pytest.raises(AssertionError, match="beyond what the spec allows") as err:
        _run(FW.test_sk_fw_002, items)  # a host that is not the collector: 6514 is one port too many
    assert "6514" in str(err.value)


def test_the_log_port_open_to_a_host_outside_the_country_fails_on_the_collector() -> None:
    wide = accept_rule("input", match("ip", "saddr", prefix("10.20.0.0/24")), match("tcp", "dport", 6514))
    with pytest.raises(AssertionError, match="beyond what the spec allows") as err:
        FW.test_sk_fw_002(
            Probe(_ruleset(extra=[wide])), Expect(firewall_log_collector_here=True), lambda o, e=None: None, None
        )
    assert "10.20.0.0/24" in str(err.value)
