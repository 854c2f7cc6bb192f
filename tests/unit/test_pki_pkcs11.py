"""The PKCS#11 backend against a SoftHSM2 token the test initialises: keys are non-extractable and sign."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.verification import PolicyBuilder, Store

from sitekit.errors import UserError
from sitekit.pki.backends import Pkcs11Backend
from sitekit.pki.custody import create_backup, recover
from sitekit.pki.hierarchy import Hierarchy
from sitekit.pki.layout import INTERMEDIATES, MODEL_SIGNING, ROOT
from sitekit.pki.token import init_softhsm_token
from sitekit.spec import Site, load_fleet

REPO = Path(__file__).resolve().parents[2]
MODULE = "/usr/lib/softhsm/libsofthsm2.so"
pytestmark = pytest.mark.skipif(
    not Path(MODULE).exists() or shutil.which("softhsm2-util") is None, reason="softhsm2 is not installed"
)


@pytest.fixture(scope="module")
def site() -> Site:
    return load_fleet(REPO / "sites").site("ee")


@pytest.fixture(scope="module")
def h(site: Site, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hierarchy]:
    state = tmp_path_factory.mktemp("state")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SITEKIT_STATE", str(state))
        mp.setenv("SOFTHSM2_CONF", str(state / "softhsm2.conf"))
        (state / "tokens").mkdir()
        (state / "softhsm2.conf").write_text(f"directories.tokendir = {state / 'tokens'}\nlog.level = ERROR\n")
        mp.setenv("SITEKIT_PKCS11_PIN", "4321")
        mp.setenv("SITEKIT_PKCS11_SO_PIN", "87654321")
        mp.delenv("SITEKIT_KEY_PASSPHRASE", raising=False)
        init_softhsm_token(site)
        hierarchy = Hierarchy.open(site)
        hierarchy.init()
        create_backup(hierarchy)
        yield hierarchy
        hierarchy.close()


CA_KEYS = [ROOT, *(f"{p}-1" for p in INTERMEDIATES), "ssh-user-ca-1", "ssh-host-ca-1", MODEL_SIGNING]


@pytest.mark.parametrize("name", CA_KEYS)
def test_keys_are_non_extractable_in_the_token(h: Hierarchy, name: str) -> None:
    facts = h.backend.describe(name)
    assert facts["extractable"] is False
    assert facts["sensitive"] is True
    assert facts["never_extractable"] is True


def test_private_value_cannot_be_read(h: Hierarchy) -> None:
    import pkcs11
    from pkcs11 import Attribute, ObjectClass

    backend = h.backend
    assert isinstance(backend, Pkcs11Backend)
    handle = backend._find(ROOT, ObjectClass.PRIVATE_KEY)
    with pytest.raises(pkcs11.PKCS11Error):
        handle[Attribute.VALUE]
    signer = backend.signer(ROOT)
    with pytest.raises(TypeError):
        signer.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    with pytest.raises(UserError, match="non-extractable"):
        backend.export_for_backup(ROOT)


def test_no_private_key_files_in_state(h: Hierarchy) -> None:
    assert not (h.layout.base / "private").exists()
    for path in h.layout.base.rglob("*"):
        if path.is_file() and "leaves" not in path.parts and "tokens" not in path.parts:
            assert b"PRIVATE KEY" not in path.read_bytes(), path


def test_token_signatures_verify_and_chain_verifies(h: Hierarchy) -> None:
    signature = h.backend.signer(MODEL_SIGNING).sign(b"model.safetensors digest", ec.ECDSA(hashes.SHA384()))
    h.backend.public_key(MODEL_SIGNING).verify(signature, b"model.safetensors digest", ec.ECDSA(hashes.SHA384()))
    name = f"llm.{h.site.network.ingress_domain}"
    issued = h.issue("ingress", [name])
    chain = x509.load_pem_x509_certificates(issued.fullchain_pem)
    verifier = PolicyBuilder().store(Store([h.root_cert()])).build_server_verifier(x509.DNSName(name))
    verifier.verify(chain[0], chain[1:])


def test_data_key_sealed_by_token_key(h: Hierarchy) -> None:
    blob = h.backend.seal(b"k" * 32, b"ctx")
    assert h.backend.unseal(blob, b"ctx") == b"k" * 32
    with pytest.raises(UserError):
        h.backend.unseal(blob, b"other-ctx")
    assert h.backend.describe("data-kek")["location"].startswith("token")


def test_custody_is_the_token_s_own_and_recover_refuses(h: Hierarchy) -> None:
    assert h.meta["custody"]["mode"] == "none"
    with pytest.raises(UserError, match="non-extractable"):
        recover(h, ["a", "b", "c"])


def test_wrong_pin_is_an_operator_error(h: Hierarchy, monkeypatch: pytest.MonkeyPatch) -> None:
    h.close()  # PKCS#11 login state is per application: log the fixture's session out first
    monkeypatch.setenv("SITEKIT_PKCS11_PIN", "0000")
    other = Hierarchy.open(h.site)
    with pytest.raises(UserError, match="PIN"):
        other.backend.public_key(ROOT)


def test_model_artifact_signed_in_the_token(h: Hierarchy, tmp_path: Path) -> None:
    from sitekit.errors import CheckFailed
    from sitekit.pki.artifacts import sign_artifact, verify_artifact

    weights = tmp_path / "model.safetensors"
    weights.write_bytes(b"\x00weights" * 1000)
    sign_artifact(h, weights)
    verify_artifact(h, weights)
    weights.write_bytes(b"\x01weights" * 1000)
    with pytest.raises(CheckFailed):
        verify_artifact(h, weights)


WORKER = """
import sys
from pathlib import Path
from sitekit.pki.hierarchy import Hierarchy
from sitekit.pki.layout import ROOT
from sitekit.spec import load_fleet

