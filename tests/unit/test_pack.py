"""`sitekit pack`: a fresh pack verifies offline; any changed, added or removed byte fails naming the file;
a pack signed by another country's key fails; the tarball is deterministic; no secret enters a pack."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import shutil
import stat
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from evidence_fixture import write_country_evidence

from sitekit.cli import main
from sitekit.errors import CheckFailed, UserError
from sitekit.pack.build import tarball_bytes, unpack, write_pack
from sitekit.pack.manifest import MANIFEST, SIGNATURE, SIGNING_KEY, fingerprint, load_public_key, sign, verify_pack
from sitekit.pki.hierarchy import Hierarchy
from sitekit.pki.layout import MODEL_SIGNING
from sitekit.spec import Site, load_fleet

REPO = Path(__file__).resolve().parents[2]
PASSPHRASE = "pack-test-passphrase"
PIN = "pack-test-pin-2468"
WHEN = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """cl's keys (file backend) and ee's (SoftHSM2 token), cl's evidence, and one pack of cl."""
    base = tmp_path_factory.mktemp("state")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SITEKIT_STATE", str(base))
        mp.setenv("SITEKIT_KEY_PASSPHRASE", PASSPHRASE)
        mp.setenv("SITEKIT_PKCS11_PIN", PIN)
        mp.setenv("SITEKIT_PKCS11_SO_PIN", PIN + "-so")
        for cc in ("cl", "ee"):
            assert main(["--sites", str(REPO / "sites"), "keys", "init", cc]) == 0
        write_country_evidence(base / "evidence" / "cl", "cl")
        write_pack(_site("cl"), base / "evidence" / "cl", base / "packs", WHEN, root=REPO, sites=REPO / "sites")
        yield base


def _site(cc: str) -> Site:
    return load_fleet(REPO / "sites").site(cc)


@pytest.fixture
def pack(state: Path, tmp_path: Path) -> Path:
    """A private copy of cl's fresh pack."""
    return Path(shutil.copytree(state / "packs" / "cl-pack", tmp_path / "cl-pack"))


def _cl_key(state: Path) -> object:
    return load_public_key((state / "keys" / "cl" / "signing" / f"{MODEL_SIGNING}.pub.pem").read_bytes(), "cl")


def test_fresh_pack_verifies_pinned_and_unpinned(state: Path, pack: Path) -> None:
    key = _cl_key(state)
    done = verify_pack(pack, trusted_key=key)  # type: ignore[arg-type]
    assert done.country == "cl" and done.pinned and done.files > 10
    assert done.absent == {}  # the journal's checkpoint (keys init signed one) and the access map are in
    assert not verify_pack(pack).pinned
    assert verify_pack(pack, trusted_fingerprint=done.key_fingerprint).pinned


def test_pack_holds_what_an_auditor_needs(pack: Path) -> None:
    files = {p.relative_to(pack).as_posix() for p in pack.rglob("*") if p.is_file()}
    assert {
        "oscal/component-definition.json",
        "oscal/assessment-results.json",
        "evidence/cl-cp-1.json",
        "evidence/openscap/cl-cp-1.openscap.json",
        "keys/trust-bundle.pem",
        "keys/ssh/ssh-user-ca-1.pub",
        "keys/ssh/ssh-host-ca-1.pub",
        SIGNING_KEY,
        "spec/Pulumi.cl.yaml",
        "spec/digest.txt",
        "README.md",
        MANIFEST,
        SIGNATURE,
    } <= files
    manifest = json.loads((pack / MANIFEST).read_text())
    assert manifest["absent"] == {}
    checkpoint = (pack / "journal" / "checkpoint.txt").read_text()
    assert checkpoint.startswith("sitekit-journal/v1 cl\n"), checkpoint
    access = json.loads((pack / "access" / "map.json").read_text())
    assert access["country"] == "cl" and access["findings"] == [], access.get("findings")
    stack = (pack / "spec" / "Pulumi.cl.yaml").read_text()
    assert "secure:" not in stack and "encryptionsalt" not in stack


CHANGED = ["oscal/assessment-results.json", "evidence/cl-gpu-1.json", "keys/trust-bundle.pem", "README.md"]


@pytest.mark.parametrize("rel", CHANGED)
def test_one_changed_byte_fails_naming_the_file(pack: Path, rel: str) -> None:
    path = pack / rel
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(CheckFailed, match=rf"^{rel}: content differs"):
        verify_pack(pack)


def test_one_added_byte_fails_naming_the_file(pack: Path) -> None:
    path = pack / "spec" / "digest.txt"
    path.write_bytes(path.read_bytes() + b" ")
    with pytest.raises(CheckFailed, match=r"^spec/digest.txt: content differs"):
        verify_pack(pack)


def test_one_removed_byte_fails_naming_the_file(pack: Path) -> None:
    path = pack / "keys" / "ssh" / "ssh-user-ca-1.pub"
    path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(CheckFailed, match=r"^keys/ssh/ssh-user-ca-1.pub: content differs"):
        verify_pack(pack)


