"""Processes the lab starts, recorded by pid *and* start time so `down` never kills a recycled pid.

A pid alone is not an identity: after a crash and a reboot of the lab, the same number may belong to an
unrelated process. `/proc/<pid>/stat` field 22 (start time in clock ticks since boot) pins it down.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ProcRef:
    """One process the lab started: its pid and the kernel's start time for it."""

    pid: int
    start: int

    @classmethod
    def of(cls, pid: int) -> ProcRef | None:
        """The reference of a running pid, or None if it is gone."""
        start = start_time(pid)
        return None if start is None else cls(pid, start)

    def alive(self) -> bool:
        """True if this very process still runs (not merely a process with the same pid)."""
        return start_time(self.pid) == self.start

    def signal(self, sig: int) -> None:
        """Send `sig` if the process is still this one; a vanished process is not an error."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)


def start_time(pid: int) -> int | None:
    """Field 22 of /proc/<pid>/stat, or None if the process does not exist (or is a zombie we reaped)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    fields = raw[raw.rindex(")") + 2 :].split()
    if fields[0] == "Z":
        return None
    return int(fields[19])


def children(pid: int) -> list[int]:
    """Direct children of `pid` (all its threads)."""
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            out += [int(x) for x in (task / "children").read_text().split()]
    return out


def net_ns(pid: int) -> str | None:
    """The network namespace identity of a process (`net:[inode]`)."""
    try:
        return os.readlink(f"/proc/{pid}/ns/net")
    except (FileNotFoundError, ProcessLookupError):
        return None


def with_arg(fragment: str) -> list[ProcRef]:
    """Processes whose command line contains `fragment` (the lab's own state path makes it unique).

    This is how `down` finds processes an interrupted `up` started but did not get to record.
    """
    found: list[ProcRef] = []
    me = os.getpid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        if fragment in cmdline:
            ref = ProcRef.of(int(entry.name))
            if ref is not None:
                found.append(ref)
    return found


def stop(refs: list[ProcRef], grace: float = 3.0) -> None:
    """SIGTERM, wait up to `grace` seconds, then SIGKILL whatever is left; wait until they are gone."""
    for ref in refs:
        ref.signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(r.alive() for r in refs):
        _reap()
        time.sleep(0.05)
    for ref in refs:
        ref.signal(signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(r.alive() for r in refs):
        _reap()
        time.sleep(0.05)


def _reap() -> None:
    """Collect exit statuses of our own children so they do not linger as zombies."""
    with contextlib.suppress(ChildProcessError):
        while True:
            pid, _ = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                break


def spawn(argv: Sequence[str], log: Path) -> subprocess.Popen[bytes]:
    """Start a long-lived lab process in its own session, its output appended to `log`.

    Every background process of a lab (nspawn, QEMU, swtpm, the mirror and NTP servers) starts this way:
    no stdin, a log the operator can read after a failed `up`, and a session of its own so a signal to
    the controller's terminal never reaches it (`down` stops it by its recorded pid)."""
    with open(log, "ab") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True)
