"""The verification machinery without a lab: nft analysis, evidence files, the pytest plugin, the
inventory reader, expectations from role defaults, OpenSCAP result parsing and the content fetcher's
isolation from this machine's apt configuration."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from sitekit.hostchecks.expect import Expectations, MissingExpectation
from sitekit.hostchecks.inventory import hosts_of
from sitekit.hostchecks.nft import Ruleset, new_connection_paths, within_any
from sitekit.scan import openscap
from sitekit.scan.content import _apt_options, machine_mirror
from sitekit.verify.evidence import HostEvidence, load_evidence, mismatch, summary_table, write_evidence
from sitekit.verify.runner import needs_sudo, write_ansible_cfg

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


def _evidence(results: list[dict[str, Any]], errors: list[str] | None = None) -> HostEvidence:
    return HostEvidence(
        country="ee",
        host="ee-cp-1",
        inventory="inv",
        catalogue_sha256="x",
        started="2026-01-01T00:00:00+00:00",
        finished="2026-01-01T00:00:05+00:00",
        duration_s=5.0,
        facts={"tier": "container", "os": "Debian GNU/Linux 12"},
        results=results,
        errors=errors or [],
    )


def test_evidence_round_trip_junit_and_summary(tmp_path: Path) -> None:
    ev = _evidence(
        [
            {"control": "SK-SSH-008", "result": "passed", "observed": "no", "expected": "no", "test_id": "a"},
            {"control": "SK-FW-003", "result": "failed", "observed": {"x": 1}, "reason": "SSH open", "test_id": "b"},
            {"control": "SK-AUD-001", "result": "skipped", "reason": "not verifiable on this tier", "test_id": "c"},
        ]
    )
    assert ev.summary == {"passed": 1, "failed": 1, "skipped": 1, "error": 0}
    assert not ev.ok
    jpath, xpath = write_evidence(ev, tmp_path)
    again = load_evidence(jpath)
    assert again.results == ev.results and again.facts == ev.facts
    suite = ET.parse(xpath).getroot().find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("3", "1", "1")
    cases = {c.get("classname"): c for c in suite.iter("testcase")}
    assert cases["SK-FW-003"].find("failure") is not None
    assert cases["SK-AUD-001"].find("skipped") is not None
    observed = cases["SK-SSH-008"].find("properties/property[@name='observed']")
    assert observed is not None and observed.get("value") == "no"
    table = summary_table([ev])
    assert "SK-FW-003" in table and "SSH open" in table


def test_evidence_all_skipped_or_run_error_is_not_ok() -> None:
    assert not _evidence([], errors=["ssh: connect to host refused"]).ok
    assert not _evidence([]).ok  # nothing verified at all
    assert _evidence([{"control": "SK-AUD-001", "result": "skipped", "reason": "tier"}]).ok


def test_plugin_records_rows_properties_and_reasons(tmp_path: Path) -> None:
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "test_x.py").write_text(
        textwrap.dedent("""
        import pytest
        def test_pass(record_property):
            record_property("control", "SK-A-001")
            record_property("observed", {"v": 1})
        def test_fail(record_property):
            record_property("control", "SK-A-002")
            assert 1 == 2, "value differs"
        def test_bare(record_property):
            record_property("control", "SK-A-004")
            seen = {"passwordauthentication": "yes", "kbdinteractiveauthentication": "no"}
            want = {"passwordauthentication": "no", "kbdinteractiveauthentication": "no"}
            record_property("observed", seen)
            record_property("expected", want)
            assert seen == want
        def test_skip(record_property):
            record_property("control", "SK-A-003")
            pytest.skip("not verifiable on this tier")
    """)
    )
    out = tmp_path / "raw.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(suite),
            "-p",
            "sitekit.verify.plugin",
            "-q",
            "-p",
            "no:cacheprovider",
            "--sitekit-evidence",
            str(out),
            "-o",
            "addopts=",
            "--rootdir",
            str(suite),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    rows = {r["control"]: r for r in json.loads(out.read_text())["rows"]}
    assert rows["SK-A-001"]["result"] == "passed" and rows["SK-A-001"]["observed"] == {"v": 1}
    assert rows["SK-A-002"]["result"] == "failed" and "value differs" in rows["SK-A-002"]["reason"]
    assert rows["SK-A-003"]["result"] == "skipped" and rows["SK-A-003"]["reason"] == "not verifiable on this tier"
    # A bare assert's shortened reprs are replaced by what differs, in full (issue 11).
    assert rows["SK-A-004"]["reason"] == (
        "observed differs from expected: passwordauthentication: observed yes, expected no"
    ), rows["SK-A-004"]["reason"]


def test_mismatch_is_readable_and_cut_between_items() -> None:
    assert mismatch({"a": "yes", "b": "no"}, {"a": "no", "b": "no"}) == "a: observed yes, expected no"
    assert mismatch(None, None) == ""
    assert mismatch("alias", "masked") == "observed: alias; expected: masked"
    big = {f"key{i:02}": "x" * 20 for i in range(40)}
    text = mismatch(big, "an input base chain with policy drop")
    assert "more}" in text and '"key00": "xxxxxxxxxxxxxxxxxxxx"' in text
    for cut in text.split(", "):
        assert cut.count('"') % 2 == 0, cut  # never cut inside a key or a value


def test_summary_shows_observed_and_expected() -> None:
    ev = _evidence(
        [
            {
                "control": "SK-FW-004",
                "result": "failed",
                "reason": "no input base chain has policy drop",
                "observed": {"paths": {}},
                "expected": {"tcp": [10250]},
                "test_id": "x",
            }
        ]
    )
    table = summary_table([ev])
    assert 'observed: {"paths": {}}; expected: {"tcp": [10250]}' in table, table


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


def test_sudo_only_for_a_non_root_login_without_become() -> None:
    from sitekit.hostchecks.inventory import InventoryHost

    assert needs_sudo(InventoryHost("h", {"ansible_user": "ansible"}))
    assert not needs_sudo(InventoryHost("h", {"ansible_user": "root"}))
    assert not needs_sudo(InventoryHost("h", {"ansible_user": "ansible", "ansible_become": True}))


def test_run_config_keeps_the_operators_settings_and_adds_a_private_control_path(tmp_path: Path) -> None:
    cfg = write_ansible_cfg(tmp_path, ROOT)
    text = cfg.read_text()
    assert "control_path = %(directory)s/%%C" in text
    assert f"control_path_dir = {tmp_path / 'cp'}" in text
    if (ROOT / "ansible.cfg").is_file():
        assert "roles_path" in text


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


RESULTS = """<?xml version="1.0"?>
<Benchmark xmlns="http://checklists.nist.gov/xccdf/1.2"><TestResult>
<rule-result idref="xccdf_org.ssgproject.content_rule_sysctl_net_ipv4_ip_forward"><result>fail</result></rule-result>
<rule-result idref="xccdf_org.ssgproject.content_rule_sshd_disable_root_login"><result>pass</result></rule-result>
<rule-result idref="xccdf_org.ssgproject.content_rule_grub2_audit_argument"><result>notapplicable</result></rule-result>
<rule-result idref="xccdf_org.ssgproject.content_rule_service_auditd_enabled"><result>fail</result></rule-result>
<rule-result idref="xccdf_org.ssgproject.content_rule_x"><result>notselected</result></rule-result>
<score system="urn:xccdf:scoring:default" maximum="100">61.5</score>
</TestResult></Benchmark>"""


def test_openscap_counts_ratio_and_reasons(tmp_path: Path) -> None:
    res = tmp_path / "r.xml"
    res.write_text(RESULTS)
    accepted = {
        "sysctl_net_ipv4_ip_forward": {"kind": "deviation", "control": "SK-SYS-003", "reason": "pods route"},
        "service_auditd_enabled": {"kind": "tier", "tiers": ["container"], "reason": "no audit in a container"},
    }
    r = openscap.summarise("h", "anssi_bp28_enhanced", "container", res, res, accepted, "t", 1.0)
    assert (r.counts["pass"], r.counts["fail"], r.counts["notapplicable"]) == (1, 2, 1)
    assert "notselected" not in r.counts
    assert r.score == 61.5 and abs(r.ratio - 1 / 3) < 1e-9
    assert not r.unexplained
    vm = openscap.summarise("h", "p", "vm", res, res, accepted, "t", 1.0)
    assert [f["rule"] for f in vm.unexplained] == ["service_auditd_enabled"]
    assert "UNEXPLAINED" in openscap.render_summary(vm)


def test_accepted_openscap_failures_name_catalogued_controls() -> None:
    from sitekit.controls import controls_by_id

    by_id = controls_by_id()
    for rule, entry in openscap.load_accepted().items():
        assert entry.get("reason"), f"{rule}: no reason"
        assert entry.get("kind") in ("deviation", "tier", "plan", "content"), f"{rule}: kind {entry.get('kind')}"
        if entry["kind"] == "deviation":
            control = by_id.get(str(entry.get("control")))
            assert control is not None and control.deviation is not None, f"{rule}: not a catalogued deviation"


def test_content_fetch_uses_its_own_apt_folders_only(tmp_path: Path) -> None:
    opts = " ".join(_apt_options(tmp_path))
    for key in ("Dir::Etc::SourceList", "Dir::Etc::SourceParts", "Dir::State::Lists", "Dir::Cache"):
        assert f"{key}={tmp_path}" in opts
    etc = tmp_path / "etc"
    (etc / "sources.list.d").mkdir(parents=True)
    (etc / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm\n\n"
        "Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\n"
    )
    assert machine_mirror(etc) == "http://mirror.example/debian"


@pytest.mark.parametrize("argv", [["verify", "--help"], ["scan", "--help"], ["report", "--help"]])
def test_commands_are_registered(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    from sitekit.cli import main

    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 0
    assert "usage: sitekit" in capsys.readouterr().out


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