@pytest.mark.parametrize("rel", ["extra.txt", "evidence/cl-cp-2.json"])
def test_an_added_file_fails_naming_it(pack: Path, rel: str) -> None:
    (pack / rel).write_text("{}\n")
    with pytest.raises(CheckFailed, match=rf"^{rel}: not in the signed manifest"):
        verify_pack(pack)


def test_a_removed_file_fails_naming_it(pack: Path) -> None:
    (pack / "oscal" / "component-definition.json").unlink()
    with pytest.raises(CheckFailed, match=r"^oscal/component-definition.json: listed in the manifest but missing"):
        verify_pack(pack)


def test_a_changed_manifest_fails(pack: Path) -> None:
    path = pack / MANIFEST
    path.write_text(path.read_text().replace('"country": "cl"', '"country": "ee"'))
    with pytest.raises(CheckFailed, match=r"^manifest.json: signature in manifest.sig does not verify"):
        verify_pack(pack)


def test_a_link_in_the_pack_fails(pack: Path) -> None:
    (pack / "evidence" / "passwd").symlink_to("/etc/passwd")
    with pytest.raises(CheckFailed, match=r"^evidence/passwd: not a regular file"):
        verify_pack(pack)


def _resign(pack: Path, cc: str, *, swap_key: bool) -> None:
    """Sign the pack's manifest with country `cc`'s key; with `swap_key` also carry that key (and list it)."""
    with Hierarchy.open(_site(cc)) as h:
        signer = h.backend.signer(MODEL_SIGNING)
        if swap_key:
            pem = (h.layout.base / "signing" / f"{MODEL_SIGNING}.pub.pem").read_bytes()
            (pack / SIGNING_KEY).write_bytes(pem)
            manifest = json.loads((pack / MANIFEST).read_text())
            manifest["files"][SIGNING_KEY] = {"sha256": __import__("hashlib").sha256(pem).hexdigest(), "size": len(pem)}
            (pack / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        (pack / SIGNATURE).write_bytes(sign((pack / MANIFEST).read_bytes(), signer))


def test_signed_by_another_countrys_key_fails(state: Path, pack: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SITEKIT_STATE", str(state))
    monkeypatch.setenv("SITEKIT_PKCS11_PIN", PIN)
    _resign(pack, "ee", swap_key=False)
    with pytest.raises(CheckFailed, match=r"^manifest.json: signature in manifest.sig does not verify"):
        verify_pack(pack)


def test_a_consistent_pack_of_another_key_fails_when_pinned(
    state: Path, pack: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SITEKIT_STATE", str(state))
    monkeypatch.setenv("SITEKIT_PKCS11_PIN", PIN)
    _resign(pack, "ee", swap_key=True)
    unpinned = verify_pack(pack)  # internally consistent: only pinning tells whose key it is
    cl = _cl_key(state)
    assert unpinned.key_fingerprint != fingerprint(cl)  # type: ignore[arg-type]
    with pytest.raises(
        CheckFailed, match=r"^manifest.json: signature in manifest.sig does not verify with the trusted"
    ):
        verify_pack(pack, trusted_key=cl)  # type: ignore[arg-type]
    with pytest.raises(CheckFailed, match=r"^keys/signing-key.pub.pem: the pack's signing key .* is not the trusted"):
        verify_pack(pack, trusted_fingerprint=fingerprint(cl))  # type: ignore[arg-type]


def test_tarball_is_deterministic_and_verifies(state: Path, pack: Path, tmp_path: Path) -> None:
    first = tarball_bytes(pack, "cl-pack")
    os.utime(pack / "README.md", (1, 1))
    assert tarball_bytes(pack, "cl-pack") == first
    assert (state / "packs" / "cl-pack.tar.gz").read_bytes() == first
    with tarfile.open(fileobj=io.BytesIO(first), mode="r:gz") as tar:
        members = tar.getmembers()
    names = [m.name for m in members]
    assert names[0] == "cl-pack" and names[1:] == sorted(names[1:]) and len(set(names)) == len(names)
    assert {m.name for m in members if m.isfile()} == {
        f"cl-pack/{p.relative_to(pack).as_posix()}" for p in pack.rglob("*") if p.is_file()
    }
    assert {(m.mtime, m.uid, m.gid, m.uname, m.gname) for m in members} == {(0, 0, 0, "", "")}
    out = unpack(state / "packs" / "cl-pack.tar.gz", tmp_path / "x")
    assert verify_pack(out).country == "cl"


def test_a_hostile_tarball_is_refused(tmp_path: Path) -> None:
    evil = tmp_path / "evil.tar.gz"
    with tarfile.open(evil, "w:gz") as tar:
        info = tarfile.TarInfo("cl-pack/../../escape.txt")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"hi"))
    with pytest.raises(UserError, match=r"evil\.tar\.gz"):
        unpack(evil, tmp_path / "x")
    assert not (tmp_path / "escape.txt").exists()
    linked = tmp_path / "linked.tar.gz"
    with tarfile.open(linked, "w:gz") as tar:
        info = tarfile.TarInfo("cl-pack/manifest.json")
        info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(info)
    with pytest.raises(UserError, match="not a pack tarball"):
        unpack(linked, tmp_path / "y")


def test_a_hostile_manifest_path_fails(pack: Path, state: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SITEKIT_STATE", str(state))
    manifest = json.loads((pack / MANIFEST).read_text())
    manifest["files"]["../outside"] = {"sha256": "0" * 64, "size": 0}
    (pack / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    _resign(pack, "cl", swap_key=False)
    with pytest.raises(CheckFailed, match=r"unsafe or reserved file name '../outside'"):
        verify_pack(pack)


def test_no_secret_in_the_pack(state: Path) -> None:
    blob = b"".join(p.read_bytes() for p in sorted((state / "packs").rglob("*")) if p.is_file())
    with tarfile.open(state / "packs" / "cl-pack.tar.gz") as tar:
        blob += b"".join(tar.extractfile(m).read() for m in tar.getmembers() if m.isfile())  # type: ignore[union-attr]
    assert b"PRIVATE KEY" not in blob
    for secret in (PASSPHRASE, PIN):
        assert secret.encode() not in blob
    # Every file the key state keeps from other users, except state.json: its metadata is public (layout.py)
    # but written 0600 with the rest; the pack's keys/status.json repeats its expiry dates on purpose.
    private = [
        p
        for p in (state / "keys").rglob("*")
        if p.is_file() and not p.stat().st_mode & stat.S_IROTH and p.name != "state.json"
    ]
    assert private, "the state has no private files: the scan would prove nothing"
    for path in private:
        for line in path.read_bytes().splitlines():
            if len(line.strip()) >= 16:
                assert line.strip() not in blob, f"a line of {path} is in the pack"


def test_cli_exit_codes(
    state: Path, pack: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SITEKIT_STATE", str(state))
    key = state / "keys" / "cl" / "signing" / f"{MODEL_SIGNING}.pub.pem"
    assert main(["pack", "verify", str(pack), "--key", str(key)]) == 0
    assert "cl: pack verified" in capsys.readouterr().out
    (pack / "README.md").write_text("changed\n")
    assert main(["pack", "verify", str(pack)]) == 1
    assert "README.md: content differs" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(["pack", "verify"])
    assert info.value.code == 2
    with pytest.raises(SystemExit) as info:
        main(["pack", "../etc"])
    assert info.value.code == 2
    assert main(["pack", "verify", str(pack / "nowhere")]) == 2


def test_cli_writes_a_pack_that_verifies_by_fingerprint(
    state: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SITEKIT_STATE", str(state))
    monkeypatch.setenv("SITEKIT_KEY_PASSPHRASE", PASSPHRASE)
    sites = ["--sites", str(REPO / "sites")]
    assert main([*sites, "pack", "cl", "--out", str(tmp_path), "--evidence", str(state / "evidence" / "cl")]) == 0
    out = capsys.readouterr().out
    fp = out.split("sha256:")[1].split()[0]
    assert "empty slot" not in out  # the journal's checkpoint and the access map are both in
    assert main(["pack", "verify", str(tmp_path / "cl-pack.tar.gz"), "--fingerprint", fp]) == 0
    assert "signing key sha256:" + fp in capsys.readouterr().out
    assert main(["pack", "verify", str(tmp_path / "cl-pack"), "--fingerprint", "00" * 32]) == 1


def test_pack_without_evidence_names_the_folder(state: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SITEKIT_STATE", str(state))
    monkeypatch.setenv("SITEKIT_KEY_PASSPHRASE", PASSPHRASE)
    with pytest.raises(UserError, match=r"no evidence for cl under .*/nothing"):
        write_pack(_site("cl"), tmp_path / "nothing", tmp_path / "out", WHEN)


def test_a_changed_signing_key_fails_naming_it(state: Path, pack: Path) -> None:
    path = pack / SIGNING_KEY
    lines = path.read_bytes().splitlines(keepends=True)
    body = bytearray(lines[1])
    body[10] = ord("A") if body[10] != ord("A") else ord("B")
    path.write_bytes(b"".join([lines[0], bytes(body), *lines[2:]]))
    with pytest.raises(CheckFailed, match=r"^(keys/signing-key\.pub\.pem: |manifest\.json: signature)"):
        verify_pack(pack)
    with pytest.raises(CheckFailed, match=r"^keys/signing-key\.pub\.pem: content differs"):
        verify_pack(pack, trusted_key=_cl_key(state))  # type: ignore[arg-type]


def test_same_inputs_same_pack_but_the_signature(state: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SITEKIT_STATE", str(state))
    monkeypatch.setenv("SITEKIT_KEY_PASSPHRASE", PASSPHRASE)
    again = write_pack(_site("cl"), state / "evidence" / "cl", tmp_path, WHEN, root=REPO, sites=REPO / "sites").folder
    first = state / "packs" / "cl-pack"
    names = sorted(p.relative_to(first).as_posix() for p in first.rglob("*") if p.is_file())
    assert names == sorted(p.relative_to(again).as_posix() for p in again.rglob("*") if p.is_file())
    differ = [n for n in names if (first / n).read_bytes() != (again / n).read_bytes()]
    assert differ == [SIGNATURE]  # ECDSA signatures are randomised; everything signed is reproducible
