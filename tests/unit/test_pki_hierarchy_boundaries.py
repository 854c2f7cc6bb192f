"""Boundaries of the X.509 hierarchy: every edge of validity, names and extensions, tested from both sides.

Each test here exists so that a check *weakened* (a comparison moved by one, only the first domain or
range looked at, an extension made non-critical) fails a test (issue 15, docs/MUTATION.md). Chains are
verified with cryptography's own X.509 verifier, not with the product's code; the clock is pinned by
replacing `hierarchy.now` (its one source of time) where a boundary needs the exact second.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from sitekit.errors import UserError
from sitekit.pki import hierarchy as hmod
from sitekit.pki.backends import FileBackend, Pkcs11Backend
from sitekit.pki.hierarchy import (
    SKEW,
    Hierarchy,
    build_intermediate,
    build_leaf,
    build_root,
    check_names,
    leaf_slug,
    load_cert,
    now,
    open_backend,
    pem,
    permitted_dns,
    permitted_ip,
    token_label,
)
from sitekit.pki.layout import INTERMEDIATES, MODEL_SIGNING, SSH_CAS, Layout
from sitekit.spec import Site, load_fleet
from sitekit.spec.models import Pkcs11

REPO = Path(__file__).resolve().parents[2]
T = dt.datetime(2026, 3, 1, 12, 0, 0, tzinfo=dt.UTC)

CA_USAGE = x509.KeyUsage(
    digital_signature=True,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=True,
    crl_sign=True,
    encipher_only=False,
    decipher_only=False,
)
LEAF_USAGE = x509.KeyUsage(
    digital_signature=True,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=False,
    crl_sign=False,
    encipher_only=False,
    decipher_only=False,
)


@pytest.fixture(scope="module")
def site() -> Site:
    return load_fleet(REPO / "sites").site("cl")


@pytest.fixture(scope="module")
def two_site(site: Site) -> Site:
    """`cl` with a second domain and a second address range, so "every element" can be tested."""
    identity = site.identity.model_copy(update={"domains": ("cl.sovereign.example", "gob.example")})
    residency = site.residency.model_copy(
        update={"address_ranges": (ipaddress.IPv4Network("10.40.0.0/16"), ipaddress.IPv4Network("192.0.2.0/24"))}
    )
    return site.model_copy(update={"identity": identity, "residency": residency})


@pytest.fixture
def frozen(monkeypatch: pytest.MonkeyPatch) -> dt.datetime:
    """Pin the hierarchy's clock at T."""
    monkeypatch.setattr(hmod, "now", lambda: T)
    return T


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP384R1())


