"""The journal on disk: one append-only file per country, writers serialised with `flock`.

Layout of `$SITEKIT_STATE/journal/<cc>/` (folder 0700, files 0600):

- `journal.jsonl`  the records, one canonical JSON line each (see `records`)
- `checkpoints/`   signed checkpoints, one file per record count (see `checkpoint`)
- `lock`           the `flock` every writer holds while it reads the head and appends
- `missed.jsonl`   records that could not be chained (torn journal, I/O error); `verify` reports them and
                   `repair` chains them in
- `torn-*.bin`     bytes of a torn tail that `repair` moved aside (kept, never deleted)

An append writes the whole line with one `write` on an `O_APPEND` descriptor and fsyncs it. A process
killed during that write leaves a last line without its newline: a torn tail. It is never read as a
record, never silently dropped: `verify` reports it, and appends refuse to chain onto it until an operator
runs `sitekit journal repair <cc>`, which moves the torn bytes aside into a kept file and journals that it
did (with their length and SHA-256). Commands check for a torn tail before they change anything, so no
change happens that cannot be journalled.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sitekit.atomic import ensure_private_dir
from sitekit.errors import UserError
from sitekit.journal.records import FORMAT, GENESIS, RecordError, canonical, line_hash, parse

_TAIL_CHUNK = 1 << 16


class JournalError(UserError):
    """The journal cannot take a record (torn tail, unreadable head); the message says what to do."""


@dataclass(frozen=True)
class Head:
    """The last complete record: its number and hash (0 and `GENESIS` for an empty journal)."""

    count: int
    hash: str


@dataclass(frozen=True)
class Torn:
    """A last line without its newline: where it starts and how many bytes it has."""

    offset: int
    size: int


def utc_now() -> str:
    """Record time: UTC, seconds, ISO 8601 with `Z`."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


