"""Boot-loader passwords: sealed in custody, one per host, only their GRUB PBKDF2 hash leaves the controller."""

from __future__ import annotations

import json
import re
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from sitekit.cli import main
from sitekit.errors import UserError
from sitekit.pki.bootpass import (
    ITERATIONS,
    boot_hash,
    boot_password,
    boot_passwords,
    grub_pbkdf2,
    grub_pbkdf2_matches,
    verify_custody,
)
from sitekit.pki.escrow import MODHEX
from sitekit.pki.hierarchy import Hierarchy
from sitekit.spec import Site, load_fleet

REPO = Path(__file__).resolve().parents[2]
PASSWORD = re.compile(rf"^([{MODHEX}]{{8}}-){{3}}[{MODHEX}]{{8}}$")
# What grub-mkpasswd-pbkdf2 prints (and GRUB's password_pbkdf2 parses): count, 64-byte salt, 64-byte hash.
GRUB_FORM = re.compile(r"^grub\.pbkdf2\.sha512\.(\d+)\.([0-9A-F]{128})\.([0-9A-F]{128})$")


@pytest.fixture(scope="module")
def site() -> Site:
    return load_fleet(REPO / "sites").site("cl")  # the file backend


def test_hash_is_grubs_form_and_agrees_with_an_independent_pbkdf2() -> None:
    salt = bytes(range(64))
    encoded = grub_pbkdf2("correct horse", salt)
    m = GRUB_FORM.match(encoded)
    assert m and int(m.group(1)) == ITERATIONS and bytes.fromhex(m.group(2)) == salt
    kdf = PBKDF2HMAC(algorithm=hashes.SHA512(), length=64, salt=salt, iterations=ITERATIONS)
    assert bytes.fromhex(m.group(3)) == kdf.derive(b"correct horse")
    assert grub_pbkdf2_matches("correct horse", encoded)
    assert not grub_pbkdf2_matches("correct horsE", encoded)
    assert not grub_pbkdf2_matches("correct horse", encoded.replace("sha512", "sha256"))
    with pytest.raises(ValueError):
        grub_pbkdf2("x", b"")


def test_created_once_sealed_private_stable_and_one_per_host(h: Hierarchy) -> None:
    encoded = boot_hash(h, "cl-gpu-1")
    assert GRUB_FORM.match(encoded)
    assert boot_hash(h, "cl-gpu-1", create=False) == encoded  # every run gives the host the same line
    password = boot_password(h, "cl-gpu-1", create=False)
    assert PASSWORD.match(password) and grub_pbkdf2_matches(password, encoded)
    verify_custody(h, "cl-gpu-1")
    [item] = boot_passwords(h)
    assert item.host == "cl-gpu-1"
    base = item.path.parent
    for path in (item.path, base / "cl-gpu-1.grub"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert password.encode() not in path.read_bytes()
        assert password.replace("-", "").encode() not in path.read_bytes()
    assert stat.S_IMODE(base.stat().st_mode) == 0o700
    assert boot_password(h, "cl-cp-1") != password


def test_no_create_refuses_and_hosts_outside_the_spec_get_nothing(h: Hierarchy) -> None:
    with pytest.raises(UserError, match="no boot-loader password"):
        boot_hash(h, "cl-gpu-1", create=False)
    with pytest.raises(UserError, match="not a host of"):
        boot_hash(h, "cl-gpu-99")
    for host in ("../cl-gpu-1", "", "cl gpu"):
        with pytest.raises(UserError, match="invalid host"):
            boot_hash(h, host)
    assert boot_passwords(h) == []


def test_a_hash_nobody_holds_the_password_of_is_refused(h: Hierarchy) -> None:
    boot_hash(h, "cl-gpu-1")
    base = h.layout.base / "boot"
    (base / "cl-gpu-1.sealed").unlink()
    with pytest.raises(UserError, match="nobody holds"):
        boot_hash(h, "cl-gpu-1")
    # a hash that is not the sealed password's fails custody verification
    boot_hash(h, "cl-cp-1")
    (base / "cl-cp-1.grub").write_text(grub_pbkdf2("something else", b"s" * 64) + "\n")
    with pytest.raises(UserError, match="does not match"):
        verify_custody(h, "cl-cp-1")


def test_sealed_password_is_bound_to_its_host(h: Hierarchy) -> None:
    boot_hash(h, "cl-gpu-1")
    base = h.layout.base / "boot"
    (base / "cl-cp-1.sealed").write_bytes((base / "cl-gpu-1.sealed").read_bytes())
    with pytest.raises(UserError):
        boot_password(h, "cl-cp-1", create=False)


def test_a_lost_hash_is_derived_again_from_the_sealed_password(h: Hierarchy) -> None:
    boot_hash(h, "cl-gpu-1")
    (h.layout.base / "boot" / "cl-gpu-1.grub").unlink()
    again = boot_hash(h, "cl-gpu-1", create=False)
    assert grub_pbkdf2_matches(boot_password(h, "cl-gpu-1", create=False), again)


def test_cli_prints_the_hash_for_the_role_and_journals_the_creation(
    state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sites = str(REPO / "sites")
    assert main(["--sites", sites, "keys", "init", "cl"]) == 0
    capsys.readouterr()
    assert main(["--sites", sites, "keys", "boot-password", "cl", "--host", "cl-gpu-1", "--hash"]) == 0
    encoded = capsys.readouterr().out.strip()
    assert GRUB_FORM.match(encoded)
    assert main(["--sites", sites, "keys", "boot-password", "cl", "--host", "cl-gpu-1", "--no-create"]) == 0
    password = capsys.readouterr().out
    assert grub_pbkdf2_matches(password, encoded)
    assert main(["--sites", sites, "keys", "status", "cl"]) == 0
    assert "boot-loader password of cl-gpu-1" in capsys.readouterr().out
    raw = b"".join(p.read_bytes() for p in state.rglob("journal.jsonl"))
    commands = [json.loads(line)["command"] for line in raw.splitlines()]
    assert any("boot-password" in c for c in commands), commands  # creating one changes the key state
    assert password.encode() not in raw and password.replace("-", "").encode() not in raw
