"""pytest plugin that turns a run of tests/hosts into raw evidence rows (`-p sitekit.verify.plugin`).

It knows nothing about testinfra: the host checks' conftest puts `host`, `control`, `observed` and
`expected` into each test's `user_properties` and host facts into `config.stash[FACTS]`; this plugin
collects outcomes, reasons, times and those properties and writes them as JSON at the end of the session
(`--sitekit-evidence PATH`). `sitekit.verify.runner` turns the rows into per-host evidence and JUnit XML.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from sitekit.verify.evidence import mismatch

__all__ = [
    "FACTS",
    "pytest_addoption",
    "pytest_collectreport",
    "pytest_configure",
    "pytest_runtest_logreport",
    "pytest_sessionfinish",
    "pytest_sessionstart",
]

FACTS: pytest.StashKey[dict[str, dict[str, Any]]] = pytest.StashKey()
_ROWS: pytest.StashKey[dict[str, dict[str, Any]]] = pytest.StashKey()
_ERRORS: pytest.StashKey[list[str]] = pytest.StashKey()
_STARTED: pytest.StashKey[tuple[str, float]] = pytest.StashKey()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--sitekit-evidence", default=None, help="write raw sitekit evidence rows to this JSON file")


def pytest_configure(config: pytest.Config) -> None:
    config.stash[FACTS] = {}
    config.stash[_ROWS] = {}
    config.stash[_ERRORS] = []


def _message(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if longrepr is None:
        return ""
    if isinstance(longrepr, tuple):  # skip: (file, line, reason)
        return str(longrepr[2]).removeprefix("Skipped: ")
    crash = getattr(longrepr, "reprcrash", None)
    if crash is not None:
        return str(crash.message)
    # No crash line (a fixture that does not exist, a plain text report): pytest's first `E` line says
    # what went wrong; without one, the report's last line.
    lines = str(longrepr).strip().splitlines()
    said = [line.removeprefix("E").strip() for line in lines if line.startswith("E ")]
    return said[0] if said else (lines[-1] if lines else "")


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    config = _CONFIG.get("config")
    if config is None:
        return
    rows = config.stash[_ROWS]
    row = rows.setdefault(
        report.nodeid,
        {"test_id": report.nodeid, "result": "passed", "reason": "", "time": _now(), "duration_s": 0.0},
    )
    row["duration_s"] = round(row["duration_s"] + report.duration, 3)
    for key, value in report.user_properties:
        row[key] = value
    if (report.when == "setup" and report.skipped) or (report.when == "call" and report.skipped):
        row["result"], row["reason"] = "skipped", _message(report)
    elif report.failed:
        row["result"] = "failed" if report.when == "call" else "error"
        row["reason"] = _readable(_message(report), row)


def _readable(message: str, row: dict[str, Any]) -> str:
    """A bare `assert a == b` gives pytest's shortened reprs (`{'passwordaut...ation': 'yes'}`): say what
    differs from the row's observed and expected values instead, which it records in full."""
    bare = message.removeprefix("AssertionError: ")
    if bare.startswith("assert ") and ("observed" in row or "expected" in row):
        detail = mismatch(row.get("observed"), row.get("expected"))
        return f"observed differs from expected: {detail}" if detail else bare
    return message


_CONFIG: dict[str, pytest.Config] = {}


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    _CONFIG["config"] = session.config
    session.config.stash[_STARTED] = (_now(), time.monotonic())


def pytest_collectreport(report: pytest.CollectReport) -> None:
    config = _CONFIG.get("config")
    if config is not None and report.failed:
        config.stash[_ERRORS].append(f"collecting {report.nodeid or 'tests'}: {str(report.longrepr)[-800:]}")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    out = config.getoption("--sitekit-evidence")
    if not out:
        return
    facts: dict[str, dict[str, Any]] = config.stash[FACTS]
    started, t0 = config.stash.get(_STARTED, (_now(), time.monotonic()))
    payload = {
        "started": started,
        "finished": _now(),
        "duration_s": round(time.monotonic() - t0, 3),
        "pytest_exit": int(exitstatus),
        "facts": facts,
        "errors": config.stash[_ERRORS],
        "rows": list(config.stash[_ROWS].values()),
    }
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
