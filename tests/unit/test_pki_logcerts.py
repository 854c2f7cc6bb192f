"""The log path's certificates: the collector's server leaf and the clients' leaves come from the logging
intermediate alone, carry the host's names, are kept while good and renewed on rotation; a state made
before the logging intermediate existed keeps working and gets it from `keys init`."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.x509.oid import ExtendedKeyUsageOID

from sitekit.errors import UserError
from sitekit.pki.hierarchy import Hierarchy
from sitekit.pki.logcerts import log_certificate
from sitekit.spec import Site, load_fleet

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def site() -> Site:
    return load_fleet(REPO / "sites").site("cl")


@pytest.fixture
def hierarchy(site: Site, tmp_path: Path) -> Iterator[Hierarchy]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SITEKIT_STATE", str(tmp_path / "state"))
        mp.setenv("SITEKIT_KEY_PASSPHRASE", "unit-test-passphrase")
        h = Hierarchy.open(site)
        h.init()
        yield h


def _eku(cert: x509.Certificate) -> set[x509.ObjectIdentifier]:
    return set(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)


def _sans(cert: x509.Certificate) -> set[str]:
    return {str(v.value) for v in cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value}


def test_collector_gets_a_server_leaf_and_clients_client_leaves(hierarchy: Hierarchy) -> None:
    server = log_certificate(hierarchy, "cl-cp-1")
    client = log_certificate(hierarchy, "cl-gpu-1")
    s_chain = x509.load_pem_x509_certificates(server.fullchain_pem.encode())
    c_chain = x509.load_pem_x509_certificates(client.fullchain_pem.encode())
    assert server.profile == "server" and _eku(s_chain[0]) == {ExtendedKeyUsageOID.SERVER_AUTH}
    assert client.profile == "client" and _eku(c_chain[0]) == {ExtendedKeyUsageOID.CLIENT_AUTH}
    assert _sans(s_chain[0]) == {"cl-cp-1.cl.sovereign.example", "10.40.0.11"}
    assert _sans(c_chain[0]) == {"cl-gpu-1.cl.sovereign.example", "10.40.0.21"}
    logging_ca = hierarchy.cert(hierarchy.active_intermediate("logging"))
    for chain in (s_chain, c_chain):
        chain[0].verify_directly_issued_by(logging_ca)
        assert chain[1] == logging_ca
    # The collector trusts the logging intermediate only: not the root, not another intermediate.
    assert x509.load_pem_x509_certificates(server.ca_pem.encode()) == [logging_ca]
    assert server.peer_names == ("cl-gpu-1.cl.sovereign.example",)
    assert client.peer_names == ("cl-cp-1.cl.sovereign.example",)


def test_a_kubernetes_client_certificate_is_not_from_the_logging_ca(hierarchy: Hierarchy) -> None:
    k8s = hierarchy.issue("kubernetes", ["cl-gpu-1.cl.sovereign.example"], "client", "cl-gpu-1.cl.sovereign.example")
    logging_ca = hierarchy.cert(hierarchy.active_intermediate("logging"))
    with pytest.raises((ValueError, InvalidSignature)):
        k8s.cert.verify_directly_issued_by(logging_ca)


def test_a_good_leaf_is_kept_and_its_key_is_private(hierarchy: Hierarchy) -> None:
    first = log_certificate(hierarchy, "cl-gpu-1")
    again = log_certificate(hierarchy, "cl-gpu-1")
    assert first.issued and not again.issued
    assert again.fullchain_pem == first.fullchain_pem and again.key_pem == first.key_pem
    key = hierarchy.layout.leaves / "logging" / "cl-gpu-1.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600


def test_rotation_moves_hosts_to_the_new_generation_and_the_collector_trusts_both(hierarchy: Hierarchy) -> None:
    old = log_certificate(hierarchy, "cl-gpu-1")
    hierarchy.rotate_intermediate("logging")
    new = log_certificate(hierarchy, "cl-gpu-1")
    assert new.issued and new.fullchain_pem != old.fullchain_pem
    leaf = x509.load_pem_x509_certificates(new.fullchain_pem.encode())[0]
    leaf.verify_directly_issued_by(hierarchy.cert("logging-2"))
    trusted = x509.load_pem_x509_certificates(log_certificate(hierarchy, "cl-cp-1").ca_pem.encode())
    assert trusted == [hierarchy.cert("logging-2"), hierarchy.cert("logging-1")]


def test_unknown_host_and_missing_collector_are_operator_errors(hierarchy: Hierarchy, site: Site) -> None:
    with pytest.raises(UserError, match="'ke-gpu-1' is not a host of cl"):
        log_certificate(hierarchy, "ke-gpu-1")
    bare = Hierarchy(site.model_copy(update={"logging": None}), hierarchy.layout)
    with pytest.raises(UserError, match="names no log collector"):
        log_certificate(bare, "cl-gpu-1")


def test_a_state_without_the_logging_intermediate_works_until_keys_init_adds_it(hierarchy: Hierarchy) -> None:
    meta = json.loads(hierarchy.layout.meta.read_text())
    del meta["intermediates"]["logging"]
    hierarchy.layout.meta.write_text(json.dumps(meta))
    old = Hierarchy(hierarchy.site, hierarchy.layout)
    assert old.missing_intermediates() == ["logging"]
    assert old.trust_bundle().count(b"BEGIN CERTIFICATE") == 5  # root + the four it has
    with pytest.raises(UserError, match="run sitekit keys init cl"):
        log_certificate(old, "cl-gpu-1")
    assert old.init() == ["logging intermediate"]
    assert old.missing_intermediates() == []
    assert log_certificate(old, "cl-gpu-1").issued


def test_keys_log_cert_prints_the_hosts_material_as_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from sitekit.cli import main

    monkeypatch.setenv("SITEKIT_STATE", str(tmp_path / "state"))
    monkeypatch.setenv("SITEKIT_KEY_PASSPHRASE", "cli-test-passphrase")
    argv = ["--sites", str(REPO / "sites"), "keys"]
    assert main([*argv, "log-cert", "cl", "--host", "cl-gpu-1"]) == 2  # before keys init: the operator's error
    assert "sitekit keys init cl" in capsys.readouterr().err
    assert main([*argv, "init", "cl"]) == 0
    capsys.readouterr()
    assert main([*argv, "log-cert", "cl", "--host", "cl-gpu-1"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["profile"] == "client" and doc["issued"] is True and "PRIVATE KEY" in doc["key"]
    assert doc["peer_names"] == ["cl-cp-1.cl.sovereign.example"]
    assert main([*argv, "log-cert", "cl", "--host", "cl-gpu-1"]) == 0
    assert json.loads(capsys.readouterr().out)["issued"] is False
