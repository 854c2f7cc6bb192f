"""M-of-N custody of the root: recovery works with M shares, fails with M-1, and restores the same key."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from sitekit.errors import UserError
from sitekit.pki.custody import create_backup, read_share, recover
from sitekit.pki.hierarchy import Hierarchy
from sitekit.spec import Site, load_fleet

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def site() -> Site:
    return load_fleet(REPO / "sites").site("cl")


@pytest.fixture(scope="module")
def setup(site: Site, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Hierarchy, list[str]]]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SITEKIT_STATE", str(tmp_path_factory.mktemp("state")))
        mp.setenv("SITEKIT_KEY_PASSPHRASE", "unit-test-passphrase")
        h = Hierarchy.open(site)
        h.init()
        paths = create_backup(h)
        yield h, [read_share(p) for p in paths]


def test_one_share_file_per_custodian_0600(setup: tuple[Hierarchy, list[str]], site: Site) -> None:
    h, shares = setup
    files = sorted((h.layout.custody / "shares").glob("*.txt"))
    assert len(files) == len(site.keys.custodians) == len(shares)
    for path, custodian in zip(files, site.keys.custodians, strict=True):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert custodian.name in path.read_text()
    assert len(set(shares)) == len(shares)


def test_recovery_with_m_shares_restores_the_root(setup: tuple[Hierarchy, list[str]], site: Site) -> None:
    h, shares = setup
    root_file = h.layout.base / "private" / "root.p8"
    root_file.unlink()
    fresh = Hierarchy.open(site)
    result = recover(fresh, shares[-site.keys.threshold :])
    assert result["shares_used"] == site.keys.threshold
    again = Hierarchy.open(site)
    signature = again.backend.signer("root").sign(b"proof", ec.ECDSA(hashes.SHA384()))
    pub = again.root_cert().public_key()
    assert isinstance(pub, ec.EllipticCurvePublicKey)
    pub.verify(signature, b"proof", ec.ECDSA(hashes.SHA384()))


def test_recovery_with_m_minus_one_shares_is_refused(setup: tuple[Hierarchy, list[str]], site: Site) -> None:
    h, shares = setup
    with pytest.raises(UserError, match="needs"):
        recover(h, shares[: site.keys.threshold - 1])
    with pytest.raises(UserError, match="needs"):
        recover(h, [shares[0]] * site.keys.threshold)  # the same share twice counts once


def test_shares_of_another_split_do_not_open_the_backup(setup: tuple[Hierarchy, list[str]], site: Site) -> None:
    import shamir_mnemonic

    h, _ = setup
    foreign = shamir_mnemonic.generate_mnemonics(1, [(2, 3)], b"\x01" * 32)[0][:2]
    with pytest.raises(UserError, match="do not open"):
        recover(h, foreign)


def test_every_custodian_at_the_ceremony_restores_the_root(setup: tuple[Hierarchy, list[str]], site: Site) -> None:
    """More than M shares (all N custodians came) restore the root; SLIP-39 itself combines exactly M."""
    h, shares = setup
    assert len(shares) > site.keys.threshold
    result = recover(h, shares)
    assert result == {"restored": "root", "shares_used": site.keys.threshold, "threshold": site.keys.threshold}


def test_a_foreign_share_among_more_than_m_is_refused(setup: tuple[Hierarchy, list[str]], site: Site) -> None:
    """An extra share from another split is an error, not silently left out of the combination."""
    import shamir_mnemonic

    h, shares = setup
    foreign = shamir_mnemonic.generate_mnemonics(1, [(2, 3)], b"\x02" * 32)[0][0]
    with pytest.raises(UserError, match=r"^the shares do not combine: the shares come from different splits$"):
        recover(h, [*shares[: site.keys.threshold], foreign])
