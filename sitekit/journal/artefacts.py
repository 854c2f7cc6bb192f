"""What a command produced or changed: files under its folders, compared before and after it ran.

A snapshot is the (size, mtime, inode, mode) of every regular file under the command's folders; the
difference after the command names each file created, changed or removed, and the SHA-256 of each file
that exists afterwards. Files readable only by their owner inside a secret folder (the keys' private and
sealed files, custody shares) are listed without their digest: the journal goes to auditors, who can check
a public digest but gain nothing from a digest of a secret.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Stamp = tuple[int, int, int, int]


@dataclass(frozen=True)
class Watch:
    """A folder (or one file) whose files a command may write; `secret` marks key state."""

    path: Path
    secret: bool = False


def snapshot(watches: list[Watch]) -> dict[Path, Stamp]:
    """Stamps of every regular file under the watched paths (symlinks are not followed)."""
    found: dict[Path, Stamp] = {}
    for watch in watches:
        root = watch.path
        if root.is_file():
            _stamp(root, found)
            continue
        for folder, dirs, files in os.walk(root):
            dirs.sort()
            for name in files:
                _stamp(Path(folder) / name, found)
    return found


def _stamp(path: Path, found: dict[Path, Stamp]) -> None:
    try:
        st = path.lstat()
    except OSError:
        return
    if stat.S_ISREG(st.st_mode):
        found[path] = (st.st_size, st.st_mtime_ns, st.st_ino, st.st_mode)


def changes(watches: list[Watch], before: dict[Path, Stamp]) -> list[dict[str, Any]]:
    """Files created, changed or removed since `before`, with their SHA-256 where public."""
    after = snapshot(watches)
    out: list[dict[str, Any]] = []
    for path in sorted(set(before) | set(after)):
        old, new = before.get(path), after.get(path)
        if old == new:
            continue
        if new is None:
            out.append({"path": str(path), "change": "removed"})
            continue
        entry: dict[str, Any] = {"path": str(path), "change": "created" if old is None else "changed"}
        if _private(path, new, watches):
            entry["private"] = True
        else:
            entry["sha256"] = _sha256(path)
        out.append(entry)
    return out


def _private(path: Path, stamp: Stamp, watches: list[Watch]) -> bool:
    secret = any(w.secret and (path == w.path or w.path in path.parents) for w in watches)
    return secret and not (stamp[3] & 0o044)


def _sha256(path: Path) -> str | None:
    hasher = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                hasher.update(chunk)
    except OSError:
        return None
    return hasher.hexdigest()
