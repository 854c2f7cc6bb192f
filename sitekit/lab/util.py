"""Small helpers shared by the lab modules: running commands, timing phases, build locks.

Every external command goes through `run` so that a failure names the command and shows its stderr,
instead of a bare CalledProcessError deep in a traceback.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from sitekit.errors import UserError


class LabError(RuntimeError):
    """A lab step failed for a reason the operator cannot fix by changing input (an internal error)."""


def run(
    cmd: Sequence[str | os.PathLike[str]],
    *,
    check: bool = True,
    capture: bool = True,
    timeout: float | None = None,
    input_text: str | None = None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a command; on failure raise `LabError` with the command line and its stderr."""
    args = [os.fspath(c) for c in cmd]
    try:
        proc = subprocess.run(
            args,
            check=False,
            text=True,
            capture_output=capture,
            timeout=timeout,
            input=input_text,
            env=env,
            cwd=cwd,
        )
    except FileNotFoundError as exc:
        raise UserError(
            f"{args[0]} is not installed; run scripts/bootstrap.sh (it installs scripts/apt-packages.txt)"
        ) from exc
    if check and proc.returncode != 0:
        err = (proc.stderr or "").strip()[-2000:]
        raise LabError(f"command failed ({proc.returncode}): {' '.join(args)}\n{err}")
    return proc


def require_root() -> None:
    """The lab creates namespaces, mounts and containers: that needs root, so say so up front."""
    if os.geteuid() != 0:
        raise UserError("sitekit lab needs root (network namespaces, mounts, systemd-nspawn); run it as root")


def require_tools(*tools: str) -> None:
    """Fail early with the package hint rather than halfway through an `up`."""
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        raise UserError(
            f"missing tools: {', '.join(missing)}; run scripts/bootstrap.sh "
            "(it installs the packages in scripts/apt-packages.txt)"
        )


@contextlib.contextmanager
def phase(name: str, timings: dict[str, float]) -> Iterator[None]:
    """Time one phase of `up`/`down`, print it, and record it for the benchmark."""
    start = time.monotonic()
    try:
        yield
    finally:
        took = time.monotonic() - start
        timings[name] = timings.get(name, 0.0) + took
        print(f"  {name:<16} {took:7.1f} s", file=sys.stderr, flush=True)


@contextlib.contextmanager
def build_lock(target: Path) -> Iterator[None]:
    """Serialise builds of one cache entry: labs of several operators or test runs share the cache."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.with_name(target.name + ".lock"), "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
