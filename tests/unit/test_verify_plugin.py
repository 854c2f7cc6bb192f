"""The pytest plugin of `sitekit verify` (`sitekit/verify/plugin.py`) run on real little check files with
pytest's own `pytester`, in this process: every way a check can end (pass, fail, skip in a fixture or in
the body, error in setup or teardown, xfail, no result at all) judged by the exact row it leaves in the
raw evidence, plus the payload around the rows (facts, run errors, exit status, times)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from verify_suite import write_suite

from sitekit.verify import plugin
from sitekit.verify.evidence import HostEvidence

pytest_plugins = ["pytester"]

ISO_SECOND = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$")


def _run(pytester: pytest.Pytester, *args: str, evidence: Path | None) -> pytest.RunResult:
    opts = ["-p", "sitekit.verify.plugin", "-p", "no:randomly", "-p", "no:cacheprovider"]
    if evidence is not None:
        opts += ["--sitekit-evidence", str(evidence)]
    return pytester.runpytest(*opts, *args)


@pytest.fixture
def checks(pytester: pytest.Pytester) -> tuple[pytest.RunResult, dict[str, Any], str]:
    write_suite(pytester.path)
    out = pytester.path / "evidence" / "raw" / "rows.json"  # neither folder exists yet
    result = _run(pytester, evidence=out)
    text = out.read_text()
    return result, json.loads(text), text


def _rows(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for row in data["rows"]:
        assert ISO_SECOND.match(row.pop("time")), row
        rows[row["test_id"].removeprefix("test_checks.py::")] = row
    return rows


def _row(name: str, result: str, reason: str, duration: float = 0.75, **props: Any) -> dict[str, Any]:
    return {"test_id": f"test_checks.py::{name}", "result": result, "reason": reason, "duration_s": duration, **props}


def test_every_result_path_leaves_its_exact_row(checks: tuple[pytest.RunResult, dict[str, Any], str]) -> None:
    _, data, _ = checks
    rows = _rows(data)
    assert rows == {
        "test_pass": _row("test_pass", "passed", "", control="SK-A-001", observed={"v": 1}),
        "test_fail_with_message": _row(
            "test_fail_with_message", "failed", "AssertionError: value differs\nassert 1 == 2", control="SK-A-002"
        ),
        # pytest's shortened reprs of a bare assert are replaced by what differs, in full (issue 11)
        "test_bare_assert": _row(
            "test_bare_assert",
            "failed",
            "observed differs from expected: passwordauthentication: observed yes, expected no",
            control="SK-A-003",
            observed={"passwordauthentication": "yes", "kbdinteractiveauthentication": "no"},
            expected={"passwordauthentication": "no", "kbdinteractiveauthentication": "no"},
        ),
        "test_bare_assert_without_values": _row("test_bare_assert_without_values", "failed", "assert 1 == 2"),
        "test_bare_assert_only_expected": _row(
            "test_bare_assert_only_expected", "failed", "observed differs from expected: expected: no", expected="no"
        ),
        "test_bare_assert_only_observed": _row(
            "test_bare_assert_only_observed", "failed", "observed differs from expected: observed: yes", observed="yes"
        ),
        "test_bare_assert_with_nothing_to_compare": _row(
            "test_bare_assert_with_nothing_to_compare", "failed", "assert 1 == 2", observed=None
        ),
        "test_raises": _row("test_raises", "failed", "ValueError: bad value"),
        # a skip never passes, wherever it is raised; it stops in setup, so only setup and teardown count
        "test_skip_in_fixture": _row("test_skip_in_fixture", "skipped", "not verifiable on this tier", 0.5),
        "test_skip_mark": _row("test_skip_mark", "skipped", "out of scope for this role", 0.5),
        "test_skip_in_body": _row("test_skip_in_body", "skipped", "no GPU on this host", control="SK-A-004"),
        # an error outside the check's body is an error, not a failure of the control
        "test_error_in_setup": _row("test_error_in_setup", "error", "RuntimeError: ssh: connection refused", 0.5),
        "test_unreachable": _row("test_unreachable", "error", "Failed: host unreachable: timed out", 0.5),
        "test_error_in_teardown": _row("test_error_in_teardown", "error", "RuntimeError: cleanup failed"),
        "test_fail_then_error_in_teardown": _row(
            "test_fail_then_error_in_teardown", "error", "RuntimeError: cleanup failed"
        ),
        "test_skip_in_teardown": _row("test_skip_in_teardown", "passed", ""),
        "test_no_such_fixture": _row("test_no_such_fixture", "error", "fixture 'nosuch' not found", 0.5),
        # the plugin has no xfail of its own: an expected failure is not a pass, a strict XPASS fails
        "test_xfail": _row("test_xfail", "skipped", "assert 1 == 2"),
        "test_xpass": _row("test_xpass", "passed", ""),
        "test_xpass_strict": _row("test_xpass_strict", "failed", "[XPASS(strict)] must fail"),
        "test_facts_and_odd_values": _row("test_facts_and_odd_values", "passed", "", observed="/etc/ssh"),
    }


def test_the_payload_around_the_rows(checks: tuple[pytest.RunResult, dict[str, Any], str]) -> None:
    result, data, text = checks
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert list(data) == ["started", "finished", "duration_s", "pytest_exit", "facts", "errors", "rows"]
    assert ISO_SECOND.match(data["started"]) and ISO_SECOND.match(data["finished"])
    assert data["started"] <= data["finished"]
    assert 0 < data["duration_s"] < 120 and data["duration_s"] == round(data["duration_s"], 3)
    assert data["pytest_exit"] == 1
    assert data["facts"] == {"h1": {"os": "Debian GNU/Linux 12"}}
    assert data["errors"] == []
    assert text == json.dumps(data, indent=2) + "\n"


def test_a_clean_run_exits_0_into_an_existing_folder(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_ok="def test_ok(record_property):\n    record_property('control', 'SK-A-001')\n")
    out = pytester.path / "raw.json"  # its folder exists already
    result = _run(pytester, evidence=out)
    assert result.ret == pytest.ExitCode.OK
    data = json.loads(out.read_text())
    assert data["pytest_exit"] == 0 and data["errors"] == [] and data["facts"] == {}
    assert [(r["test_id"], r["result"], r["control"]) for r in data["rows"]] == [
        ("test_ok.py::test_ok", "passed", "SK-A-001")
    ]


def test_a_run_that_collects_nothing_has_no_result_and_is_not_green(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_broken="import no_such_module_here\n\ndef test_never_runs():\n    pass\n")
    out = pytester.path / "raw.json"
    result = _run(pytester, evidence=out)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    data = json.loads(out.read_text())
    assert data["rows"] == [] and data["pytest_exit"] == 2
    (error,) = data["errors"]
    assert error.startswith("collecting test_broken.py: ImportError while importing test module"), error
    assert error.endswith("ModuleNotFoundError: No module named 'no_such_module_here'"), error
    ev = HostEvidence("ee", "h1", "inv", "", data["started"], data["finished"], 1.0, errors=data["errors"])
    assert ev.summary == {"passed": 0, "failed": 0, "skipped": 0, "error": 1}
    assert not ev.ok


def test_without_the_option_nothing_is_written(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_ok="def test_ok():\n    pass\n")
    result = _run(pytester, evidence=None)
    assert result.ret == pytest.ExitCode.OK
    assert list(pytester.path.rglob("*.json")) == []


def test_the_option_is_documented(pytester: pytest.Pytester) -> None:
    result = _run(pytester, "--help", evidence=None)
    text = "\n".join(result.stdout.lines)
    assert re.search(
        r"\n +--sitekit-evidence=SITEKIT_EVIDENCE\s+write raw sitekit evidence rows to this JSON\s+file\n", text
    )


@pytest.fixture
def stub_config() -> Any:
    """The plugin's module state pointed at a bare config (only a stash) for the hooks called directly."""
    config = SimpleNamespace(stash=pytest.Stash())
    plugin.pytest_configure(config)  # type: ignore[arg-type]
    saved = dict(plugin._CONFIG)
    plugin._CONFIG["config"] = config  # type: ignore[assignment]
    yield config
    plugin._CONFIG.clear()
    plugin._CONFIG.update(saved)


