"""Boundaries of M-of-N root custody: any M of N restore, M-1 never do, foreign or altered material is refused.

The backup is opened here with `shamir_mnemonic` and AES-GCM directly (the format the module documents), not
with `recover`, so that what the shares protect is checked independently of the product's own reading.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import shamir_mnemonic
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from shamir_mnemonic import Share

from sitekit.errors import UserError
from sitekit.pki.custody import NO_BACKUP_REASON, _slug, create_backup, read_share, recover, share_dir
from sitekit.pki.hierarchy import Hierarchy, now
from sitekit.pki.layout import Layout
from sitekit.spec import Site, load_fleet
from sitekit.spec.models import Custodian

REPO = Path(__file__).resolve().parents[2]
SOFTHSM = "/usr/lib/softhsm/libsofthsm2.so"


@pytest.fixture(scope="module")
def site() -> Site:
    return load_fleet(REPO / "sites").site("cl")  # 2 of 3, file backend


def _with_keys(site: Site, threshold: int, names: list[str]) -> Site:
    custodians = tuple(Custodian(name=n, role="officer") for n in names)
    return site.model_copy(
        update={"keys": site.keys.model_copy(update={"threshold": threshold, "custodians": custodians})}
    )


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SITEKIT_STATE", str(tmp_path / "state"))
    monkeypatch.setenv("SITEKIT_KEY_PASSPHRASE", "unit-test-passphrase")
    return tmp_path / "state"


def _open(site: Site) -> Hierarchy:
    h = Hierarchy.open(site)
    h.init()
    return h


@pytest.fixture
def h(site: Site, state: Path) -> Iterator[Hierarchy]:
    hierarchy = _open(site)
    yield hierarchy
    hierarchy.close()


def _root_der(h: Hierarchy) -> bytes:
    return h.backend.export_for_backup("root")


def _aad(h: Hierarchy) -> bytes:
    fingerprint = hashlib.sha256(h.layout.cert_path("root").read_bytes()).hexdigest()
    return f"sitekit:cl:root-backup:{fingerprint}".encode()


def _seal_backup(h: Hierarchy, backup_key: bytes, der: bytes) -> None:
    """Replace the backup blob with `der` encrypted the documented way under `backup_key`."""
    nonce = os.urandom(12)
    blob = b"SKB1" + nonce + AESGCM(backup_key).encrypt(nonce, der, _aad(h))
    (h.layout.custody / "root-backup.bin").write_bytes(blob)


def _restored_key_signs_for_the_root(site: Site) -> None:
    again = Hierarchy.open(site)
    signature = again.backend.signer("root").sign(b"proof", ec.ECDSA(hashes.SHA384()))
    pub = again.root_cert().public_key()
    assert isinstance(pub, ec.EllipticCurvePublicKey)
    pub.verify(signature, b"proof", ec.ECDSA(hashes.SHA384()))


def test_the_shares_open_the_backup_independently(h: Hierarchy) -> None:
    shares = [read_share(p) for p in create_backup(h)]
    parsed = [Share.from_mnemonic(s) for s in shares]
    assert [(p.group_threshold, p.group_count, p.member_threshold, p.extendable) for p in parsed] == [
        (1, 1, 2, True)
    ] * 3
    assert sorted(p.index for p in parsed) == [0, 1, 2]
    backup_key = shamir_mnemonic.combine_mnemonics([shares[2], shares[0]], passphrase=b"")
    assert len(backup_key) == 32
    blob = (h.layout.custody / "root-backup.bin").read_bytes()
    assert blob[:4] == b"SKB1"
    der = AESGCM(backup_key).decrypt(blob[4:16], blob[16:], _aad(h))
    assert der == _root_der(h)
    assert stat.S_IMODE((h.layout.custody / "root-backup.bin").stat().st_mode) == 0o600


def test_share_files_are_named_and_worded_exactly(h: Hierarchy) -> None:
    paths = create_backup(h)
    folder = h.layout.base / "custody" / "shares"
    assert share_dir(h) == folder
    assert paths == [
        folder / "01-camila-rojas.txt",
        folder / "02-diego-fuentes.txt",
        folder / "03-valentina-mu-oz.txt",
    ]
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for index, (path, (name, role)) in enumerate(
        zip(
            paths,
            [("Camila Rojas", "security-officer"), ("Diego Fuentes", "platform-lead"), ("Valentina Muñoz", "legal")],
            strict=True,
        ),
        start=1,
    ):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        lines = path.read_text().split("\n")
        assert lines[:3] == [
            f"# sitekit cl root backup share {index} of 3 (any 2 restore the root)",
            f"# custodian: {name} ({role})",
            "# SECRET: hand to the custodian, then delete this file from the controller.",
        ]
        assert lines[4:] == [""] and len(lines[3].split()) == 33  # SLIP-39 words for a 256-bit secret
        assert Share.from_mnemonic(lines[3]).member_threshold == 2


def test_custody_metadata_is_recorded_and_saved(h: Hierarchy) -> None:
    before = now()
    create_backup(h)
    custody = h.meta["custody"]
    created = dt.datetime.fromisoformat(custody.pop("created"))
    assert before <= created <= now()
    assert custody == {
        "mode": "slip39",
        "threshold": 2,
        "shares": 3,
        "custodians": ["Camila Rojas", "Diego Fuentes", "Valentina Muñoz"],
        "backup": "custody/root-backup.bin",
    }
    on_disk = Layout.for_country("cl").load_meta()["custody"]
    assert on_disk["mode"] == "slip39" and on_disk["custodians"] == custody["custodians"]


def test_a_new_split_removes_old_share_files_only(h: Hierarchy) -> None:
    folder = share_dir(h)
    folder.mkdir(parents=True)
    (folder / "07-old-custodian.txt").write_text("old share")
    (folder / "README.md").write_text("keep")
    paths = create_backup(h)
    assert sorted(folder.iterdir()) == sorted([*paths, folder / "README.md"])


def test_slug() -> None:
    assert _slug("Valentina Muñoz") == "valentina-mu-oz"
    assert _slug("  O'Brien, Ana  ") == "o-brien-ana"
    assert _slug("Ñ") == "custodian"
    assert _slug("李") == "custodian"


def test_read_share_ignores_comments_and_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "s.txt"
    path.write_text("# header\n\n  alpha beta  \n# middle\ngamma\n\n")
    assert read_share(path) == "alpha beta gamma"


@pytest.mark.parametrize("combo", list(itertools.combinations(range(3), 2)))
def test_any_two_of_three_restore_the_root(site: Site, h: Hierarchy, combo: tuple[int, ...]) -> None:
    shares = [read_share(p) for p in create_backup(h)]
    (h.layout.base / "private" / "root.p8").unlink()
    result = recover(Hierarchy.open(site), [shares[i] for i in combo])
    assert result == {"restored": "root", "shares_used": 2, "threshold": 2}
    _restored_key_signs_for_the_root(site)


def test_all_shares_restore_too(site: Site, h: Hierarchy) -> None:
    shares = [read_share(p) for p in create_backup(h)]
    (h.layout.base / "private" / "root.p8").unlink()
    assert recover(Hierarchy.open(site), shares) == {"restored": "root", "shares_used": 2, "threshold": 2}
    _restored_key_signs_for_the_root(site)


def test_three_of_four_any_three_restore_no_two_do(site: Site, state: Path) -> None:
    four = _with_keys(site, 3, ["Ana One", "Ben Two", "Cai Three", "Dee Four"])
    h = _open(four)
    shares = [read_share(p) for p in create_backup(h)]
    assert len(shares) == 4
    for combo in itertools.combinations(shares, 3):
        assert recover(Hierarchy.open(four), list(combo))["shares_used"] == 3
    for pair in itertools.combinations(shares, 2):
        with pytest.raises(UserError) as err:
            recover(Hierarchy.open(four), list(pair))
        assert str(err.value) == "2 distinct share(s) given; the ceremony needs 3"


def test_duplicates_and_blanks_do_not_count(h: Hierarchy) -> None:
    shares = [read_share(p) for p in create_backup(h)]
    reflowed = "  " + shares[0].replace(" ", "\n   ") + "\n"
    for given in ([shares[0]], [shares[0], shares[0]], [shares[0], reflowed], [shares[1], "", "  \n "]):
        with pytest.raises(UserError) as err:
            recover(h, given)
        assert str(err.value) == "1 distinct share(s) given; the ceremony needs 2"
    assert recover(h, [reflowed, shares[1]])["shares_used"] == 2


def test_threshold_boundaries_when_splitting(site: Site, state: Path) -> None:
    names = ["Ana One", "Ben Two", "Cai Three"]
    with pytest.raises(UserError) as err:
        create_backup(_open(_with_keys(site, 4, names)))
    assert str(err.value) == "threshold 4 is larger than the 3 custodians named in the spec"
    with pytest.raises(UserError) as err:
        create_backup(_open(_with_keys(site, 1, names[:2])))
    assert str(err.value) == "a 1-of-N split would give every custodian the whole root: set threshold to 2 or more"


def test_n_of_n_needs_every_share(site: Site, state: Path) -> None:
    three = _with_keys(site, 3, ["Ana One", "Ben Two", "Cai Three"])
    h = _open(three)
    shares = [read_share(p) for p in create_backup(h)]
    with pytest.raises(UserError, match=r"^2 distinct share"):
        recover(h, shares[1:])
    assert recover(h, shares)["threshold"] == 3


def test_a_single_custodian_holds_a_one_of_one_share(site: Site, state: Path) -> None:
    one = _with_keys(site, 1, ["Ana One"])
    h = _open(one)
    [path] = create_backup(h)
    assert path.name == "01-ana-one.txt"
    assert recover(h, [read_share(path)]) == {"restored": "root", "shares_used": 1, "threshold": 1}


def test_recover_without_a_share_backup(site: Site, h: Hierarchy, state: Path) -> None:
    with pytest.raises(UserError) as err:
        recover(h, ["a", "b"])
    assert str(err.value) == f"no share-based backup for cl: {NO_BACKUP_REASON}"
    h.meta["custody"] = {"mode": "none", "reason": "the HSM clones itself"}
    with pytest.raises(UserError) as err:
        recover(h, ["a", "b"])
    assert str(err.value) == "no share-based backup for cl: the HSM clones itself"
    shutil.rmtree(h.layout.base)
    with pytest.raises(UserError, match=r"^no key hierarchy for cl"):
        recover(Hierarchy.open(site), ["a", "b"])


def test_shares_from_two_splits_do_not_combine(h: Hierarchy) -> None:
    ours = [read_share(p) for p in create_backup(h)]
    foreign = shamir_mnemonic.generate_mnemonics(1, [(2, 3)], b"\x01" * 32)[0]
    with pytest.raises(UserError, match=r"^the shares do not combine: "):
        recover(h, [ours[0], foreign[1]])
    with pytest.raises(UserError) as err:
        recover(h, foreign[:2])
    assert str(err.value) == "the shares combine but do not open this country's root backup"


def test_a_passphrase_protected_split_does_not_open_the_backup(h: Hierarchy) -> None:
    """The split is made with the empty passphrase; the same key split under another passphrase differs."""
    shares = [read_share(p) for p in create_backup(h)]
    key = shamir_mnemonic.combine_mnemonics(shares[:2], passphrase=b"")
    other = shamir_mnemonic.generate_mnemonics(1, [(2, 3)], key, passphrase=b"TREZOR")[0]
    with pytest.raises(UserError, match="do not open"):
        recover(h, other[:2])


def test_the_backup_is_bound_to_the_root_certificate(h: Hierarchy) -> None:
    shares = [read_share(p) for p in create_backup(h)]
    root = h.layout.cert_path("root")
    root.write_bytes(root.read_bytes() + b"\n")  # the same certificate, another fingerprint
    with pytest.raises(UserError, match=r"^the shares combine but do not open this country's root backup$"):
        recover(h, shares[:2])


def test_an_altered_backup_header_is_refused(h: Hierarchy) -> None:
    shares = [read_share(p) for p in create_backup(h)]
    blob = h.layout.custody / "root-backup.bin"
    blob.write_bytes(b"SKB0" + blob.read_bytes()[4:])
    with pytest.raises(UserError) as err:
        recover(h, shares[:2])
    assert str(err.value) == "custody/root-backup.bin is not a sitekit root backup"


@pytest.mark.parametrize("kind", ["ec", "ed25519"])
def test_a_backup_of_another_key_is_refused(h: Hierarchy, kind: str) -> None:
    shares = [read_share(p) for p in create_backup(h)]
    backup_key = shamir_mnemonic.combine_mnemonics(shares[:2], passphrase=b"")
    other = ec.generate_private_key(ec.SECP384R1()) if kind == "ec" else ed25519.Ed25519PrivateKey.generate()
    der = other.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    _seal_backup(h, backup_key, der)
    before = (h.layout.base / "private" / "root.p8").read_bytes()
    with pytest.raises(UserError) as err:
        recover(h, shares[:2])
    assert str(err.value) == "the recovered key does not match the root certificate"
    assert (h.layout.base / "private" / "root.p8").read_bytes() == before
    _seal_backup(h, backup_key, _root_der(h))  # the same key sealed the same way is accepted
    assert recover(h, shares[1:])["restored"] == "root"


@pytest.mark.skipif(not Path(SOFTHSM).exists() or shutil.which("softhsm2-util") is None, reason="no softhsm2")
def test_pkcs11_custody_is_recorded_as_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sitekit.pki.token import init_softhsm_token

    ee = load_fleet(REPO / "sites").site("ee")
    state = tmp_path / "state"
    monkeypatch.setenv("SITEKIT_STATE", str(state))
    monkeypatch.setenv("SOFTHSM2_CONF", str(state / "softhsm2.conf"))
    (state / "tokens").mkdir(parents=True)
    (state / "softhsm2.conf").write_text(f"directories.tokendir = {state / 'tokens'}\nlog.level = ERROR\n")
    monkeypatch.setenv("SITEKIT_PKCS11_PIN", "4321")
    monkeypatch.setenv("SITEKIT_PKCS11_SO_PIN", "87654321")
    init_softhsm_token(ee)
    with Hierarchy.open(ee) as h:
        h.init()
        assert h.meta["pkcs11"] == {"module": SOFTHSM, "token_label": "sitekit-ee"}
        before = now()
        assert create_backup(h) == []
        custody = h.meta["custody"]
        assert before <= dt.datetime.fromisoformat(custody.pop("created")) <= now()
        assert custody == {"mode": "none", "reason": NO_BACKUP_REASON}
        assert Layout.for_country("ee").load_meta()["custody"]["mode"] == "none"
        assert not (h.layout.custody / "shares").exists()
        with pytest.raises(UserError) as err:
            recover(h, ["a", "b"])
        assert str(err.value) == f"no share-based backup for ee: {NO_BACKUP_REASON}"
