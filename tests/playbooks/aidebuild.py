"""Waiting for the baseline role's out-of-band AIDE database build (SK-FIM-001) before a lab's verify.

The converge only starts the build (a low-priority oneshot unit) and never waits for it, and verify fails
SK-FIM-001 while it runs: a lab test waits here first, and reports how long the build took on the host.
Shared by the container tier (conftest.py) and the VM tier (test_harden_vm.py); each passes its own way
to run a command on the host as the lab's operator (a fresh SSH login).
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
_DEFAULTS = yaml.safe_load((REPO / "playbooks" / "roles" / "baseline" / "defaults" / "main.yml").read_text())
UNIT = str(_DEFAULTS["baseline_aide_init_unit"])
"""The build's unit, its drop-in, timer and database as the baseline role names them (its defaults: the lab
inventories do not override them)."""
DROPIN = str(_DEFAULTS["baseline_aide_dropin"])
TIMER = str(_DEFAULTS["baseline_aide_timer"])
DATABASE = str(_DEFAULTS["baseline_aide_database"])

Run = Callable[[str], "subprocess.CompletedProcess[str]"]


@dataclass(frozen=True)
class Build:
    """How one host's database build ended: the unit's state and result once it stopped, how long the
    build ran (from the unit's journal; None when the journal holds no finished run) and how long we waited."""

    state: str
    result: str
    seconds: float | None
    waited: float


def unit_state(run: Run) -> str:
    """The build unit's ActiveState right now (activating while the build runs)."""
    return run(f"systemctl show --property=ActiveState --value {UNIT}").stdout.strip()


def _last_run_seconds(run: Run) -> float | None:
    """Seconds between the last `Starting` of the unit and the end that followed it, from its journal."""
    out = run(f"sudo -n journalctl --quiet --no-pager --output=short-unix --unit={UNIT}").stdout
    start: float | None = None
    seconds: float | None = None
    for line in out.splitlines():
        stamp, _, message = line.partition(" ")
        try:
            at = float(stamp)
        except ValueError:
            continue
        if "Starting " in message:
            start, seconds = at, None
        elif start is not None and ("Finished " in message or "Failed with result" in message):
            seconds = at - start
    return seconds


def wait_for_build(run: Run, timeout: float = 3600, poll: float = 5) -> Build:
    """Wait until the host's AIDE database build is no longer running (or fail after `timeout` seconds)."""
    t0 = time.monotonic()
    state = unit_state(run)
    while state in ("activating", "active", "deactivating", "reloading"):
        if time.monotonic() - t0 > timeout:
            raise AssertionError(f"{UNIT} still {state} after {timeout:.0f} s")
        time.sleep(poll)
        state = unit_state(run)
    result = run(f"systemctl show --property=Result --value {UNIT}").stdout.strip()
    return Build(state=state, result=result, seconds=_last_run_seconds(run), waited=time.monotonic() - t0)


def describe(host: str, build: Build) -> str:
    """One line for the test's output (run pytest with -s to see it)."""
    took = f"{build.seconds:.0f} s" if build.seconds is not None else "no finished run in its journal"
    return f"AIDE database build on {host}: {took} ({build.state}, {build.result}); waited {build.waited:.0f} s"
