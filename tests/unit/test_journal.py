"""The operations journal: chain, checkpoints, every tamper case, concurrent writers and a killed writer."""

from __future__ import annotations

import itertools
import json
import multiprocessing
import os
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from sitekit.journal import checkpoint as ckpt
from sitekit.journal import store
from sitekit.journal.records import canonical, line_hash
from sitekit.journal.sign import public_key_path, write_checkpoint
from sitekit.journal.store import Journal, JournalError
from sitekit.journal.verify import Report, load_public_key, verify
from sitekit.paths import country_state
from sitekit.pki.hierarchy import Hierarchy
from sitekit.spec import Site, load_fleet

REPO = Path(__file__).resolve().parents[2]
PASSPHRASE = "journal-test-passphrase"


@pytest.fixture(scope="module")
def site() -> Site:
    return load_fleet(REPO / "sites").site("cl")  # the file backend: fast, the HSM is not the point here


@pytest.fixture(scope="module")
def keyed(site: Site, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A state dir with cl's key hierarchy; SITEKIT_STATE points at it for the whole module."""
    state = tmp_path_factory.mktemp("state")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SITEKIT_STATE", str(state))
        mp.setenv("SITEKIT_KEY_PASSPHRASE", PASSPHRASE)
        with Hierarchy.open(site) as h:
            h.init()
        yield state


@pytest.fixture
def journal(keyed: Path, monkeypatch: pytest.MonkeyPatch) -> Journal:
    monkeypatch.setenv("SITEKIT_STATE", str(keyed))
    monkeypatch.setenv("SITEKIT_KEY_PASSPHRASE", PASSPHRASE)
    folder = country_state("cl").journal
    shutil.rmtree(folder, ignore_errors=True)
    return Journal("cl", folder)


def fill(j: Journal, n: int) -> None:
    for i in range(n):
        j.append({"kind": "test", "n": i})


def check(j: Journal) -> Report:
    return verify(j, load_public_key(public_key_path("cl")))


def lines(j: Journal) -> list[bytes]:
    return j.path.read_bytes().splitlines()


def put(j: Journal, rows: list[bytes]) -> None:
    j.path.write_bytes(b"".join(r + b"\n" for r in rows))


@pytest.fixture
def anchored(journal: Journal, site: Site) -> Journal:
    """Six records with signed checkpoints at 4 and 6."""
    fill(journal, 4)
    write_checkpoint(journal, site)
    fill(journal, 2)
    write_checkpoint(journal, site)
    return journal


def test_intact_journal_verifies_with_public_key_only(anchored: Journal, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SITEKIT_KEY_PASSPHRASE")
    monkeypatch.delenv("SITEKIT_PKCS11_PIN", raising=False)
    report = check(anchored)
    assert report.ok, report.problems
    assert len(report.records) == 6 and report.anchored == 6 and report.checkpoints == 2
    assert [r["seq"] for r in report.records] == [1, 2, 3, 4, 5, 6]


def test_records_chain_by_hash(anchored: Journal) -> None:
    rows = lines(anchored)
    for before, after in itertools.pairwise(rows):
        assert json.loads(after)["prev"] == line_hash(before)
    assert canonical(json.loads(rows[0])) == rows[0]


def test_edit_names_the_edited_record(anchored: Journal) -> None:
    rows = lines(anchored)
    record = json.loads(rows[2])
    record["n"] = 99
    rows[2] = canonical(record)
    put(anchored, rows)
    report = check(anchored)
    assert not report.ok and report.first_bad == 3
    assert "record 3 was changed" in report.problems[0].what


def test_non_canonical_edit_names_the_record(anchored: Journal) -> None:
    rows = lines(anchored)
    rows[1] = rows[1].replace(b'"n":1', b'"n": 1')
    put(anchored, rows)
    report = check(anchored)
    assert report.first_bad == 2 and "edited" in report.problems[0].what


def test_deletion_names_the_missing_record(anchored: Journal) -> None:
    rows = lines(anchored)
    del rows[2]
    put(anchored, rows)
    report = check(anchored)
    assert report.first_bad == 3 and "record 3 deleted" in report.problems[0].what


def test_reordering_names_the_first_misplaced_record(anchored: Journal) -> None:
    rows = lines(anchored)
    rows[2], rows[3] = rows[3], rows[2]
    put(anchored, rows)
    report = check(anchored)
    assert report.first_bad == 3 and "reordered" in report.problems[0].what


def test_truncation_behind_the_last_checkpoint_is_caught(anchored: Journal) -> None:
    put(anchored, lines(anchored)[:4])  # the chain of 4 is internally perfect
    report = check(anchored)
    assert not report.ok and report.first_bad == 5
    assert "truncated" in report.problems[0].what and "5..6" in report.problems[0].what


def test_rewritten_chain_is_caught_by_the_checkpoint(anchored: Journal) -> None:
    """An editor without the key re-chains every later record: the links hold, the signed head does not."""
    rows = [json.loads(r) for r in lines(anchored)]
    rows[1]["n"] = 42
    prev = "0" * 64
    out = []
    for record in rows:
        record["prev"] = prev
        line = canonical(record)
        prev = line_hash(line)
        out.append(line)
    put(anchored, out)
    report = check(anchored)
    assert not report.ok
    assert any("rewritten" in p.what and "1..4" in p.what for p in report.problems)


def test_checkpoint_forged_with_another_key_is_named(anchored: Journal) -> None:
    other = ec.generate_private_key(ec.SECP384R1())
    head = line_hash(lines(anchored)[-1])
    forged = ckpt.sign("cl", 6, head, "2026-12-02T00:00:00Z", other)
    (anchored.checkpoints / "000000000006.ckpt").write_bytes(forged)
    report = check(anchored)
    assert not report.ok
    assert any("000000000006.ckpt is forged" in p.what for p in report.problems)


def test_checkpoint_with_edited_count_is_forged(anchored: Journal) -> None:
    path = anchored.checkpoints / "000000000004.ckpt"
    path.write_bytes(path.read_bytes().replace(b"\n4\n", b"\n3\n", 1))
    report = check(anchored)
    assert any("000000000004.ckpt is forged" in p.what and "does not verify" in p.what for p in report.problems)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xff\xfe",
        b"sitekit-journal/v1 cl\n4\n",
        b"sitekit-journal/v1 cl\n-4\nAAAA\ntime x\n\n\xe2\x80\x94 model-signing AAAA\n",
        b"sitekit-journal/v1 ../etc\n4\n" + b"A" * 44 + b"\ntime x\n\n\xe2\x80\x94 model-signing AAAAAAAAAAAA\n",
        b"x" * 100_000,
    ],
)
def test_hostile_checkpoint_files_are_reported_not_crashing(anchored: Journal, data: bytes) -> None:
    (anchored.checkpoints / "000000000099.ckpt").write_bytes(data)
    report = check(anchored)
    assert not report.ok
    assert any("000000000099.ckpt is forged or damaged" in p.what for p in report.problems)