def _issuer(not_before: dt.datetime, not_after: dt.datetime) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A CA certificate with the given validity, built here (not by the product)."""
    key = _key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test issuer")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(7)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA384())
    )
    return cert, key


def _ext(cert: x509.Certificate, cls: type) -> x509.Extension:  # type: ignore[type-arg]
    return cert.extensions.get_extension_for_class(cls)


def _server_verify(
    root: x509.Certificate, name: x509.DNSName | x509.IPAddress, chain: list[x509.Certificate]
) -> list[x509.Certificate]:
    verifier = PolicyBuilder().store(Store([root])).time(chain[0].not_valid_before_utc + dt.timedelta(hours=1))
    return verifier.build_server_verifier(name).verify(chain[0], chain[1:])


# ------------------------------------------------------------------------------------------ clock


def test_now_is_utc_and_whole_seconds() -> None:
    before = dt.datetime.now(dt.UTC)
    moment = now()
    assert moment.tzinfo is dt.UTC and moment.microsecond == 0
    assert before - dt.timedelta(seconds=1) <= moment <= dt.datetime.now(dt.UTC)
    assert dt.timedelta(minutes=5) == SKEW


# ------------------------------------------------------------------------------------------ names


def test_permitted_names_are_every_domain_plus_the_cluster_domain(site: Site, two_site: Site) -> None:
    assert permitted_dns(site) == ("cl.sovereign.example", "cluster.local")
    assert permitted_dns(two_site) == ("cl.sovereign.example", "gob.example", "cluster.local")
    with_cluster = site.identity.model_copy(update={"domains": ("cl.sovereign.example", "cluster.local")})
    assert permitted_dns(site.model_copy(update={"identity": with_cluster})) == (
        "cl.sovereign.example",
        "cluster.local",
    )
    assert permitted_ip(two_site) == (ipaddress.IPv4Network("10.40.0.0/16"), ipaddress.IPv4Network("192.0.2.0/24"))


@pytest.mark.parametrize(
    "name",
    [
        "cl.sovereign.example",  # the domain itself
        "svc.cl.sovereign.example",
        "a.b.cl.sovereign.example",
        "SVC.CL.Sovereign.Example",  # DNS is case-insensitive
        "svc.cl.sovereign.example.",  # absolute form
        "gob.example",
        "x.gob.example",  # a name under the second domain
        "kubernetes.default.svc.cluster.local",
        "cluster.local",
    ],
)
def test_names_inside_any_permitted_domain_are_accepted(two_site: Site, name: str) -> None:
    check_names(two_site, [name], [])


@pytest.mark.parametrize(
    "name",
    ["badcl.sovereign.example", "sovereign.example", "cl.sovereign.example.evil.com", "xgob.example", "gob.examplex"],
)
def test_look_alike_names_are_refused_with_the_exact_message(two_site: Site, name: str) -> None:
    expected = (
        f"{name!r} is outside cl's name constraints (permitted: cl.sovereign.example, gob.example, cluster.local)"
    )
    with pytest.raises(UserError) as err:
        check_names(two_site, ["ok.gob.example", name], [])  # the second name is checked too
    assert str(err.value) == expected


@pytest.mark.parametrize("addr", ["10.40.0.0", "10.40.255.255", "192.0.2.0", "192.0.2.255", "192.0.2.77"])
def test_addresses_at_the_edges_of_every_range_are_accepted(two_site: Site, addr: str) -> None:
    check_names(two_site, [], [addr])


@pytest.mark.parametrize("addr", ["10.39.255.255", "10.41.0.0", "192.0.1.255", "192.0.3.0", "8.8.8.8"])
def test_addresses_just_outside_are_refused_with_the_exact_message(two_site: Site, addr: str) -> None:
    with pytest.raises(UserError) as err:
        check_names(two_site, [], ["10.40.0.1", addr])
    assert str(err.value) == f"{addr} is outside cl's address ranges (10.40.0.0/16, 192.0.2.0/24)"


def test_a_non_address_is_refused_by_name(site: Site) -> None:
    with pytest.raises(UserError) as err:
        check_names(site, [], ["10.40.0.300"])
    assert str(err.value) == "'10.40.0.300' is not an IP address"


def test_issue_splits_names_into_dns_and_ip_sans(h: Hierarchy) -> None:
    issued = h.issue("ingress", ["a.cl.sovereign.example", "10.40.0.5", "b.cl.sovereign.example", "10.40.0.6"])
    san = _ext(issued.cert, x509.SubjectAlternativeName)
    assert not san.critical
    assert list(san.value) == [
        x509.DNSName("a.cl.sovereign.example"),
        x509.DNSName("b.cl.sovereign.example"),
        x509.IPAddress(ipaddress.ip_address("10.40.0.5")),
        x509.IPAddress(ipaddress.ip_address("10.40.0.6")),
    ]


def test_issue_checks_an_outside_address_before_signing(h: Hierarchy) -> None:
    with pytest.raises(UserError, match=r"^10\.41\.0\.1 is outside cl's address ranges \(10\.40\.0\.0/16\)$"):
        h.issue("ingress", ["a.cl.sovereign.example", "10.41.0.1"])


# ---------------------------------------------------------------------------------------- validity


def test_leaf_ending_exactly_with_its_issuer_is_accepted_one_second_later_refused(
    site: Site, frozen: dt.datetime
) -> None:
    days = 30
    key = _key()
    exact, exact_key = _issuer(T - dt.timedelta(days=1), T + dt.timedelta(days=days))
    cert = build_leaf(site, ["a.cl.sovereign.example"], key.public_key(), exact, exact_key, days=days)
    assert cert.not_valid_after_utc == exact.not_valid_after_utc == T + dt.timedelta(days=days)
    short, short_key = _issuer(T - dt.timedelta(days=1), T + dt.timedelta(days=days) - dt.timedelta(seconds=1))
    with pytest.raises(UserError) as err:
        build_leaf(site, ["a.cl.sovereign.example"], key.public_key(), short, short_key, days=days)
    assert str(err.value) == (
        "certificate for a.cl.sovereign.example would be valid until 2026-03-31 but its issuer CN=test issuer "
        "expires 2026-03-31; rotate the issuer first"
    )


def test_backdating_is_five_minutes_unless_the_issuer_starts_later(site: Site, frozen: dt.datetime) -> None:
    key = _key()
    names = ["a.cl.sovereign.example"]
    for issuer_start, expected in (
        (T - dt.timedelta(days=1), T - SKEW),  # an old issuer: the full skew
        (T - SKEW - dt.timedelta(seconds=1), T - SKEW),  # one second earlier than the skew: still the skew
        (T - SKEW + dt.timedelta(seconds=1), T - SKEW + dt.timedelta(seconds=1)),  # never before its issuer
        (T - dt.timedelta(minutes=1), T - dt.timedelta(minutes=1)),
    ):
        issuer, issuer_key = _issuer(issuer_start, T + dt.timedelta(days=400))
        cert = build_leaf(site, names, key.public_key(), issuer, issuer_key)
        assert cert.not_valid_before_utc == expected
        assert cert.not_valid_after_utc == T + dt.timedelta(days=site.keys.validity.leaf_days)


def test_days_overrides_the_leaf_lifetime(site: Site, frozen: dt.datetime) -> None:
    issuer, issuer_key = _issuer(T - dt.timedelta(days=1), T + dt.timedelta(days=400))
    cert = build_leaf(site, ["a.cl.sovereign.example"], _key().public_key(), issuer, issuer_key, days=7)
    assert cert.not_valid_after_utc == T + dt.timedelta(days=7)


def test_root_profile_exactly(site: Site, frozen: dt.datetime) -> None:
    key = _key()
    root = build_root(site, key)
    assert root.subject.rfc4514_string() == "CN=sitekit CL Root CA,O=sitekit Chile,C=CL"
    assert root.issuer == root.subject
    assert root.not_valid_before_utc == T - SKEW
    assert root.not_valid_after_utc == T + dt.timedelta(days=site.keys.validity.root_ca_days)
    assert root.serial_number.bit_length() > 100
    assert isinstance(root.signature_hash_algorithm, hashes.SHA384)
    root.verify_directly_issued_by(root)
    basic = _ext(root, x509.BasicConstraints)
    assert basic.critical and basic.value == x509.BasicConstraints(ca=True, path_length=1)
    usage = _ext(root, x509.KeyUsage)
    assert usage.critical and usage.value == CA_USAGE
    nc = _ext(root, x509.NameConstraints)
    assert nc.critical
    assert nc.value.excluded_subtrees is None
    assert list(nc.value.permitted_subtrees or []) == [
        x509.DNSName("cl.sovereign.example"),
        x509.DNSName("cluster.local"),
        x509.IPAddress(ipaddress.IPv4Network("10.40.0.0/16")),
    ]
    ski = _ext(root, x509.SubjectKeyIdentifier)
    assert not ski.critical and ski.value == x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    assert len(root.extensions) == 4


def test_root_constrains_every_domain_and_range(two_site: Site, frozen: dt.datetime) -> None:
    nc = _ext(build_root(two_site, _key()), x509.NameConstraints)
    assert list(nc.value.permitted_subtrees or []) == [
        x509.DNSName("cl.sovereign.example"),
        x509.DNSName("gob.example"),
        x509.DNSName("cluster.local"),
        x509.IPAddress(ipaddress.IPv4Network("10.40.0.0/16")),
        x509.IPAddress(ipaddress.IPv4Network("192.0.2.0/24")),
    ]


def test_intermediate_profile_exactly(site: Site, frozen: dt.datetime) -> None:
    root_key = _key()
    root = build_root(site, root_key)
    key = _key()
    inter = build_intermediate(site, "etcd", 3, key.public_key(), root, root_key)
    assert inter.subject.rfc4514_string() == "CN=sitekit CL etcd CA 3,OU=etcd,O=sitekit Chile,C=CL"
    assert inter.issuer == root.subject
    assert inter.not_valid_before_utc == T - SKEW
    assert inter.not_valid_after_utc == T + dt.timedelta(days=site.keys.validity.intermediate_days)
    assert inter.serial_number.bit_length() > 100 and inter.serial_number != root.serial_number
    assert isinstance(inter.signature_hash_algorithm, hashes.SHA384)
    inter.verify_directly_issued_by(root)
    basic = _ext(inter, x509.BasicConstraints)
    assert basic.critical and basic.value == x509.BasicConstraints(ca=True, path_length=0)
    usage = _ext(inter, x509.KeyUsage)
    assert usage.critical and usage.value == CA_USAGE
    ski = _ext(inter, x509.SubjectKeyIdentifier)
    assert not ski.critical and ski.value == x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    aki = _ext(inter, x509.AuthorityKeyIdentifier)
    assert not aki.critical and aki.value == x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key())
    assert len(inter.extensions) == 4


def test_intermediate_outliving_the_root_is_refused(site: Site, frozen: dt.datetime) -> None:
    root, root_key = _issuer(T - dt.timedelta(days=1), T + dt.timedelta(days=site.keys.validity.intermediate_days))
    build_intermediate(site, "etcd", 1, _key().public_key(), root, root_key)
    root, root_key = _issuer(T - dt.timedelta(days=1), T + dt.timedelta(days=site.keys.validity.intermediate_days - 1))
    with pytest.raises(UserError, match=r"^intermediate etcd would be valid until .* rotate the issuer first$"):
        build_intermediate(site, "etcd", 1, _key().public_key(), root, root_key)


@pytest.mark.parametrize(
    ("profile", "eku"),
    [
        ("server", [ExtendedKeyUsageOID.SERVER_AUTH]),
        ("client", [ExtendedKeyUsageOID.CLIENT_AUTH]),
        ("peer", [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
    ],
)
def test_leaf_profile_exactly(
    site: Site, frozen: dt.datetime, profile: hmod.Profile, eku: list[x509.ObjectIdentifier]
) -> None:
    issuer, issuer_key = _issuer(T - dt.timedelta(days=1), T + dt.timedelta(days=400))
    key = _key()
    cert = build_leaf(site, ["a.cl.sovereign.example", "10.40.0.9"], key.public_key(), issuer, issuer_key, profile)
    assert cert.subject.rfc4514_string() == "CN=a.cl.sovereign.example"
    assert cert.issuer == issuer.subject
    assert isinstance(cert.signature_hash_algorithm, hashes.SHA384)
    cert.verify_directly_issued_by(issuer)
    basic = _ext(cert, x509.BasicConstraints)
    assert basic.critical and basic.value == x509.BasicConstraints(ca=False, path_length=None)
    usage = _ext(cert, x509.KeyUsage)
    assert usage.critical and usage.value == LEAF_USAGE
    ext_usage = _ext(cert, x509.ExtendedKeyUsage)
    assert not ext_usage.critical and list(ext_usage.value) == eku
    ski = _ext(cert, x509.SubjectKeyIdentifier)
    assert not ski.critical and ski.value == x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    aki = _ext(cert, x509.AuthorityKeyIdentifier)
    assert not aki.critical
    assert aki.value == x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key())
    assert list(_ext(cert, x509.SubjectAlternativeName).value) == [
        x509.DNSName("a.cl.sovereign.example"),
        x509.IPAddress(ipaddress.ip_address("10.40.0.9")),
    ]
    assert len(cert.extensions) == 6


def test_leaf_subject_organization_and_common_name(site: Site, frozen: dt.datetime) -> None:
    issuer, issuer_key = _issuer(T - dt.timedelta(days=1), T + dt.timedelta(days=400))
    names = ["first.cl.sovereign.example", "second.cl.sovereign.example"]
    cert = build_leaf(site, names, _key().public_key(), issuer, issuer_key, "peer", None, "system:nodes")
    assert cert.subject.rfc4514_string() == "CN=first.cl.sovereign.example,O=system:nodes"
    cert = build_leaf(site, names, _key().public_key(), issuer, issuer_key, "peer", "node-1")
    assert cert.subject.rfc4514_string() == "CN=node-1"


def test_client_needs_a_common_name_servers_and_peers_need_names(site: Site, frozen: dt.datetime) -> None:
    issuer, issuer_key = _issuer(T - dt.timedelta(days=1), T + dt.timedelta(days=400))
    pub = _key().public_key()
    profiles: tuple[hmod.Profile, ...] = ("server", "peer")
    for profile in profiles:
        with pytest.raises(UserError) as err:
            build_leaf(site, [], pub, issuer, issuer_key, profile, common_name="x")
        assert str(err.value) == "a server or peer certificate needs at least one DNS name or IP address"
    with pytest.raises(UserError) as err:
        build_leaf(site, [], pub, issuer, issuer_key, "client")
    assert str(err.value) == "a client certificate needs a common name (--cn)"
    cert = build_leaf(site, [], pub, issuer, issuer_key, "client", common_name="admin")
    assert cert.subject.rfc4514_string() == "CN=admin"
    with pytest.raises(x509.ExtensionNotFound):
        _ext(cert, x509.SubjectAlternativeName)
    assert len(cert.extensions) == 5


def test_build_leaf_refuses_outside_names_itself(site: Site, frozen: dt.datetime) -> None:
    issuer, issuer_key = _issuer(T - dt.timedelta(days=1), T + dt.timedelta(days=400))
    with pytest.raises(UserError, match="outside cl's name constraints"):
        build_leaf(site, ["bank.example.com"], _key().public_key(), issuer, issuer_key)
    with pytest.raises(UserError, match="outside cl's address ranges"):
        build_leaf(site, ["10.41.0.1"], _key().public_key(), issuer, issuer_key)


def test_pem_and_load_cert_round_trip(site: Site, tmp_path: Path) -> None:
    cert = build_root(site, _key())
    data = pem(cert)
    assert data.startswith(b"-----BEGIN CERTIFICATE-----\n")
    assert data == cert.public_bytes(serialization.Encoding.PEM)
    (tmp_path / "c.pem").write_bytes(data)
    assert load_cert(tmp_path / "c.pem") == cert


# ---------------------------------------------------------------------------------- the hierarchy


def test_every_intermediate_chains_to_the_root_in_an_independent_verifier(h: Hierarchy) -> None:
    root = h.root_cert()
    for purpose in INTERMEDIATES:
        issued = h.issue(purpose, ["svc.cl.sovereign.example"])
        chain = x509.load_pem_x509_certificates(issued.fullchain_pem)
        assert chain == [issued.cert, h.cert(f"{purpose}-1")]
        path = _server_verify(root, x509.DNSName("svc.cl.sovereign.example"), chain)
        assert path[-1] == root
        assert chain[1].subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)[0].value == purpose


def test_issue_returns_an_unencrypted_p256_key_matching_the_certificate(h: Hierarchy) -> None:
    issued = h.issue("kubernetes", [], "client", common_name="admin", organization="system:masters")
    key = serialization.load_pem_private_key(issued.key_pem, password=None)
    assert issued.key_pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    assert isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1)
    assert key.public_key() == issued.cert.public_key()
    assert issued.cert.subject.rfc4514_string() == "CN=admin,O=system:masters"
    assert list(_ext(issued.cert, x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    chain = x509.load_pem_x509_certificates(issued.fullchain_pem)
    chain[0].verify_directly_issued_by(chain[1])
    chain[1].verify_directly_issued_by(h.root_cert())


def test_issue_uses_the_active_generation_after_rotation(h: Hierarchy) -> None:
    assert h.rotate_intermediate("ingress") == "ingress-2"
    assert h.rotate_intermediate("ingress") == "ingress-3"
    assert h.meta["intermediates"]["ingress"] == {"active": 3, "generations": [1, 2, 3]}
    assert Layout.for_country("cl").load_meta()["intermediates"]["ingress"] == {"active": 3, "generations": [1, 2, 3]}
    assert h.intermediate_names("ingress") == ["ingress-1", "ingress-2", "ingress-3"]
    assert h.intermediate_names("etcd") == ["etcd-1"]
    third = h.cert("ingress-3")
    assert third.subject.rfc4514_string() == "CN=sitekit CL ingress CA 3,OU=ingress,O=sitekit Chile,C=CL"
    third.verify_directly_issued_by(h.root_cert())
    issued = h.issue("ingress", ["svc.cl.sovereign.example"])
    assert issued.cert.issuer == third.subject
    assert issued.fullchain_pem == pem(issued.cert) + pem(third)
    issued.cert.verify_directly_issued_by(third)
    # active first, then the others newest first
    assert h.valid_intermediates("ingress") == [third, h.cert("ingress-2"), h.cert("ingress-1")]
    h.meta["intermediates"]["ingress"]["active"] = 2
    assert h.valid_intermediates("ingress") == [h.cert("ingress-2"), third, h.cert("ingress-1")]


def test_rotation_needs_an_initialised_hierarchy(site: Site, state: Path) -> None:
    with pytest.raises(UserError, match=r"^no key hierarchy for cl: run sitekit keys init cl$"):
        Hierarchy.open(site).rotate_intermediate("ingress")


def test_an_intermediate_expiring_at_the_moment_is_no_longer_valid(h: Hierarchy) -> None:
    cert = h.cert("etcd-1")
    end = cert.not_valid_after_utc
    assert h.valid_intermediates("etcd", at=end - dt.timedelta(seconds=1)) == [cert]
    assert h.valid_intermediates("etcd", at=end) == []
    assert h.valid_intermediates("etcd") == [cert]
    assert h.ca_bundle("etcd") == pem(cert)


def test_trust_bundle_is_the_root_and_every_purpose(h: Hierarchy) -> None:
    h.rotate_intermediate("front-proxy")
    bundle = h.trust_bundle()
    expected = pem(h.root_cert()) + b"".join(
        pem(h.cert(n)) for n in ("kubernetes-1", "etcd-1", "front-proxy-2", "front-proxy-1", "ingress-1", "logging-1")
    )
    assert bundle == expected
    assert h.ca_bundle("front-proxy") == pem(h.cert("front-proxy-2")) + pem(h.cert("front-proxy-1"))


def test_active_intermediate_errors(site: Site, h: Hierarchy, state: Path) -> None:
    assert h.active_intermediate("etcd") == "etcd-1"
    with pytest.raises(UserError) as err:
        h.active_intermediate("vault")
    assert str(err.value) == "unknown intermediate 'vault' (one of kubernetes, etcd, front-proxy, ingress, logging)"
    del h.meta["intermediates"]["etcd"]
    with pytest.raises(UserError) as err:
        h.active_intermediate("etcd")
    assert str(err.value) == "no etcd intermediate: run sitekit keys init cl"
    empty = Hierarchy(site, Layout(cc="cl", base=state / "nowhere"))
    assert empty.intermediate_names("etcd") == []
    with pytest.raises(UserError, match=r"^no etcd intermediate"):
        empty.active_intermediate("etcd")


def test_require_names_the_backend_mismatch(h: Hierarchy) -> None:
    h.require()
    h.meta["backend"] = "pkcs11"
    with pytest.raises(UserError) as err:
        h.require()
    assert str(err.value) == (
        "cl's keys were made with the pkcs11 backend but the spec now says file: migrating backends is a "
        "re-key ceremony (see the README)"
    )
    with pytest.raises(UserError, match=r"^cl's keys were made with the pkcs11 backend"):
        h.init()


def test_require_without_a_root_certificate(h: Hierarchy) -> None:
    h.layout.cert_path("root").unlink()
    with pytest.raises(UserError, match=r"^no key hierarchy for cl"):
        h.require()


def test_init_records_exactly_what_it_made(site: Site, state: Path) -> None:
    h = Hierarchy.open(site)
    before = now()
    created = h.init()
    assert created == [
        "root CA",
        "kubernetes intermediate",
        "etcd intermediate",
        "front-proxy intermediate",
        "ingress intermediate",
        "logging intermediate",
        "ssh-user-ca",
        "ssh-host-ca",
        "model signing key",
        "data key",
    ]
    meta = h.meta
    on_disk = Layout.for_country("cl").load_meta()
    assert on_disk == meta
    assert (meta["version"], meta["cc"], meta["backend"]) == (1, "cl", "file")
    assert "pkcs11" not in meta
    for stamp in (meta["created"], meta[MODEL_SIGNING]["created"], *(meta["ssh"][c]["created"] for c in SSH_CAS)):
        moment = dt.datetime.fromisoformat(stamp)
        assert before <= moment <= now() and moment.tzinfo is not None
    assert meta["intermediates"] == {p: {"active": 1, "generations": [1]} for p in INTERMEDIATES}
    for ca in SSH_CAS:
        assert {k: v for k, v in meta["ssh"][ca].items() if k != "created"} == {
            "active": 1,
            "generations": [1],
            "key_types": {"1": "ed25519"},
        }
        line = (h.layout.ssh / f"{ca}-1.pub").read_bytes()
        assert line.startswith(b"ssh-ed25519 ") and line.endswith(f" sitekit-cl-{ca}\n".encode())
        pub = serialization.load_ssh_public_key(line.rsplit(b" ", 1)[0])
        assert pub == h.backend.signer_of(f"{ca}-1", "ed25519").public_key()
        assert stat.S_IMODE((h.layout.ssh / f"{ca}-1.pub").stat().st_mode) == 0o644
    signing = serialization.load_pem_public_key((h.layout.base / "signing" / f"{MODEL_SIGNING}.pub.pem").read_bytes())
    assert signing == h.backend.public_key(MODEL_SIGNING)
    assert meta["data_keys"]
    for purpose in INTERMEDIATES:
        cert = h.cert(f"{purpose}-1")
        assert cert.public_key() == h.backend.public_key(f"{purpose}-1")
        cert.verify_directly_issued_by(h.root_cert())
    assert h.root_cert().public_key() == h.backend.public_key("root")
    assert Hierarchy.open(site).init() == []


def test_init_fills_in_only_what_is_missing_and_reuses_existing_keys(site: Site, state: Path) -> None:
    h = Hierarchy.open(site)
    h.init()
    old_etcd = h.cert("etcd-1")
    old_ssh = (h.layout.ssh / "ssh-host-ca-1.pub").read_bytes()
    old_signing = (h.layout.base / "signing" / f"{MODEL_SIGNING}.pub.pem").read_bytes()
    old_root = h.root_cert()
    del h.meta["intermediates"]["etcd"]
    del h.meta["ssh"]["ssh-host-ca"]
    del h.meta[MODEL_SIGNING]
    h.save()
    h.layout.cert_path("root").unlink()
    again = Hierarchy.open(site)
    assert again.init() == ["root CA", "etcd intermediate", "ssh-host-ca", "model signing key"]
    assert again.root_cert().public_key() == old_root.public_key()  # the key was there: a new certificate for it
    assert again.root_cert().serial_number != old_root.serial_number
    assert again.cert("etcd-1").public_key() == old_etcd.public_key()
    assert again.cert("etcd-1").serial_number != old_etcd.serial_number
    assert (again.layout.ssh / "ssh-host-ca-1.pub").read_bytes() == old_ssh
    assert (again.layout.base / "signing" / f"{MODEL_SIGNING}.pub.pem").read_bytes() == old_signing
    reread = Layout.for_country("cl").load_meta()
    assert reread["intermediates"]["etcd"] == {"active": 1, "generations": [1]}
    assert "ssh-host-ca" in reread["ssh"] and MODEL_SIGNING in reread


class _ClosingBackend(FileBackend):
    """The file backend, counting how often it is closed."""

    closed = 0

    def close(self) -> None:
        self.closed += 1


def test_the_hierarchy_closes_its_backend(site: Site, state: Path) -> None:
    layout = Layout.for_country("cl")
    backend = _ClosingBackend(layout.base)
    with Hierarchy(site, layout, backend) as h:
        assert h.backend is backend
    assert backend.closed == 1
    Hierarchy(site, layout).close()  # nothing opened: nothing to close, no error
    lazy = Hierarchy.open(site)
    assert lazy.layout == layout and lazy.site is site
    opened = lazy.backend
    assert isinstance(opened, FileBackend) and lazy.backend is opened


def test_open_backend_follows_the_spec(site: Site, state: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    layout = Layout.for_country("cl")
    backend = open_backend(site, layout)
    assert isinstance(backend, FileBackend) and backend._dir == layout.base
    monkeypatch.delenv("SOFTHSM2_CONF", raising=False)
    soft = site.keys.model_copy(
        update={"backend": "pkcs11", "pkcs11": Pkcs11(module="/usr/lib/softhsm/libsofthsm2.so")}
    )
    p11 = open_backend(site.model_copy(update={"keys": soft}), layout)
    assert isinstance(p11, Pkcs11Backend)
    assert (p11.module, p11.token_label, p11._lock) == (
        "/usr/lib/softhsm/libsofthsm2.so",
        "sitekit-cl",
        layout.softhsm_lock,
    )
    assert (layout.softhsm / "softhsm2.conf").exists()
    vendor = site.keys.model_copy(
        update={"backend": "pkcs11", "pkcs11": Pkcs11(module="/opt/vendor/libhsm.so", token_label="cl-root")}
    )
    p11 = open_backend(site.model_copy(update={"keys": vendor}), layout)
    assert isinstance(p11, Pkcs11Backend)
    assert (p11.module, p11.token_label, p11._lock) == ("/opt/vendor/libhsm.so", "cl-root", None)


def test_token_label_defaults_to_the_country(site: Site) -> None:
    assert token_label(site) == "sitekit-cl"
    unlabelled = site.keys.model_copy(update={"pkcs11": Pkcs11(module="/m.so")})
    assert token_label(site.model_copy(update={"keys": unlabelled})) == "sitekit-cl"
    labelled = site.keys.model_copy(update={"pkcs11": Pkcs11(module="/m.so", token_label="hsm-7")})
    assert token_label(site.model_copy(update={"keys": labelled})) == "hsm-7"


def test_store_leaf_keeps_key_private_and_chain_public(h: Hierarchy) -> None:
    issued = h.issue("ingress", ["svc.cl.sovereign.example"])
    cert_path, key_path = h.store_leaf("ingress", "svc", issued)
    assert cert_path == str(h.layout.base / "leaves" / "ingress" / "svc.pem")
    assert key_path == str(h.layout.base / "leaves" / "ingress" / "svc.key")
    assert Path(cert_path).read_bytes() == issued.fullchain_pem
    assert Path(key_path).read_bytes() == issued.key_pem
    assert stat.S_IMODE(Path(key_path).stat().st_mode) == 0o600
    assert stat.S_IMODE(Path(cert_path).stat().st_mode) == 0o644


def test_leaf_slug_is_first_name_and_digest_of_the_name_set() -> None:
    names = ["*.cl.sovereign.example", "b.cl.sovereign.example", "*.cl.sovereign.example"]
    digest = hashlib.sha256(b"*.cl.sovereign.example\nb.cl.sovereign.example").hexdigest()
    assert leaf_slug(names) == f"wildcard.cl.sovereign.example-{digest[:12]}"
    assert leaf_slug(["b.cl.sovereign.example", "*.cl.sovereign.example"]) == f"b.cl.sovereign.example-{digest[:12]}"
    assert leaf_slug([]) == f"leaf-{hashlib.sha256(b'').hexdigest()[:12]}"


def test_forged_name_under_a_second_domain_is_checked_by_the_verifier(two_site: Site, frozen: dt.datetime) -> None:
    """The root's constraints list the second domain: a leaf under it verifies, a look-alike does not."""
    root_key = _key()
    root = build_root(two_site, root_key)
    inter_key = _key()
    inter = build_intermediate(two_site, "ingress", 1, inter_key.public_key(), root, root_key)
    leaf = build_leaf(two_site, ["x.gob.example"], _key().public_key(), inter, inter_key)
    _server_verify(root, x509.DNSName("x.gob.example"), [leaf, inter])
    ip_leaf = build_leaf(two_site, ["192.0.2.255"], _key().public_key(), inter, inter_key)
    _server_verify(root, x509.IPAddress(ipaddress.ip_address("192.0.2.255")), [ip_leaf, inter])
    forged = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "xgob.example")]))
        .issuer_name(inter.subject)
        .public_key(_key().public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(T - dt.timedelta(minutes=1))
        .not_valid_after(T + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("xgob.example")]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(inter_key.public_key()), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(inter_key, hashes.SHA384())
    )
    with pytest.raises(VerificationError):
        _server_verify(root, x509.DNSName("xgob.example"), [forged, inter])