def test_a_collection_error_keeps_the_end_of_its_text_and_names_the_tests(stub_config: Any) -> None:
    long = "a" * 300 + "b" * 800
    plugin.pytest_collectreport(pytest.CollectReport("", "failed", long, []))
    plugin.pytest_collectreport(pytest.CollectReport("test_x.py", "failed", "short", []))
    plugin.pytest_collectreport(pytest.CollectReport("test_y.py", "passed", None, []))
    assert stub_config.stash[plugin._ERRORS] == [f"collecting tests: {'b' * 800}", "collecting test_x.py: short"]


def test_hooks_before_the_session_starts_record_nothing(stub_config: Any) -> None:
    plugin._CONFIG.clear()
    report = pytest.TestReport("t::x", ("t", 1, "x"), {}, "failed", "boom", "call")
    plugin.pytest_runtest_logreport(report)
    plugin.pytest_collectreport(pytest.CollectReport("t", "failed", "boom", []))
    assert stub_config.stash[plugin._ROWS] == {} and stub_config.stash[plugin._ERRORS] == []


@pytest.mark.parametrize(
    ("longrepr", "reason"),
    [
        (None, ""),
        ("line one\nline two\n", "line two"),  # a plain text report: its last line
        ("   \n", ""),
        ("header\nE   fixture 'x' not found\nE   second\n\nfile.py:3", "fixture 'x' not found"),
        (("file.py", 3, "Skipped: why"), "why"),
    ],
)
def test_a_report_without_a_crash_line(stub_config: Any, longrepr: Any, reason: str) -> None:
    outcome = "skipped" if isinstance(longrepr, tuple) else "failed"
    plugin.pytest_runtest_logreport(pytest.TestReport("t::x", ("t", 1, "x"), {}, outcome, longrepr, "call"))
    row = stub_config.stash[plugin._ROWS]["t::x"]
    assert (row["result"], row["reason"]) == ("skipped" if outcome == "skipped" else "failed", reason)