def test_checkpoints_cannot_be_checked_without_a_public_key(anchored: Journal) -> None:
    report = verify(anchored, None)
    assert not report.ok and "no public key" in report.problems[0].what


def test_unanchored_records_are_visible(anchored: Journal) -> None:
    fill(anchored, 2)
    report = check(anchored)
    assert report.ok and report.anchored == 6
    assert any("7..8" in w for w in report.warnings)


def test_torn_tail_is_reported_refused_and_repaired(anchored: Journal) -> None:
    with anchored.path.open("ab") as handle:
        handle.write(b'{"kind":"test","n":6,"pre')
    report = check(anchored)
    assert not report.ok and report.first_bad == 7 and "torn tail" in report.problems[0].what
    assert len(report.records) == 6  # never taken as a record
    with pytest.raises(JournalError, match="journal repair cl"):
        anchored.append({"kind": "test"})
    done = anchored.repair({"user": "test"})
    assert "torn tail of 25 bytes" in done[0]
    kept = list(anchored.folder.glob("torn-*.bin"))
    assert len(kept) == 1 and kept[0].read_bytes() == b'{"kind":"test","n":6,"pre'
    report = check(anchored)
    assert report.ok
    assert report.records[-1]["kind"] == "repair" and report.records[-1]["torn"]["bytes"] == 25


