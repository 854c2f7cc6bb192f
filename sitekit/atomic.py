"""Atomic, permission-aware file writes: the one helper every part of sitekit writes files through.

Rendered files, lab state, journal checkpoints and secrets are written to a temporary file in the same
folder (created with its final mode before any byte is written), flushed and fsynced, renamed over the
target, and the folder fsynced, so a crash never leaves a half-written inventory or key behind and a
reader sees either the old file or the new one. Secrets go through `write_private` (0600 in a 0700
folder); certificates and public keys through `write_public` (0644).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from pathlib import Path

# Threads that stage files and sync folders for `write_atomic_many`. They wait on fsyncs and on the
# filesystem's metadata updates, not on the CPU, so the count does not follow the number of cores; on the
# 2-core ext4 machine measured, more than eight made no difference.
_WRITERS = 8


def write_atomic(path: Path, data: bytes | str, mode: int = 0o644) -> bool:
    """Write `data` to `path` atomically with `mode`; return False (and touch nothing) if unchanged."""
    path = Path(path)
    tmp = _stage(path, _payload(data), mode)
    if tmp is None:
        return False
    _commit(tmp, path)
    _sync_folder(path.parent)
    return True


def write_atomic_many(files: Sequence[tuple[Path, bytes | str]], mode: int = 0o644) -> list[bool]:
    """Write several files as `write_atomic` would, each atomically; return, per file, whether it changed.

    One file after another, a render waited on two fsyncs per file. Here every changed file is first
    staged (written to its temporary file and fsynced) concurrently, then all are renamed into place, then
    each folder that received a file is fsynced once, also concurrently. Each file still reaches the disk
    before its rename and every rename is durable when this returns, as with `write_atomic`. Should any
    staging fail, no file is renamed, every temporary file is removed and the first failure in `files`
    order is raised.
    """
    targets = [(Path(path), _payload(data)) for path, data in files]
    with ThreadPoolExecutor(max_workers=_WRITERS, thread_name_prefix="sitekit-write") as pool:
        staging = [pool.submit(_stage, path, payload, mode) for path, payload in targets]
        try:
            wait(staging)
            staged = [future.result() for future in staging]
        except BaseException:
            _discard(staging)
            raise
        for index, ((path, _), tmp) in enumerate(zip(targets, staged, strict=True)):
            if tmp is None:
                continue
            try:
                _commit(tmp, path)
            except BaseException:
                for later in staged[index + 1 :]:
                    _unlink(later)
                raise
        folders = sorted({path.parent for (path, _), tmp in zip(targets, staged, strict=True) if tmp is not None})
        for future in [pool.submit(_sync_folder, folder) for folder in folders]:
            future.result()
    return [tmp is not None for tmp in staged]


def _payload(data: bytes | str) -> bytes:
    return data.encode() if isinstance(data, str) else data


def _stage(path: Path, payload: bytes, mode: int) -> str | None:
    """Write `payload` durably to a new temporary file beside `path`; None if `path` already holds it."""
    try:
        if path.read_bytes() == payload and (path.stat().st_mode & 0o777) == mode:
            return None
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        _unlink(tmp)
        raise
    return tmp


def _commit(tmp: str, path: Path) -> None:
    """Rename a staged file over its target; the temporary file is removed if that fails."""
    try:
        os.replace(tmp, path)
    except BaseException:
        _unlink(tmp)
        raise


def _sync_folder(folder: Path) -> None:
    """fsync a folder so the renames in it survive a crash."""
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _unlink(tmp: str | None) -> None:
    if tmp is not None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _discard(staging: list[Future[str | None]]) -> None:
    """After a failure or an interrupt: stop staging and remove every temporary file already written."""
    for future in staging:
        future.cancel()
    wait(staging)
    for future in staging:
        if not future.cancelled() and future.exception() is None:
            _unlink(future.result())


def ensure_private_dir(path: Path) -> Path:
    """Create `path` (and parents) 0700; tighten it if it already exists."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)
    return path


def write_private(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write a secret atomically, 0600 (unless `mode` says otherwise) inside a folder tightened to 0700."""
    ensure_private_dir(Path(path).parent)
    write_atomic(path, data, mode)


def write_public(path: Path, data: bytes) -> None:
    """Certificates and public keys: the same atomic write into a private folder, world-readable file."""
    write_private(path, data, mode=0o644)
