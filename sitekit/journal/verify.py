"""`journal verify`: check every link and every checkpoint with public material only.

The chain proves order and integrity between records; the signed checkpoints prove that the records up to
each one are the ones the key holder saw (so an edit that rewrites every later hash, or a cut behind the
last checkpoint, is caught). The report names the first bad record; records after the last valid
checkpoint are chained but not yet anchored, which is reported as such.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from sitekit.errors import UserError
from sitekit.journal import checkpoint as ckpt
from sitekit.journal.records import GENESIS, RecordError, line_hash, parse
from sitekit.journal.store import Journal, Torn


@dataclass(frozen=True)
class Problem:
    """One thing wrong: the first record it concerns (None for a whole-file matter) and what."""

    record: int | None
    what: str


@dataclass
class Report:
    """What `verify` found."""

    cc: str
    records: list[dict[str, Any]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    checkpoints: int = 0
    anchored: int = 0
    torn: Torn | None = None
    missed: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first_bad(self) -> int | None:
        numbered = [p.record for p in self.problems if p.record is not None]
        return min(numbered) if numbered else None


def load_public_key(path: Path) -> ec.EllipticCurvePublicKey:
    """The signing key's public half from a PEM file; `UserError` naming the file otherwise."""
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except FileNotFoundError:
        raise UserError(f"no public key at {path}") from None
    except ValueError as exc:
        raise UserError(f"{path} is not a PEM public key: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise UserError(f"{path} is not an EC public key")
    return key


def verify(journal: Journal, public: ec.EllipticCurvePublicKey | None, held: Sequence[Path] = ()) -> Report:
    """Check the chain, the torn tail, kept records and every checkpoint of `journal`.

    `held` are checkpoints the auditor kept from an earlier look (a witness's copy): they are checked like
    the journal's own, so deleting the journal's checkpoints and cutting records behind them is caught too.
    """
    report = Report(cc=journal.cc)
    lines, torn = journal.lines()
    hashes = _check_chain(journal.cc, lines, report)
    count = len(lines)
    if torn is not None:
        report.torn = torn
        report.problems.append(
            Problem(
                count + 1,
                f"torn tail: {torn.size} bytes after record {count} without a newline (a writer was killed "
                f"mid-append); not a record. Run `sitekit journal repair {journal.cc}`",
            )
        )
    missed = journal.missed()
    if missed:
        report.missed = len(missed)
        report.problems.append(
            Problem(None, f"{len(missed)} record(s) kept in {journal.missed_path.name} could not be chained")
        )
    _check_checkpoints(journal, public, hashes, report, held)
    if report.anchored < count:
        report.warnings.append(
            f"records {report.anchored + 1}..{count} are chained but not yet covered by a signed checkpoint"
        )
    report.problems.sort(key=lambda p: (p.record is None, p.record or 0))
    return report


def _check_chain(cc: str, lines: list[bytes], report: Report) -> list[str]:
    hashes: list[str] = []
    prev, expect = GENESIS, 1
    for number, line in enumerate(lines, start=1):
        this = line_hash(line)
        hashes.append(this)
        try:
            record = parse(line)
        except RecordError as exc:
            report.problems.append(Problem(number, f"record {number} (line {number}) was edited: {exc}"))
            report.records.append({"seq": number, "unreadable": True})
            prev, expect = this, number + 1
            continue
        report.records.append(record)
        seq = int(record["seq"])
        if seq != expect:
            if seq > expect and not _holds(lines, expect):
                gone = f"record {expect}" if seq == expect + 1 else f"records {expect}..{seq - 1}"
                what = f"{gone} deleted: line {number} holds record {seq} where record {expect} belongs"
            else:
                what = f"reordered: line {number} holds record {seq} where record {expect} belongs"
            report.problems.append(Problem(expect, what))
        elif record["prev"] != prev:
            if number == 1:
                report.problems.append(Problem(1, "record 1 does not start the chain (its prev is not genesis)"))
            else:
                report.problems.append(
                    Problem(
                        number - 1,
                        f"record {number - 1} was changed after record {number} chained onto it "
                        f"(record {number}'s prev does not match record {number - 1}'s hash)",
                    )
                )
        if record.get("country") != cc:
            report.problems.append(Problem(number, f"record {number} belongs to country {record.get('country')!r}"))
        prev, expect = this, seq + 1
    return hashes


def _holds(lines: list[bytes], seq: int) -> bool:
    """Whether some line claims to be record `seq` (a misplaced record rather than a deleted one)."""
    needle = f'"seq":{seq},'.encode()
    return any(needle in line for line in lines)


def _check_checkpoints(
    journal: Journal,
    public: ec.EllipticCurvePublicKey | None,
    hashes: list[str],
    report: Report,
    held: Sequence[Path],
) -> None:
    files = sorted(journal.checkpoints.glob("*.ckpt")) if journal.checkpoints.is_dir() else []
    files += [Path(p) for p in held]
    report.checkpoints = len(files)
    if not files:
        report.warnings.append("no signed checkpoint yet")
        return
    if public is None:
        report.problems.append(
            Problem(None, f"{len(files)} checkpoint(s) cannot be checked: no public key (give --public-key)")
        )
        return
    good_below = 0
    chain_problems = list(report.problems)
    broken = False
    parsed: list[tuple[str, ckpt.Checkpoint]] = []
    for path in files:
        try:
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise ckpt.CheckpointError(f"cannot read it: {exc.strerror}") from None
            point = ckpt.parse(data)
            if point.cc != journal.cc:
                raise ckpt.CheckpointError(f"it is for country {point.cc!r}")
            ckpt.check_signature(point, public)
        except ckpt.CheckpointError as exc:
            report.problems.append(Problem(None, f"checkpoint {path.name} is forged or damaged: {exc}"))
            continue
        parsed.append((path.name, point))
    for name, point in sorted(parsed, key=lambda item: item[1].size):
        if point.size > len(hashes):
            report.problems.append(
                Problem(
                    len(hashes) + 1,
                    f"truncated: signed checkpoint {name} covers {point.size} records but the journal holds "
                    f"{len(hashes)}; records {len(hashes) + 1}..{point.size} are gone",
                )
            )
            broken = True
            continue
        if point.size and hashes[point.size - 1] != point.head:
            if any(p.record is not None and p.record <= point.size for p in chain_problems):
                # the chain already names the first bad record; the checkpoint confirms it
                report.problems.append(Problem(None, f"checkpoint {name} no longer matches record {point.size}"))
            else:
                report.problems.append(
                    Problem(
                        good_below + 1,
                        f"rewritten: record {point.size}'s hash differs from the one signed in checkpoint "
                        f"{name} although every link holds; the first bad record is among "
                        f"{good_below + 1}..{point.size}",
                    )
                )
            broken = True
            continue
        if not broken:
            good_below = max(good_below, point.size)
    report.anchored = good_below