def test_refused_record_is_kept_and_reported(anchored: Journal) -> None:
    with anchored.path.open("ab") as handle:
        handle.write(b"{")
    assert anchored.append_or_keep({"kind": "ansible", "play": "x"}) is None
    report = check(anchored)
    assert report.missed == 1
    anchored.repair({"user": "test"})
    report = check(anchored)
    assert report.ok and [r["kind"] for r in report.records[-2:]] == ["repair", "late"]


def _appender(folder: str, worker: int, count: int) -> None:
    j = Journal("cl", Path(folder))
    for i in range(count):
        j.append({"kind": "test", "worker": worker, "i": i})


def test_concurrent_writers_are_serialised(journal: Journal) -> None:
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_appender, args=(str(journal.folder), w, 25)) for w in range(8)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    report = verify(journal, None)
    assert report.ok, report.problems[:3]
    assert len(report.records) == 200
    assert sorted((r["worker"], r["i"]) for r in report.records) == [(w, i) for w in range(8) for i in range(25)]


def _killed_mid_append(folder: str, ready: multiprocessing.synchronize.Event) -> None:
    def half_then_hang(fd: int, data: bytes) -> None:
        os.write(fd, data[: len(data) // 2])
        os.fsync(fd)
        ready.set()
        signal.pause()

    store._write_all = half_then_hang  # type: ignore[assignment]
    Journal("cl", Path(folder)).append({"kind": "test", "payload": "x" * 200})


def test_kill_9_during_append_leaves_a_reported_torn_tail(anchored: Journal) -> None:
    ctx = multiprocessing.get_context("fork")
    ready = ctx.Event()
    child = ctx.Process(target=_killed_mid_append, args=(str(anchored.folder), ready))
    child.start()
    assert ready.wait(30)
    os.kill(child.pid or 0, signal.SIGKILL)
    child.join(10)
    assert child.exitcode == -signal.SIGKILL
    report = check(anchored)
    assert report.torn is not None and report.first_bad == 7
    assert len(report.records) == 6
    anchored.append_or_keep({"kind": "test", "after": "kill"})  # the lock was released by the kill
    assert anchored.missed()


@pytest.mark.parametrize(
    "line",
    [
        b"[" * 100_000,
        b"\x00\xff",
        b'{"seq":true,"prev":"' + b"0" * 64 + b'"}',
        b'{"prev":"x","seq":3}',
        b"[]",
        b'{"seq":3,"prev":"' + b"0" * 64 + b'","n":NaN}',
    ],
)
def test_hostile_record_lines_are_named_not_crashing(anchored: Journal, line: bytes) -> None:
    rows = lines(anchored)
    rows[2] = line
    put(anchored, rows)
    report = check(anchored)
    assert not report.ok and report.first_bad == 3 and "record 3" in report.problems[0].what
    with pytest.raises(JournalError):  # appends refuse to chain onto an unreadable head too
        put(anchored, [*rows[:2], line])
        anchored.append({"kind": "test"})


def test_deleting_checkpoints_and_records_is_caught_by_a_checkpoint_the_auditor_kept(
    anchored: Journal, tmp_path: Path
) -> None:
    kept = tmp_path / "audit-copy.ckpt"
    shutil.copy(anchored.checkpoints / "000000000006.ckpt", kept)
    shutil.rmtree(anchored.checkpoints)
    put(anchored, lines(anchored)[:3])
    assert check(anchored).ok  # the journal alone cannot tell: it looks like one never checkpointed
    report = verify(anchored, load_public_key(public_key_path("cl")), [kept])
    assert not report.ok and report.first_bad == 4 and "truncated" in report.problems[0].what
