"""Boundaries of volume recovery-key escrow: the exact key format, the seal's binding, each refusal on its own.

The key format is checked against an oracle written differently from the product (hex digits translated to
modhex), and sealed blobs are opened with the exact context the module documents.
"""

from __future__ import annotations

import datetime as dt
import os
import stat
from pathlib import Path

import pytest

from sitekit.errors import UserError
from sitekit.pki.backends import FileBackend
from sitekit.pki.escrow import Escrowed, escrowed, format_key, recovery_key
from sitekit.pki.hierarchy import Hierarchy
from sitekit.pki.layout import Layout
from sitekit.spec import Site, load_fleet

REPO = Path(__file__).resolve().parents[2]
HEX_TO_MODHEX = str.maketrans("0123456789abcdef", "cbdefghijklnrtuv")


@pytest.fixture(scope="module")
def site() -> Site:
    return load_fleet(REPO / "sites").site("cl")


def _oracle(raw: bytes) -> str:
    text = raw.hex().translate(HEX_TO_MODHEX)
    return "-".join(text[i * 8 : (i + 1) * 8] for i in range(8))


def _context(host: str, volume: str) -> bytes:
    return f"sitekit volume recovery key v1 cl {host} {volume}".encode()


@pytest.mark.parametrize(
    "raw", [bytes(range(32)), bytes(range(255, 223, -1)), b"\x00" * 32, b"\xff" * 32, os.urandom(32)]
)
def test_format_key_matches_an_independent_encoding(raw: bytes) -> None:
    assert format_key(raw) == _oracle(raw)


def test_format_key_of_known_bytes() -> None:
    assert format_key(b"\x00" * 31 + b"\x1f") == "cccccccc-" * 7 + "ccccccbv"


@pytest.mark.parametrize("size", [0, 31, 33, 64])
def test_format_key_refuses_any_other_length(size: int) -> None:
    with pytest.raises(ValueError, match=r"^a recovery key is 32 bytes$"):
        format_key(b"\x01" * size)


def test_escrowed_key_opens_with_the_documented_context_only(h: Hierarchy) -> None:
    key = recovery_key(h, "cl-gpu-1", "models")
    path = h.layout.base / "escrow" / "cl-gpu-1" / "models.sealed"
    assert path.exists() and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert h.backend.unseal(path.read_bytes(), _context("cl-gpu-1", "models")).decode() == key
    for host, volume in (("cl-gpu-2", "models"), ("cl-gpu-1", "scratch")):
        with pytest.raises(UserError, match="cannot unseal"):
            h.backend.unseal(path.read_bytes(), _context(host, volume))
    # the key is full-entropy: 64 modhex characters decode back to 32 bytes
    raw = bytes.fromhex(key.replace("-", "").translate(str.maketrans("cbdefghijklnrtuv", "0123456789abcdef")))
    assert len(raw) == 32 and format_key(raw) == key


def test_each_name_is_checked_on_its_own(h: Hierarchy) -> None:
    with pytest.raises(UserError) as err:
        recovery_key(h, "Bad_Host", "models")
    assert str(err.value) == "invalid host name 'Bad_Host' (lower case letters, digits, '.' and '-')"
    with pytest.raises(UserError) as err:
        recovery_key(h, "cl-gpu-1", "../x")
    assert str(err.value) == "invalid volume name '../x' (lower case letters, digits, '.' and '-')"
    assert escrowed(h) == []
    longest = "a" * 63
    assert recovery_key(h, longest, longest)
    with pytest.raises(UserError, match=r"^invalid host name"):
        recovery_key(h, "a" * 64, "models")


def test_a_sealed_blob_that_is_not_a_key_is_refused(h: Hierarchy) -> None:
    path = h.layout.base / "escrow" / "cl-gpu-1" / "models.sealed"
    path.parent.mkdir(parents=True)
    path.write_bytes(h.backend.seal(b"not-a-recovery-key", _context("cl-gpu-1", "models")))
    with pytest.raises(UserError) as err:
        recovery_key(h, "cl-gpu-1", "models")
    assert str(err.value) == f"the escrowed key in {path} is not a recovery key"
    good = format_key(b"\x07" * 32)
    path.write_bytes(h.backend.seal(good.encode(), _context("cl-gpu-1", "models")))
    assert recovery_key(h, "cl-gpu-1", "models", create=False) == good
    assert recovery_key(h, "cl-gpu-1", "models") == good  # an existing key is never replaced


def test_a_missing_key_is_named(h: Hierarchy) -> None:
    path = h.layout.base / "escrow" / "cl-gpu-3" / "models.sealed"
    with pytest.raises(UserError) as err:
        recovery_key(h, "cl-gpu-3", "models", create=False)
    assert str(err.value) == f"no recovery key escrowed for cl-gpu-3 volume models ({path} is missing)"
    assert not path.exists()


def test_no_key_is_created_without_a_hierarchy(site: Site, state: Path) -> None:
    h = Hierarchy.open(site)
    with pytest.raises(UserError, match=r"^no key hierarchy for cl"):
        recovery_key(h, "cl-gpu-1", "models")
    assert not (h.layout.base / "escrow").exists()


class _ForgetfulBackend(FileBackend):
    """A file backend whose seal keeps the wrong plaintext: the read-back check must catch it."""

    def seal(self, plaintext: bytes, context: bytes) -> bytes:
        return super().seal(plaintext[::-1], context)


class _CountingBackend(FileBackend):
    """The file backend, recording how many random bytes are asked for."""

    sizes: list[int]

    def random(self, size: int) -> bytes:
        self.sizes = [*getattr(self, "sizes", []), size]
        return super().random(size)


def test_a_key_that_does_not_read_back_is_refused(site: Site, h: Hierarchy) -> None:
    layout = Layout.for_country("cl")
    broken = Hierarchy(site, layout, _ForgetfulBackend(layout.base))
    path = layout.base / "escrow" / "cl-gpu-1" / "models.sealed"
    with pytest.raises(UserError) as err:
        recovery_key(broken, "cl-gpu-1", "models")
    assert str(err.value) == f"the escrowed key in {path} does not read back; nothing was formatted"


def test_the_key_is_32_bytes_from_the_backend(site: Site, h: Hierarchy) -> None:
    layout = Layout.for_country("cl")
    backend = _CountingBackend(layout.base)
    key = recovery_key(Hierarchy(site, layout, backend), "cl-gpu-1", "models")
    assert backend.sizes == [32] and len(key) == 71


def test_escrowed_lists_every_key_sorted_with_whole_second_times(h: Hierarchy) -> None:
    recovery_key(h, "cl-gpu-2", "models")
    recovery_key(h, "cl-gpu-1", "scratch")
    recovery_key(h, "cl-gpu-1", "models")
    base = h.layout.base / "escrow"
    (base / "cl-gpu-1" / "notes.txt").write_text("not a sealed key")
    os.utime(base / "cl-gpu-1" / "scratch.sealed", (1_700_000_000.75, 1_700_000_000.75))
    found = escrowed(h)
    assert [(e.host, e.volume) for e in found] == [
        ("cl-gpu-1", "models"),
        ("cl-gpu-1", "scratch"),
        ("cl-gpu-2", "models"),
    ]
    assert found[1] == Escrowed(
        host="cl-gpu-1",
        volume="scratch",
        created=dt.datetime(2023, 11, 14, 22, 13, 20, tzinfo=dt.UTC),
        path=base / "cl-gpu-1" / "scratch.sealed",
    )
    for item in found:
        assert item.created.tzinfo is dt.UTC and item.created.microsecond == 0
