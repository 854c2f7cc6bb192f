"""Atomic, private file writes for key material and state.

Every secret sitekit writes goes through `write_private`: a temporary file in the same directory (so the
rename is atomic on one filesystem), created 0600 before any byte is written, fsynced, then renamed over
the target and the directory fsynced. A crash leaves either the old file or the new one, never half a key.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def ensure_private_dir(path: Path) -> Path:
    """Create `path` (and parents) 0700; tighten it if it already exists."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)
    return path


def write_private(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write `data` to `path` atomically with permissions `mode` (0600 unless a public file says 0644)."""
    ensure_private_dir(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def write_public(path: Path, data: bytes) -> None:
    """Certificates and public keys: same atomic write, world-readable (they are not secrets)."""
    write_private(path, data, mode=0o644)
