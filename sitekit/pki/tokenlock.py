"""One sitekit process at a time on a country's SoftHSM2 token.

SoftHSM2's file object store is not safe for concurrent processes: a process that initialises the library
while another one rewrites `token.object` (every login does) can find the token failing its integrity check
and simply not list it (SoftHSMv2 issue #757). The `keys` role signs every host's certificate on the
controller at once, one `sitekit keys sign-host` per host, so without a lock one host in a few dozen runs
got "no PKCS#11 token labelled ...". A network HSM serialises in its own firmware; SoftHSM2 needs us to.

The lock is an exclusive `flock` on a file in the country's state directory, held from before the library
reads the token until the session closes. Within one process, backends share one lock (flock locks belong
to the open file, so a second open in the same process would otherwise wait on itself).
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

from sitekit.atomic import ensure_private_dir
from sitekit.errors import UserError

_HELD: dict[Path, tuple[int, int]] = {}  # path -> (fd, holders in this process)


def acquire(path: Path, timeout: float = 300.0) -> None:
    """Take the lock at `path` (waiting up to `timeout` seconds for other processes); re-entrant."""
    path = path.resolve()
    if path in _HELD:
        fd, count = _HELD[path]
        _HELD[path] = (fd, count + 1)
        return
    ensure_private_dir(path.parent)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() >= deadline:
                os.close(fd)
                raise UserError(
                    f"the SoftHSM2 token is busy: another sitekit process held {path} for {timeout:.0f}s"
                ) from None
            time.sleep(0.05)
    _HELD[path] = (fd, 1)


def release(path: Path) -> None:
    """Drop one hold of the lock at `path`; the last one unlocks it."""
    path = path.resolve()
    if path not in _HELD:
        return
    fd, count = _HELD[path]
    if count > 1:
        _HELD[path] = (fd, count - 1)
        return
    del _HELD[path]
    fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)
