"""The host checks' shared code without a lab: paths through an nftables ruleset, the inventory reader,
expectations from role defaults, and the checks' conftest probe batching."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sitekit.hostchecks.expect import Expectations, MissingExpectation
from sitekit.hostchecks.inventory import hosts_of
from sitekit.hostchecks.nft import Ruleset, new_connection_paths, within_any

ROOT = Path(__file__).resolve().parents[2]


def _rule(chain: str, *expr: dict[str, Any]) -> dict[str, Any]:
    return {"rule": {"family": "inet", "table": "f", "chain": chain, "expr": list(expr)}}


def _m(left: dict[str, Any], right: Any, op: str = "==") -> dict[str, Any]:
    return {"match": {"op": op, "left": left, "right": right}}


TCP_DPORT = {"payload": {"protocol": "tcp", "field": "dport"}}
SADDR = {"payload": {"protocol": "ip", "field": "saddr"}}
DADDR = {"payload": {"protocol": "ip", "field": "daddr"}}
CT = {"ct": {"key": "state"}}
IIF = {"meta": {"key": "iifname"}}
ACCEPT: dict[str, Any] = {"accept": None}


def _ruleset(*rules: dict[str, Any], policy: str = "drop") -> Ruleset:
    items: list[dict[str, Any]] = [
        {
            "chain": {
                "family": "inet",
                "table": "f",
                "name": "input",
                "type": "filter",
                "hook": "input",
                "policy": policy,
            }
        },
        {"chain": {"family": "inet", "table": "f", "name": "ssh_in"}},
        {
            "set": {
                "family": "inet",
                "table": "f",
                "name": "ops",
                "elem": [{"prefix": {"addr": "10.20.250.0", "len": 24}}],
            }
        },
        *rules,
    ]
    return Ruleset(items)


def test_nft_ssh_only_from_operator_networks_through_a_named_set_and_a_jump() -> None:
    rs = _ruleset(
        _rule("input", _m(IIF, "lo"), ACCEPT),
        _rule("input", _m(CT, ["established", "related"], op="in"), ACCEPT),
        _rule("input", _m(TCP_DPORT, 22), {"jump": {"target": "ssh_in"}}),
        _rule("ssh_in", _m(SADDR, "@ops"), ACCEPT),
    )
    (chain,) = rs.base_chains("input")
    paths = new_connection_paths(chain, port=22, proto="tcp")
    assert len(paths) == 1
    assert within_any(paths[0].saddr, ["10.20.250.0/24"])
    assert not within_any(paths[0].saddr, ["10.20.0.0/24"])


def test_nft_an_unrestricted_accept_counts_as_exposure() -> None:
    rs = _ruleset(
        _rule("input", _m(TCP_DPORT, {"set": [22, {"range": [8000, 8100]}]}), ACCEPT),
        _rule("input", _m(SADDR, {"prefix": {"addr": "10.20.0.0", "len": 24}}), _m(TCP_DPORT, 6443), ACCEPT),
    )
    (chain,) = rs.base_chains("input")
    ssh = new_connection_paths(chain, port=22, proto="tcp")
    assert [p.saddr for p in ssh] == [None]  # any source
    api = new_connection_paths(chain, port=6443, proto="tcp")
    assert len(api) == 1 and within_any(api[0].saddr, ["10.20.0.0/24"])
    assert new_connection_paths(chain, port=8050, proto="tcp")
    assert not new_connection_paths(chain, port=8050, proto="udp")


def test_nft_negated_and_unknown_matches_never_narrow_a_path() -> None:
    rs = _ruleset(_rule("input", _m(SADDR, "10.9.9.9", op="!="), _m(TCP_DPORT, 22), ACCEPT))
    (chain,) = rs.base_chains("input")
    (p,) = new_connection_paths(chain, port=22, proto="tcp")
    assert p.saddr is None


def test_nft_output_paths_by_destination() -> None:
    items = [
        {
            "chain": {
                "family": "inet",
                "table": "f",
                "name": "output",
                "type": "filter",
                "hook": "output",
                "policy": "drop",
            }
        },
        _rule("output", _m(DADDR, {"set": [{"prefix": {"addr": "10.20.1.0", "len": 24}}, "10.20.0.5"]}), ACCEPT),
    ]
    items[1]["rule"]["chain"] = "output"
    (chain,) = Ruleset(items).base_chains("output")
    (p,) = new_connection_paths(chain)
    assert within_any(p.daddr, ["10.20.0.0/16"]) and not within_any(p.daddr, ["10.20.1.0/24"])


def test_inventory_hosts_groups_and_limit() -> None:
    data = {
        "_meta": {"hostvars": {"a": {"ansible_host": "10.0.0.1"}, "b": {}, "c": {}}},
        "all": {"children": ["ungrouped", "control_plane", "gpu_workers"]},
        "control_plane": {"hosts": ["a"]},
        "gpu_workers": {"hosts": ["b", "c"]},
    }
    hosts = hosts_of(data)
    assert [h.name for h in hosts] == ["a", "b", "c"]
    assert hosts[0].address == "10.0.0.1" and hosts[0].groups == ("control_plane",)
    assert [h.name for h in hosts_of(data, "gpu_workers")] == ["b", "c"]
    assert [h.name for h in hosts_of(data, "a,c")] == ["a", "c"]


def test_expectations_render_role_defaults_against_inventory_variables(tmp_path: Path) -> None:
    role = tmp_path / "ssh" / "defaults"
    role.mkdir(parents=True)
    (role / "main.yml").write_text(
        "ssh_allow_groups: ['{{ sitekit_operator_group }}']\n"
        "ssh_max_auth_tries: 3\n"
        "ssh_node: \"{{ sitekit_host_role in ['control-plane', 'gpu-worker'] }}\"\n"
    )
    exp = Expectations(
        {"sitekit_operator_group": "ops", "sitekit_host_role": "storage", "ssh_max_auth_tries": 2}, roles_dir=tmp_path
    )
    assert exp.get("ssh_allow_groups") == ["ops"]
    assert exp.get("ssh_max_auth_tries") == 2  # inventory wins over the role default
    assert exp.get("ssh_node") is False
    with pytest.raises(MissingExpectation, match="'ssh_missing'"):
        exp.get("ssh_missing")  # never a silent fallback: the error names the variable


def _host_checks_conftest() -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location("sk_hosts_conftest", ROOT / "tests" / "hosts" / "conftest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(ROOT / "tests" / "hosts"))
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


class _LocalHost:
    """Stands in for a testinfra host: runs the command locally and counts the calls."""

    def __init__(self) -> None:
        self.calls = 0

    def run(self, command: str) -> Any:
        self.calls += 1
        return subprocess.run(command, shell=True, capture_output=True, text=True, check=False)


def test_probe_prefetch_answers_many_commands_in_one_call() -> None:
    conftest = _host_checks_conftest()
    host = _LocalHost()
    probe = conftest.Probe(host)
    cmds = ["echo one", "printf 'a\\nb\\n'", "exit 3", "printf 'no newline'", 'echo "it\'s quoted"']
    probe.prefetch(cmds)
    assert host.calls == 1
    results = [probe.cmd(c) for c in cmds]
    assert host.calls == 1  # all answered from the batch
    assert [(r.rc, r.stdout) for r in results] == [
        (0, "one\n"),
        (0, "a\nb\n"),
        (3, ""),
        (0, "no newline"),
        (0, "it's quoted\n"),
    ]


def test_prefetch_list_holds_the_checks_constant_commands_and_nothing_that_writes() -> None:
    conftest = _host_checks_conftest()
    cmds = conftest.PREFETCH
    assert "nft -j list ruleset" in cmds and "cat /etc/login.defs" in cmds
    assert not [c for c in cmds if " update" in c or c.startswith(("rm ", "mv ", "apt-get install"))]