class Journal:
    """One country's journal; cheap to construct, touches the disk only when used."""

    def __init__(self, cc: str, folder: Path) -> None:
        self.cc = cc
        self.folder = folder

    @property
    def path(self) -> Path:
        return self.folder / "journal.jsonl"

    @property
    def checkpoints(self) -> Path:
        return self.folder / "checkpoints"

    @property
    def missed_path(self) -> Path:
        return self.folder / "missed.jsonl"

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the journal's writer lock (an exclusive `flock` on `lock`), waiting for other writers."""
        ensure_private_dir(self.folder)
        fd = os.open(self.folder / "lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    # ---- reading

    def read_bytes(self) -> bytes:
        """The whole journal file (empty if there is none yet)."""
        try:
            return self.path.read_bytes()
        except FileNotFoundError:
            return b""

    def torn(self) -> Torn | None:
        """The torn tail, if the file does not end with a newline."""
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return None
        if size == 0:
            return None
        with self.path.open("rb") as handle:
            handle.seek(size - 1)
            if handle.read(1) == b"\n":
                return None
            start = _line_start(handle, size - 1)
        return Torn(offset=start, size=size - start)

    def head(self) -> Head:
        """The last complete record; `JournalError` for a torn tail or an unreadable last line."""
        torn = self.torn()
        if torn is not None:
            raise JournalError(
                f"journal {self.path} ends in a torn record ({torn.size} bytes at offset {torn.offset}, "
                f"from a writer that was killed): run `sitekit journal repair {self.cc}` to move it aside"
            )
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return Head(0, GENESIS)
        if size == 0:
            return Head(0, GENESIS)
        with self.path.open("rb") as handle:
            start = _line_start(handle, size - 1)
            handle.seek(start)
            line = handle.read(size - 1 - start)
        try:
            record = parse(line)
        except RecordError as exc:
            raise JournalError(
                f"the last record of {self.path} is unreadable ({exc}): run `sitekit journal verify {self.cc}`"
            ) from None
        return Head(int(record["seq"]), line_hash(line))

    def lines(self) -> tuple[list[bytes], Torn | None]:
        """Every complete line (without newlines) and the torn tail, if any."""
        data = self.read_bytes()
        torn = None
        if data and not data.endswith(b"\n"):
            start = data.rfind(b"\n") + 1
            torn = Torn(offset=start, size=len(data) - start)
            data = data[:start]
        return (data.split(b"\n")[:-1] if data else []), torn

    def missed(self) -> list[dict[str, Any]]:
        """Records that could not be chained, waiting for `repair`."""
        try:
            text = self.missed_path.read_text()
        except FileNotFoundError:
            return []
        out: list[dict[str, Any]] = []
        for raw in text.splitlines():
            try:
                value = json.loads(raw)
            except json.JSONDecodeError:
                value = {"unreadable": raw[:200]}
            out.append(value if isinstance(value, dict) else {"unreadable": raw[:200]})
        return out

    # ---- writing

    def require_appendable(self) -> None:
        """Raise `JournalError` now if an append would be refused (so a command can stop before it acts)."""
        self.head()

    def append(self, entry: dict[str, Any]) -> tuple[int, str]:
        """Chain `entry` onto the head under the lock; return its number and hash.

        `entry` holds the record's content; `v`, `seq`, `prev`, `country` and (unless given) `time` are
        set here. Refuses (JournalError) to chain onto a torn tail.
        """
        with self.locked():
            return self._append_locked(entry)

    def _append_locked(self, entry: dict[str, Any]) -> tuple[int, str]:
        head = self.head()
        record = {"time": utc_now(), **entry}
        record.update(v=FORMAT, seq=head.count + 1, prev=head.hash, country=self.cc)
        line = canonical(record)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            _write_all(fd, line + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
        return head.count + 1, line_hash(line)

    def append_or_keep(self, entry: dict[str, Any]) -> tuple[int, str] | None:
        """`append`, or, if the journal refuses, keep the record in `missed.jsonl` and return None.

        For records that must not be lost (a command already ran, an Ansible play already changed hosts):
        `verify` reports kept records and `repair` chains them in.
        """
        try:
            return self.append(entry)
        except (JournalError, OSError) as exc:
            kept = {"time": utc_now(), **entry, "not_chained_because": str(exc)}
            ensure_private_dir(self.folder)
            fd = os.open(self.missed_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                _write_all(fd, json.dumps(kept, sort_keys=True, ensure_ascii=False).encode() + b"\n")
                os.fsync(fd)
            finally:
                os.close(fd)
            return None

    def repair(self, operator: dict[str, Any]) -> list[str]:
        """Move a torn tail aside into a kept file, chain in kept records, and journal what was done."""
        done: list[str] = []
        with self.locked():
            torn = self.torn()
            if torn is not None:
                with self.path.open("rb") as handle:
                    handle.seek(torn.offset)
                    data = handle.read()
                stamp = utc_now().replace(":", "")
                kept = self.folder / f"torn-{stamp}-{torn.offset}.bin"
                fd = os.open(kept, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                try:
                    _write_all(fd, data)
                    os.fsync(fd)
                finally:
                    os.close(fd)
                with self.path.open("r+b") as handle:
                    handle.truncate(torn.offset)
                    handle.flush()
                    os.fsync(handle.fileno())
                self._append_locked(
                    {
                        "kind": "repair",
                        "operator": operator,
                        "action": "torn tail moved aside",
                        "torn": {
                            "offset": torn.offset,
                            "bytes": len(data),
                            "sha256": hashlib.sha256(data).hexdigest(),
                            "kept_in": kept.name,
                        },
                    }
                )
                done.append(f"moved a torn tail of {len(data)} bytes aside to {kept}")
            waiting = self.missed()
            if waiting:
                for item in waiting:
                    self._append_locked({"kind": "late", "operator": operator, "late_record": item})
                stamp = utc_now().replace(":", "")
                os.replace(self.missed_path, self.folder / f"missed-{stamp}.chained.jsonl")
                done.append(f"chained {len(waiting)} kept record(s) that could not be appended at the time")
        return done


def _write_all(fd: int, data: bytes) -> None:
    """Write every byte of `data` (the one place records reach the file; tests interrupt it here)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _line_start(handle: Any, end: int) -> int:
    """Offset of the first byte of the line that holds byte `end - 1` (searching back from `end`)."""
    pos = end
    while pos > 0:
        step = min(_TAIL_CHUNK, pos)
        handle.seek(pos - step)
        chunk = handle.read(step)
        cut = chunk.rfind(b"\n")
        if cut >= 0:
            return int(pos - step + cut + 1)
        pos -= step
    return 0
