"""The record format: canonical JSON lines, and the hash that chains each record to the one before.

A record is one line of canonical JSON (keys sorted, no spaces, UTF-8, no NaN) ending in a newline. Its
hash is the SHA-256 of that line without the newline, so anyone can recompute it from the file with any
JSON library; a line that does not re-serialise to itself is not canonical and is refused on reading
(an editor that reformats a record is an edit). Each record carries `seq` (1, 2, ...) and `prev`, the hash
of the record before it (`GENESIS` for the first).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

FORMAT = 1
GENESIS = "0" * 64


def canonical(record: dict[str, Any]) -> bytes:
    """The one serialisation of a record (without the trailing newline)."""
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def line_hash(line: bytes) -> str:
    """Hex SHA-256 of a record line (without its newline): what the next record's `prev` holds."""
    return hashlib.sha256(line).hexdigest()


class RecordError(ValueError):
    """A line that is not a well-formed canonical record; the message says why."""


def parse(line: bytes) -> dict[str, Any]:
    """A record line (without newline) as a dict; `RecordError` if it is not canonical JSON of a record."""
    try:
        value = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RecordError(f"not JSON: {exc}") from None
    except RecursionError:
        raise RecordError("nested too deeply to be a record") from None
    if not isinstance(value, dict):
        raise RecordError("not a JSON object")
    try:
        again = canonical(value)
    except ValueError as exc:
        raise RecordError(f"not serialisable: {exc}") from None
    if again != line:
        raise RecordError("not in canonical form (changed after it was written)")
    seq, prev = value.get("seq"), value.get("prev")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        raise RecordError("no valid 'seq'")
    if not isinstance(prev, str) or len(prev) != 64:
        raise RecordError("no valid 'prev'")
    return value