def test_a_message_is_rewritten_only_for_a_bare_assert_with_values() -> None:
    values = {"observed": "yes", "expected": "no"}
    assert plugin._readable("AssertionError: sshd differs", values) == "AssertionError: sshd differs"
    assert plugin._readable("AssertionError: assert 'yes' == 'no'", values) == (
        "observed differs from expected: observed: yes; expected: no"
    )
    assert plugin._readable("AssertionError: assert x", {"observed": None}) == "assert x"
    assert plugin._readable("AssertionError: assert x", {"other": 1}) == "AssertionError: assert x"


def test_the_payload_of_a_session_that_never_started_and_one_that_ran_a_while(tmp_path: Path) -> None:
    import time

    out = tmp_path / "raw.json"
    config = SimpleNamespace(
        stash=pytest.Stash(), getoption=lambda name: str(out) if name == "--sitekit-evidence" else None
    )
    plugin.pytest_configure(config)  # type: ignore[arg-type]
    plugin.pytest_sessionfinish(SimpleNamespace(config=config), 0)  # type: ignore[arg-type]
    data = json.loads(out.read_text())
    assert ISO_SECOND.match(data["started"]) and data["started"] <= data["finished"]
    assert 0 <= data["duration_s"] < 1 and data["pytest_exit"] == 0 and data["rows"] == []
    config.stash[plugin._STARTED] = ("2026-01-01T00:00:00+00:00", time.monotonic() - 1.2)
    plugin.pytest_sessionfinish(SimpleNamespace(config=config), 1)  # type: ignore[arg-type]
    data = json.loads(out.read_text())
    assert data["started"] == "2026-01-01T00:00:00+00:00" and data["pytest_exit"] == 1
    assert 1.2 <= data["duration_s"] < 1.9 and data["duration_s"] == round(data["duration_s"], 3)
