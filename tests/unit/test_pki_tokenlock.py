"""The SoftHSM2 token lock: one process at a time, re-entrant inside a process, a clear error on timeout."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sitekit.errors import UserError
from sitekit.pki import tokenlock

HOLD = """
import sys, time
from pathlib import Path
from sitekit.pki import tokenlock
tokenlock.acquire(Path(sys.argv[1]))
print("held", flush=True)
sys.stdin.readline()
tokenlock.release(Path(sys.argv[1]))
"""


def test_another_process_waits_then_gets_a_clear_error(tmp_path: Path) -> None:
    lock = tmp_path / "softhsm2" / "sitekit.lock"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(lock)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(UserError, match="busy"):
            tokenlock.acquire(lock, timeout=0.3)
    finally:
        holder.communicate("\n", timeout=30)
    tokenlock.acquire(lock, timeout=5)  # released by the holder: free again
    tokenlock.release(lock)
    assert lock.stat().st_mode & 0o777 == 0o600


def test_reentrant_within_one_process(tmp_path: Path) -> None:
    lock = tmp_path / "sitekit.lock"
    tokenlock.acquire(lock)
    tokenlock.acquire(lock, timeout=0.1)  # a second backend in the same process must not wait on itself
    tokenlock.release(lock)
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from pathlib import Path; from sitekit.pki import tokenlock; "
            "tokenlock.acquire(Path(sys.argv[1]), timeout=0.2)",
            str(lock),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert probe.returncode != 0 and "busy" in probe.stderr  # still held once
    tokenlock.release(lock)
    tokenlock.acquire(lock, timeout=0.1)
    tokenlock.release(lock)
