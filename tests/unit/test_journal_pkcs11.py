"""Checkpoints signed in the HSM (SoftHSM2 over PKCS#11) verify with the public key alone, without the PIN."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from sitekit.journal.sign import SigningUnavailable, public_key_path, write_checkpoint
from sitekit.journal.store import Journal
from sitekit.journal.verify import load_public_key, verify
from sitekit.paths import country_state
from sitekit.pki.hierarchy import Hierarchy
from sitekit.pki.token import init_softhsm_token
from sitekit.spec import load_fleet

REPO = Path(__file__).resolve().parents[2]
MODULE = "/usr/lib/softhsm/libsofthsm2.so"
pytestmark = pytest.mark.skipif(
    not Path(MODULE).exists() or shutil.which("softhsm2-util") is None, reason="softhsm2 is not installed"
)


def test_checkpoint_signed_in_the_token_verifies_without_the_pin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = load_fleet(REPO / "sites").site("ee")
    assert site.keys.backend == "pkcs11"
    monkeypatch.setenv("SITEKIT_STATE", str(tmp_path))
    monkeypatch.setenv("SOFTHSM2_CONF", str(tmp_path / "softhsm2.conf"))
    (tmp_path / "tokens").mkdir()
    (tmp_path / "softhsm2.conf").write_text(f"directories.tokendir = {tmp_path / 'tokens'}\nlog.level = ERROR\n")
    monkeypatch.setenv("SITEKIT_PKCS11_PIN", "4321")
    monkeypatch.setenv("SITEKIT_PKCS11_SO_PIN", "87654321")
    monkeypatch.delenv("SITEKIT_KEY_PASSPHRASE", raising=False)
    init_softhsm_token(site)
    with Hierarchy.open(site) as h:
        h.init()
    journal = Journal("ee", country_state("ee").journal)
    for i in range(3):
        journal.append({"kind": "test", "n": i})
    path = write_checkpoint(journal, site)
    assert path.name == "000000000003.ckpt"

    monkeypatch.delenv("SITEKIT_PKCS11_PIN")
    journal.append({"kind": "test", "n": 3})
    with pytest.raises(SigningUnavailable, match="SITEKIT_PKCS11_PIN"):
        write_checkpoint(journal, site)  # no PIN: no prompt, no checkpoint, the record stays
    report = verify(journal, load_public_key(public_key_path("ee")))
    assert report.ok, report.problems
    assert report.anchored == 3 and len(report.records) == 4
    assert any("4..4" in w for w in report.warnings)