site = load_fleet(Path(sys.argv[1])).site("ee")
for _ in range(int(sys.argv[2])):
    with Hierarchy.open(site) as h:
        h.backend.public_key(ROOT)
"""


def test_concurrent_processes_all_get_the_token(h: Hierarchy) -> None:
    """The keys role signs every host at once, one process each; SoftHSM2 alone drops the token for some.

    Without the token lock, four processes opening the token 50 times each failed 65 of 200 opens here
    (GeneralError from C_GetTokenInfo, SoftHSMv2 issue #757); with it, none.
    """
    import os
    import subprocess
    import sys

    h.close()  # the fixture's open session holds the token lock; the workers must not wait on it
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(REPO / "sites"), "50"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=os.environ.copy(),
        )
        for _ in range(4)
    ]
    results = [(w.wait(timeout=300), w.communicate()[1]) for w in workers]
    assert [err[-600:] for rc, err in results if rc != 0] == []


@pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="ssh-keygen not installed")
def test_ssh_cas_are_ed25519_in_the_token_and_sign_certificates(h: Hierarchy, tmp_path: Path) -> None:
    """CKM_EC_EDWARDS_KEY_PAIR_GEN and CKM_EDDSA: the SSH CAs are Ed25519 keys the token signs with."""
    import subprocess

    from cryptography.hazmat.primitives.asymmetric import ed25519
    from cryptography.hazmat.primitives.serialization import SSHCertificate, load_ssh_public_identity

    from sitekit.pki.ssh import ca_key_type, ca_public_lines, sign_user

    assert ca_key_type(h, "ssh-user-ca", 1) == "ed25519"
    signer = h.backend.signer_of("ssh-user-ca-1", "ed25519")
    with pytest.raises(TypeError, match="non-extractable"):
        signer.private_bytes_raw()
    subject = ed25519.Ed25519PrivateKey.generate().public_key()
    line = sign_user(
        h,
        subject.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode(),
        ["sre-admin"],
        "token-test",
    )
    cert = load_ssh_public_identity(line.encode())
    assert isinstance(cert, SSHCertificate)
    cert.verify_cert_signature()
    ca = cert.signature_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    assert ca.decode().split()[:2] == ca_public_lines(h, "ssh-user-ca")[0].split()[:2]
    (tmp_path / "k-cert.pub").write_text(line)
    out = subprocess.run(["ssh-keygen", "-L", "-f", str(tmp_path / "k-cert.pub")], capture_output=True, text=True)
    assert out.returncode == 0 and "Signing CA: ED25519 " in out.stdout, out.stderr
