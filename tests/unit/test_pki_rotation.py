"""Rotation with overlap: old and new stay trusted until the old expires; status warns in the window."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.x509.verification import PolicyBuilder, Store

from sitekit.pki import status
from sitekit.pki.datakeys import encryption_config, rotate_data_key
from sitekit.pki.hierarchy import Hierarchy, now
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


def test_intermediate_rotation_keeps_old_leaves_valid(h: Hierarchy) -> None:
    name = f"app.{h.site.identity.domains[0]}"
    old_leaf = x509.load_pem_x509_certificates(h.issue("ingress", [name]).fullchain_pem)[0]
    assert h.rotate_intermediate("ingress") == "ingress-2"
    new_leaf = x509.load_pem_x509_certificates(h.issue("ingress", [name]).fullchain_pem)[0]
    bundle = x509.load_pem_x509_certificates(h.ca_bundle("ingress"))
    assert [c.subject for c in bundle] == [h.cert("ingress-2").subject, h.cert("ingress-1").subject]
    trust = x509.load_pem_x509_certificates(h.trust_bundle())
    verifier = PolicyBuilder().store(Store([trust[0]])).build_server_verifier(x509.DNSName(name))
    for leaf in (old_leaf, new_leaf):
        verifier.verify(leaf, trust[1:])
    assert new_leaf.issuer == h.cert("ingress-2").subject
    # after the old generation expires it leaves the bundle
    later = h.cert("ingress-1").not_valid_after_utc + dt.timedelta(seconds=1)
    left = [c.serial_number for c in h.valid_intermediates("ingress", at=later)]
    assert h.cert("ingress-1").serial_number not in left
    # the new generation stays exactly as long as it is valid (it may have been made a second later)
    assert left == ([h.cert("ingress-2").serial_number] if h.cert("ingress-2").not_valid_after_utc > later else [])
    rows = {r.name: r.state for r in status.rows(h)}
    assert rows["ingress-1"] == "overlap" and rows["ingress-2"] == "active"


def test_data_key_rotation_keeps_old_key_for_reading(h: Hierarchy) -> None:
    first = yaml.safe_load(encryption_config(h))
    keys_before = first["resources"][0]["providers"][0]["secretbox"]["keys"]
    assert [k["name"] for k in keys_before] == ["k1"]
    assert len(base64.b64decode(keys_before[0]["secret"])) == 32
    assert rotate_data_key(h) == "k2"
    after = yaml.safe_load(encryption_config(h))
    keys_after = after["resources"][0]["providers"][0]["secretbox"]["keys"]
    assert [k["name"] for k in keys_after] == ["k2", "k1"]
    assert keys_after[1]["secret"] == keys_before[0]["secret"]
    assert after["resources"][0]["providers"][-1] == {"identity": {}}


def test_sealed_data_key_is_not_plaintext(h: Hierarchy) -> None:
    doc = yaml.safe_load(encryption_config(h))
    secret = base64.b64decode(doc["resources"][0]["providers"][0]["secretbox"]["keys"][0]["secret"])
    for blob in (h.layout.sealed).glob("*.bin"):
        assert secret not in blob.read_bytes()


def test_status_warns_inside_rotation_window(h: Hierarchy, monkeypatch: pytest.MonkeyPatch) -> None:
    assert not any(r.warn for r in status.rows(h))
    expiry = h.cert(h.active_intermediate("etcd")).not_valid_after_utc
    future = expiry - dt.timedelta(days=h.site.keys.rotation_window_days - 1)
    monkeypatch.setattr(status, "now", lambda: future)
    warned = {r.name for r in status.rows(h) if r.warn}
    assert {"etcd-1", "kubernetes-1", "front-proxy-1"} <= warned
    assert "root" not in warned
    assert now() < future
