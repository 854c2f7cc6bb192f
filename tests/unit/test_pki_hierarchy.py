"""The X.509 hierarchy on the file backend: chains verify, name constraints hold at issuance and in a verifier."""

from __future__ import annotations

import datetime as dt
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError
from hypothesis import given, settings
from hypothesis import strategies as st

from sitekit.errors import UserError
from sitekit.pki.hierarchy import Hierarchy, build_leaf, check_names, now
from sitekit.spec import Site, load_fleet

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def site() -> Site:
    return load_fleet(REPO / "sites").site("cl")


@pytest.fixture(scope="module")
def hierarchy(site: Site, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hierarchy]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SITEKIT_STATE", str(tmp_path_factory.mktemp("state")))
        mp.setenv("SITEKIT_KEY_PASSPHRASE", "unit-test-passphrase")
        h = Hierarchy.open(site)
        h.init()
        yield h


def _verifier(h: Hierarchy, name: str) -> x509.verification.ServerVerifier:
    return PolicyBuilder().store(Store([h.root_cert()])).build_server_verifier(x509.DNSName(name))


def test_root_is_name_constrained_to_the_country(hierarchy: Hierarchy, site: Site) -> None:
    ext = hierarchy.root_cert().extensions.get_extension_for_class(x509.NameConstraints)
    assert ext.critical
    dns = {g.value for g in ext.value.permitted_subtrees or [] if isinstance(g, x509.DNSName)}
    ips = {g.value for g in ext.value.permitted_subtrees or [] if isinstance(g, x509.IPAddress)}
    assert set(site.identity.domains) <= dns
    assert ips == set(site.residency.address_ranges)
    basic = hierarchy.root_cert().extensions.get_extension_for_class(x509.BasicConstraints)
    assert basic.critical and basic.value.ca and basic.value.path_length == 1


@pytest.mark.parametrize("purpose", ["ingress", "kubernetes", "etcd", "front-proxy", "logging"])
def test_leaf_chain_verifies(hierarchy: Hierarchy, purpose: str) -> None:
    name = f"svc.{hierarchy.site.identity.domains[0]}"
    issued = hierarchy.issue(purpose, [name, "10.40.0.11"])
    chain = x509.load_pem_x509_certificates(issued.fullchain_pem)
    path = _verifier(hierarchy, name).verify(chain[0], chain[1:])
    assert [c.subject for c in path][-1] == hierarchy.root_cert().subject
    assert chain[0].not_valid_after_utc - now() <= dt.timedelta(days=hierarchy.site.keys.validity.leaf_days)
    assert chain[0].serial_number.bit_length() > 64


@pytest.mark.parametrize(
    "name", ["www.example.com", "ee.sovereign.example", "evilcl.sovereign.example", "8.8.8.8", "10.20.0.1"]
)
def test_names_outside_the_constraints_are_refused(hierarchy: Hierarchy, name: str) -> None:
    with pytest.raises(UserError, match="outside"):
        hierarchy.issue("ingress", [name])


def test_forged_certificate_outside_the_constraints_is_rejected(hierarchy: Hierarchy) -> None:
    """An intermediate misused to sign a foreign name yields a certificate the verifier refuses."""
    issuer_name = hierarchy.active_intermediate("ingress")
    issuer = hierarchy.cert(issuer_name)
    key = ec.generate_private_key(ec.SECP256R1())
    forged = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bank.example.com")]))
        .issuer_name(issuer.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now() - dt.timedelta(minutes=1))
        .not_valid_after(now() + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("bank.example.com")]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.public_key()), critical=False)  # type: ignore[arg-type]
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
            critical=False,
        )
        .sign(hierarchy.backend.signer(issuer_name), hashes.SHA384())
    )
    forged.verify_directly_issued_by(issuer)  # the signature itself is genuine
    with pytest.raises(VerificationError):
        _verifier(hierarchy, "bank.example.com").verify(forged, [issuer])


def test_leaf_may_not_outlive_its_issuer(hierarchy: Hierarchy) -> None:
    issuer_name = hierarchy.active_intermediate("ingress")
    issuer = hierarchy.cert(issuer_name)
    key = ec.generate_private_key(ec.SECP256R1())
    days = (issuer.not_valid_after_utc - now()).days + 2
    with pytest.raises(UserError, match="expires"):
        build_leaf(
            hierarchy.site,
            [f"x.{hierarchy.site.identity.domains[0]}"],
            key.public_key(),
            issuer,
            hierarchy.backend.signer(issuer_name),
            days=days,
        )


def test_init_is_idempotent(hierarchy: Hierarchy) -> None:
    before = hierarchy.root_cert().serial_number
    assert hierarchy.init() == []
    assert hierarchy.root_cert().serial_number == before


def test_private_files_are_encrypted_and_0600(hierarchy: Hierarchy) -> None:
    private = hierarchy.layout.base / "private"
    files = list(private.glob("*.p8"))
    assert len(files) >= 8
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert b"BEGIN ENCRYPTED PRIVATE KEY" in path.read_bytes()
    assert stat.S_IMODE(private.stat().st_mode) == 0o700
    assert not str(hierarchy.layout.base).startswith(str(REPO))


def test_wrong_passphrase_is_an_operator_error(hierarchy: Hierarchy, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SITEKIT_KEY_PASSPHRASE", "not-the-passphrase")
    other = Hierarchy.open(hierarchy.site)
    with pytest.raises(UserError, match="SITEKIT_KEY_PASSPHRASE"):
        other.backend.signer("root")


def test_client_certificate_for_kubernetes(hierarchy: Hierarchy) -> None:
    issued = hierarchy.issue("kubernetes", [], "client", common_name="admin", organization="system:masters")
    cert = x509.load_pem_x509_certificates(issued.fullchain_pem)[0]
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "system:masters"


def test_importing_the_package_is_cheap() -> None:
    """The stack program imports sitekit.pki on every run: no PKCS#11 library, no key work at import."""
    import subprocess
    import sys

    code = "import sys, sitekit.pki; print('pkcs11' in sys.modules, 'cryptography.x509' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.split() == ["False", "False"]


@settings(max_examples=60, deadline=None)
@given(
    label=st.from_regex(r"[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?", fullmatch=True),
    suffix=st.sampled_from(["", "x", "-x", ".example"]),
)
def test_name_check_matches_whole_labels(label: str, suffix: str) -> None:
    """Under the domain (whole labels) passes; a look-alike that only shares the text is refused."""
    site = load_fleet(REPO / "sites").site("cl") if not _SITE else _SITE[0]
    _SITE[:] = [site]
    domain = site.identity.domains[0]
    check_names(site, [f"{label}.{domain}"], [])
    with pytest.raises(UserError):
        check_names(site, [f"{label}{domain}{suffix}" if suffix else f"{label}{domain}"], [])


_SITE: list[Site] = []
