"""`sitekit verify` without a lab: evidence files, the pytest plugin's rows, readable mismatches, the
runner's sudo and SSH settings, and the three commands' registration."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from verify_suite import write_suite

from sitekit.hostchecks.inventory import InventoryHost
from sitekit.verify.evidence import HostEvidence, load_evidence, mismatch, summary_table, write_evidence
from sitekit.verify.runner import needs_sudo, write_ansible_cfg

ROOT = Path(__file__).resolve().parents[2]


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


# `sitekit.report.plugin` is the name the plugin had before `sitekit verify` got its own package; users'
# commands (`pytest tests/hosts -p sitekit.report.plugin ...`) must keep working through it.
@pytest.mark.parametrize("plugin", ["sitekit.verify.plugin", "sitekit.report.plugin"])
def test_plugin_records_rows_properties_and_reasons(plugin: str, tmp_path: Path) -> None:
    suite = write_suite(tmp_path / "suite")
    out = tmp_path / "raw.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(suite),
            "-p",
            plugin,
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
    rows = {r["control"]: r for r in json.loads(out.read_text())["rows"] if "control" in r}
    deprecated = "sitekit.report.plugin is deprecated; use `-p sitekit.verify.plugin`" in proc.stdout
    assert deprecated == (plugin == "sitekit.report.plugin"), proc.stdout
    assert rows["SK-A-001"]["result"] == "passed" and rows["SK-A-001"]["observed"] == {"v": 1}
    assert rows["SK-A-002"]["result"] == "failed" and "value differs" in rows["SK-A-002"]["reason"]
    assert rows["SK-A-004"]["result"] == "skipped" and rows["SK-A-004"]["reason"] == "no GPU on this host"
    # A bare assert's shortened reprs are replaced by what differs, in full (issue 11).
    assert rows["SK-A-003"]["reason"] == (
        "observed differs from expected: passwordauthentication: observed yes, expected no"
    ), rows["SK-A-003"]["reason"]


def test_old_plugin_name_is_the_same_plugin_and_warns() -> None:
    import importlib

    new = importlib.import_module("sitekit.verify.plugin")
    sys.modules.pop("sitekit.report.plugin", None)
    with pytest.warns(DeprecationWarning, match="use `-p sitekit.verify.plugin`"):
        old = importlib.import_module("sitekit.report.plugin")
    hooks = [name for name in dir(new) if name.startswith("pytest_")]
    assert len(hooks) == 6
    assert [getattr(old, name) for name in hooks] == [getattr(new, name) for name in hooks]
    assert old.FACTS is new.FACTS  # the host checks' conftest stores facts under this key


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


def test_sudo_only_for_a_non_root_login_without_become() -> None:
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


@pytest.mark.parametrize("argv", [["verify", "--help"], ["scan", "--help"], ["report", "--help"]])
def test_commands_are_registered(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    from sitekit.cli import main

    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 0
    assert "usage: sitekit" in capsys.readouterr().out


def test_a_catalogued_control_without_any_result_is_an_error_never_green(tmp_path: Path) -> None:
    from sitekit.hostchecks.catalogue import load_controls
    from sitekit.verify.runner import VerifyOptions, _add_unchecked

    controls = load_controls()
    first, rest = controls[0], controls[1:]
    opts = VerifyOptions(country="ee", inventory=tmp_path, out_dir=tmp_path, tests_dir=tmp_path / "hosts")
    ev = _evidence([{"control": first.id, "result": "passed", "test_id": "t::a"}])
    _add_unchecked(opts, ev)
    assert not ev.ok
    assert ev.results[0] == {"control": first.id, "result": "passed", "test_id": "t::a"}
    assert ev.results[1:] == [
        {
            "control": c.id,
            "title": c.title,
            "check": c.check,
            "test_id": "",
            "result": "error",
            "reason": f"no check ran for this control (check {c.check!r} not found in {tmp_path / 'hosts'})",
            "time": ev.finished,
            "duration_s": 0.0,
        }
        for c in rest
    ]
    everything = _evidence([{"control": c.id, "result": "passed"} for c in controls])
    _add_unchecked(opts, everything)
    assert len(everything.results) == len(controls) and everything.ok
