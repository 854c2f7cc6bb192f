"""SSH CAs: Ed25519, user certificates short-lived and scoped, host certificates reused while good; a
P-384 CA made before the key type was recorded keeps signing until rotation moves it to Ed25519."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.serialization import SSHCertificate, SSHCertificateType, load_ssh_public_identity

from sitekit.errors import UserError
from sitekit.pki.hierarchy import Hierarchy, now
from sitekit.pki.ssh import ca_public_lines, known_hosts_lines, sign_host, sign_user
from sitekit.spec import Site, load_fleet

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def site() -> Site:
    return load_fleet(REPO / "sites").site("cl")


@pytest.fixture(scope="module")
def h(site: Site, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hierarchy]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SITEKIT_STATE", str(tmp_path_factory.mktemp("state")))
        mp.setenv("SITEKIT_KEY_PASSPHRASE", "unit-test-passphrase")
        hierarchy = Hierarchy.open(site)
        hierarchy.init()
        yield hierarchy


def _pub() -> str:
    key = ed25519.Ed25519PrivateKey.generate().public_key()
    return key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()


def test_user_certificate(h: Hierarchy) -> None:
    line = sign_user(h, _pub(), ["sre-admin"], "alice")
    cert = load_ssh_public_identity(line.encode())
    assert isinstance(cert, SSHCertificate)
    cert.verify_cert_signature()
    assert cert.type == SSHCertificateType.USER
    assert cert.valid_principals == [b"sre-admin"]
    assert cert.valid_before - time.time() <= h.site.keys.validity.ssh_user_cert_hours * 3600 + 5
    ca = cert.signature_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    assert ca.decode().split()[:2] == ca_public_lines(h, "ssh-user-ca")[0].split()[:2]
    with pytest.raises(UserError):
        sign_user(h, _pub(), ["sre-admin"], "alice", hours=h.site.keys.validity.ssh_user_cert_hours + 1)


def test_host_certificate_is_reused_while_good(h: Hierarchy) -> None:
    pub = _pub()
    first = sign_host(h, pub, ["cl-cp-1", "10.40.0.11"], "cl-cp-1")
    assert sign_host(h, pub, ["cl-cp-1", "10.40.0.11"], "cl-cp-1", existing=first) == first
    assert sign_host(h, pub, ["cl-cp-1"], "cl-cp-1", existing=first) != first  # principals changed
    assert sign_host(h, _pub(), ["cl-cp-1", "10.40.0.11"], "cl-cp-1", existing=first) != first  # key changed
    cert = load_ssh_public_identity(first.encode())
    assert isinstance(cert, SSHCertificate) and cert.type == SSHCertificateType.HOST
    assert known_hosts_lines(h)[0].startswith("@cert-authority * ssh-ed25519 ")


@pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="ssh-keygen not installed")
def test_openssh_accepts_the_certificate(h: Hierarchy, tmp_path: Path) -> None:
    (tmp_path / "k.pub").write_text(_pub() + "\n")
    (tmp_path / "k-cert.pub").write_text(sign_user(h, (tmp_path / "k.pub").read_text(), ["platform"], "bob"))
    out = subprocess.run(["ssh-keygen", "-L", "-f", str(tmp_path / "k-cert.pub")], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "Signing CA: ED25519 " in out.stdout and "platform" in out.stdout


def test_ssh_ca_rotation_keeps_the_old_ca_for_the_certificate_lifetime(
    h: Hierarchy, monkeypatch: pytest.MonkeyPatch
) -> None:
    import datetime as dt

    from sitekit.pki import ssh

    old_line = ca_public_lines(h, "ssh-user-ca")[0]
    assert ssh.rotate_ca(h, "ssh-user-ca") == "ssh-user-ca-2"
    lines = ca_public_lines(h, "ssh-user-ca")
    assert len(lines) == 2 and lines[1] == old_line
    cert = load_ssh_public_identity(sign_user(h, _pub(), ["sre-admin"], "carol").encode())
    assert isinstance(cert, SSHCertificate)
    signer = cert.signature_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    assert signer.decode().split()[:2] == lines[0].split()[:2]
    later = now() + dt.timedelta(hours=h.site.keys.validity.ssh_user_cert_hours, minutes=1)
    monkeypatch.setattr(ssh, "now", lambda: later)
    assert ca_public_lines(h, "ssh-user-ca") == lines[:1]


def test_new_ssh_cas_are_ed25519_and_recorded(h: Hierarchy) -> None:
    from sitekit.pki.ssh import ca_key_type

    for ca in ("ssh-user-ca", "ssh-host-ca"):
        assert h.meta["ssh"][ca]["key_types"]["1"] == "ed25519"
        assert ca_key_type(h, ca, 1) == "ed25519"
        assert ca_public_lines(h, ca)[-1].startswith("ssh-ed25519 ")


@pytest.fixture()
def legacy(site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Hierarchy]:
    """A hierarchy whose SSH CAs are P-384 and whose metadata predates the key-type record."""
    from sitekit.pki import hierarchy as hierarchy_module

    monkeypatch.setenv("SITEKIT_STATE", str(tmp_path))
    monkeypatch.setenv("SITEKIT_KEY_PASSPHRASE", "unit-test-passphrase")
    with monkeypatch.context() as mp:
        mp.setattr(hierarchy_module, "SSH_CA_KEY_TYPE", "p384")
        made = Hierarchy.open(site)
        made.init()
    for entry in made.meta["ssh"].values():
        del entry["key_types"]
    made.save()
    yield Hierarchy.open(site)


@pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="ssh-keygen not installed")
def test_p384_ssh_ca_keeps_working_until_rotated_to_ed25519(legacy: Hierarchy, tmp_path: Path) -> None:
    from sitekit.pki import ssh

    assert ssh.ca_key_type(legacy, "ssh-host-ca", 1) == "p384"
    pub = _pub()
    old_cert = sign_host(legacy, pub, ["cl-cp-1"], "cl-cp-1")
    assert "Signing CA: ECDSA " in _keygen_list(tmp_path, old_cert)
    assert known_hosts_lines(legacy)[0].startswith("@cert-authority * ecdsa-sha2-nistp384 ")

    assert ssh.rotate_ca(legacy, "ssh-host-ca") == "ssh-host-ca-2"
    assert ssh.ca_key_type(legacy, "ssh-host-ca", 2) == "ed25519"
    assert ssh.ca_key_type(legacy, "ssh-host-ca", 1) == "p384"
    lines = known_hosts_lines(legacy)
    assert lines[0].startswith("@cert-authority * ssh-ed25519 ")
    assert lines[1].startswith("@cert-authority * ecdsa-sha2-nistp384 "), "the old CA stays trusted"
    new_cert = sign_host(legacy, pub, ["cl-cp-1"], "cl-cp-1", existing=old_cert)
    assert new_cert != old_cert, "a certificate of the retired CA is reissued"
    assert "Signing CA: ED25519 " in _keygen_list(tmp_path, new_cert)


def _keygen_list(tmp_path: Path, cert_line: str) -> str:
    path = tmp_path / "host-cert.pub"
    path.write_text(cert_line)
    out = subprocess.run(["ssh-keygen", "-L", "-f", str(path)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_unknown_key_type_in_metadata_is_an_error_naming_the_field(legacy: Hierarchy) -> None:
    for bad in ("rsa", "", None, 384, "ED25519", "p384 "):
        legacy.meta["ssh"]["ssh-user-ca"]["key_types"] = {"1": bad}
        with pytest.raises(UserError, match=r"ssh\.ssh-user-ca\.key_types\.1: unknown key type"):
            sign_user(legacy, _pub(), ["sre-admin"], "mallory")


def test_key_types_that_is_not_a_mapping_is_an_error(legacy: Hierarchy) -> None:
    legacy.meta["ssh"]["ssh-user-ca"]["key_types"] = ["ed25519"]
    with pytest.raises(UserError, match=r"ssh\.ssh-user-ca\.key_types must be a mapping"):
        sign_user(legacy, _pub(), ["sre-admin"], "mallory")


def test_status_names_each_ssh_ca_key_type_and_the_p384_one_to_rotate(
    legacy: Hierarchy, capsys: pytest.CaptureFixture[str]
) -> None:
    from sitekit.cli import main
    from sitekit.pki import ssh, status

    assert {r.name: r.kind for r in status.rows(legacy)}["ssh-host-ca-1"] == "ssh-ca:p384"
    assert main(["--sites", str(REPO / "sites"), "keys", "status", "cl"]) == 0
    err = capsys.readouterr().err
    assert "ssh-host-ca-1 is an ECDSA P-384 SSH CA" in err and "sitekit keys rotate cl ssh-host-ca" in err

    ssh.rotate_ca(legacy, "ssh-host-ca")
    kinds = {r.name: r.kind for r in status.rows(legacy)}
    assert kinds["ssh-host-ca-2"] == "ssh-ca:ed25519" and kinds["ssh-host-ca-1"] == "ssh-ca:p384"
    assert main(["--sites", str(REPO / "sites"), "keys", "status", "cl"]) == 0
    assert "ssh-host-ca" not in capsys.readouterr().err, "no warning once the active host CA is Ed25519"
