"""Helpers for the lab tests: the real `sitekit` command and a snapshot of what a lab could leave behind.

The lab state goes to a temporary folder (keys and layers of a test never mix with an operator's lab);
the cache stays shared (`$SITEKIT_CACHE` or the default) because building the root is the slow step.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SITES = REPO / "sites"
TOOLS = ("systemd-nspawn", "mmdebstrap", "nsenter", "nc", "ip", "ssh")


def lab_ready() -> str | None:
    """Why the lab cannot run here, or None."""
    if os.geteuid() != 0:
        return "the lab needs root"
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        return f"missing tools: {', '.join(missing)} (scripts/bootstrap.sh installs them)"
    return None


def sitekit(*args: str, check: bool = True, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
    """Run the real `sitekit` command (as an operator would) with the test's environment."""
    proc = subprocess.run(
        [sys.executable, "-m", "sitekit.cli", "--sites", str(SITES), "--root", str(REPO), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=os.environ.copy(),
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"sitekit {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
    return proc


def machine_snapshot(state: Path) -> dict[str, list[str]]:
    """What a lab kept in `state` could leave behind: its namespaces, mounts, processes and nspawn
    folders (all named after the state folder, so other labs running on the machine do not disturb the
    comparison), and every link of the machine's own namespace (a lab must never create one there)."""
    tag = hashlib.sha256(str(state.resolve()).encode()).hexdigest()[:6]
    marker = str(state.resolve())

    netns_dir = Path("/run/netns")
    propagate = Path("/run/systemd/nspawn/propagate")
    control = Path.home() / ".ansible" / "cp"
    with open("/proc/self/mountinfo") as fh:
        mounts = sorted(p for p in (line.split()[4] for line in fh) if marker in p)
    procs = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in cmd:
            procs.append(cmd.strip())
    links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, check=False).stdout
    return {
        "netns": sorted(p.name for p in netns_dir.iterdir() if tag in p.name) if netns_dir.is_dir() else [],
        "mounts": mounts,
        "links": sorted(line.split(":")[1].strip() for line in links.splitlines()),
        "procs": sorted(procs),
        "nspawn": sorted(p.name for p in propagate.iterdir() if tag in p.name) if propagate.is_dir() else [],
        "ssh control": sorted(p.name for p in control.iterdir() if tag in p.name) if control.is_dir() else [],
    }


def settled_snapshot(state: Path, expected: dict[str, list[str]], timeout: float = 10) -> dict[str, list[str]]:
    """Snapshot, retrying briefly while exiting processes are still being reaped."""
    deadline = time.monotonic() + timeout
    snap = machine_snapshot(state)
    while snap != expected and time.monotonic() < deadline:
        time.sleep(0.2)
        snap = machine_snapshot(state)
    return snap
