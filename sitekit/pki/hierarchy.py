"""A country's key hierarchy: the name-constrained root, the intermediates, SSH CAs and data keys.

The root CA is limited by X.509 name constraints (critical) to the country's own DNS domains (plus the
cluster's internal DNS domain, which every in-cluster certificate needs) and its own IPv4 ranges, so even a
misused intermediate cannot mint a certificate a constraint-checking verifier (Go, OpenSSL, cryptography)
would accept for anyone else's names. Issuance also checks the names first, so an out-of-country name is
refused with a clear error instead of producing a certificate that verifiers reject later.

Every certificate gets a 159-bit serial from the OS CSPRNG, is backdated five minutes for clock skew, and
is refused if it would outlive its issuer: a leaf that outlives its CA is a certificate nobody can verify
at the end of its life, and the fix (rotate the CA first) belongs to the operator.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from sitekit.atomic import write_private, write_public
from sitekit.errors import UserError
from sitekit.pki.backends import FileBackend, KeyBackend, Pkcs11Backend, check_key_type, select_softhsm_conf
from sitekit.pki.layout import INTERMEDIATES, MODEL_SIGNING, ROOT, SSH_CA_KEY_TYPE, SSH_CAS, Layout
from sitekit.spec.models import Site

SKEW = dt.timedelta(minutes=5)
Profile = Literal["server", "client", "peer"]
_HASH = hashes.SHA384()


def now() -> dt.datetime:
    """Current UTC time (one place, so tests can reason about it)."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def token_label(site: Site) -> str:
    """The spec's token label, default `sitekit-<cc>`."""
    p11 = site.keys.pkcs11
    return (p11.token_label if p11 and p11.token_label else "") or f"sitekit-{site.cc}"


def open_backend(site: Site, layout: Layout) -> KeyBackend:
    """The backend the spec declares; SoftHSM2 gets a token directory inside the state dir."""
    if site.keys.backend == "file":
        return FileBackend(layout.base)
    assert site.keys.pkcs11 is not None
    module = site.keys.pkcs11.module
    if "softhsm" in module:
        select_softhsm_conf(layout.softhsm)
        return Pkcs11Backend(module, token_label(site), lock=layout.softhsm_lock)
    return Pkcs11Backend(module, token_label(site))


# ------------------------------------------------------------------------------------------ names


def permitted_dns(site: Site) -> tuple[str, ...]:
    """DNS subtrees the root may certify: the country's domains and the cluster's internal domain."""
    names = list(site.identity.domains)
    if site.cluster.cluster_domain not in names:
        names.append(site.cluster.cluster_domain)
    return tuple(names)


def permitted_ip(site: Site) -> tuple[ipaddress.IPv4Network, ...]:
    """IP subtrees the root may certify: the country's address ranges."""
    return tuple(site.residency.address_ranges)


def check_names(site: Site, dns: Iterable[str], ips: Iterable[str]) -> None:
    """Refuse names outside the country's constraints before anything is signed."""
    domains = permitted_dns(site)
    for name in dns:
        low = name.lower().rstrip(".")
        if not any(low == d or low.endswith("." + d) for d in domains):
            raise UserError(f"{name!r} is outside {site.cc}'s name constraints (permitted: {', '.join(domains)})")
    nets = permitted_ip(site)
    for raw in ips:
        try:
            addr = ipaddress.ip_address(raw)
        except ValueError as exc:
            raise UserError(f"{raw!r} is not an IP address") from exc
        if not any(addr in net for net in nets):
            raise UserError(f"{raw} is outside {site.cc}'s address ranges ({', '.join(map(str, nets))})")


def _split_names(names: Sequence[str]) -> tuple[list[str], list[str]]:
    dns: list[str] = []
    ips: list[str] = []
    for name in names:
        try:
            ipaddress.ip_address(name)
        except ValueError:
            dns.append(name)
        else:
            ips.append(name)
    return dns, ips


# ---------------------------------------------------------------------------------------- builders


def _name(site: Site, cn: str, org_unit: str | None = None) -> x509.Name:
    attrs = [
        x509.NameAttribute(NameOID.COUNTRY_NAME, site.identity.code),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, f"sitekit {site.identity.name}"),
    ]
    if org_unit:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, org_unit))
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(attrs)


_USAGE_BITS = (
    "digital_signature",
    "content_commitment",
    "key_encipherment",
    "data_encipherment",
    "key_agreement",
    "key_cert_sign",
    "crl_sign",
    "encipher_only",
    "decipher_only",
)


def _key_usage(*granted: str) -> x509.KeyUsage:
    """KeyUsage with exactly the `granted` bits set and every other bit False."""
    return x509.KeyUsage(**{bit: bit in granted for bit in _USAGE_BITS})


def _ca_usage() -> x509.KeyUsage:
    return _key_usage("digital_signature", "key_cert_sign", "crl_sign")


def _leaf_usage() -> x509.KeyUsage:
    return _key_usage("digital_signature")


def _span(days: int) -> tuple[dt.datetime, dt.datetime]:
    """From SKEW ago (clock skew between hosts) to `days` from now."""
    return now() - SKEW, now() + dt.timedelta(days=days)


def _validity(days: int, issuer: x509.Certificate, what: str) -> tuple[dt.datetime, dt.datetime]:
    """The span of a certificate `issuer` signs: refused if it would outlive the issuer, never before it."""
    start, end = _span(days)
    if end > issuer.not_valid_after_utc:
        raise UserError(
            f"{what} would be valid until {end:%Y-%m-%d} but its issuer {issuer.subject.rfc4514_string()} "
            f"expires {issuer.not_valid_after_utc:%Y-%m-%d}; rotate the issuer first"
        )
    return max(start, issuer.not_valid_before_utc), end


def build_root(site: Site, key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
    """Self-signed root with critical name constraints and a path length of one."""
    subject = _name(site, f"sitekit {site.identity.code} Root CA")
    start, end = _span(site.keys.validity.root_ca_days)
    constraints = x509.NameConstraints(
        permitted_subtrees=[x509.DNSName(d) for d in permitted_dns(site)]
        + [x509.IPAddress(n) for n in permitted_ip(site)],
        excluded_subtrees=None,
    )
    pub = key.public_key()
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(pub)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
        .add_extension(_ca_usage(), critical=True)
        .add_extension(constraints, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(pub), critical=False)
        .sign(key, _HASH)
    )


def build_intermediate(
    site: Site,
    purpose: str,
    generation: int,
    public: ec.EllipticCurvePublicKey,
    root: x509.Certificate,
    root_key: ec.EllipticCurvePrivateKey,
) -> x509.Certificate:
    """An intermediate for one purpose (path length 0: it signs leaves only)."""
    start, end = _validity(site.keys.validity.intermediate_days, root, f"intermediate {purpose}")
    return (
        x509.CertificateBuilder()
        .subject_name(_name(site, f"sitekit {site.identity.code} {purpose} CA {generation}", purpose))
        .issuer_name(root.subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_ca_usage(), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root.public_key()), critical=False)  # type: ignore[arg-type]
        .sign(root_key, _HASH)
    )


def build_leaf(
    site: Site,
    names: Sequence[str],
    public: ec.EllipticCurvePublicKey,
    issuer: x509.Certificate,
    issuer_key: ec.EllipticCurvePrivateKey,
    profile: Profile = "server",
    common_name: str | None = None,
    organization: str | None = None,
    days: int | None = None,
) -> x509.Certificate:
    """A server, client or peer certificate; names checked against the constraints first."""
    dns, ips = _split_names(names)
    check_names(site, dns, ips)
    if profile != "client" and not names:
        raise UserError("a server or peer certificate needs at least one DNS name or IP address")
    cn = common_name or (names[0] if names else "")
    if not cn:
        raise UserError("a client certificate needs a common name (--cn)")
    start, end = _validity(days or site.keys.validity.leaf_days, issuer, f"certificate for {cn}")
    attrs = []
    if organization:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    eku = {
        "server": [ExtendedKeyUsageOID.SERVER_AUTH],
        "client": [ExtendedKeyUsageOID.CLIENT_AUTH],
        "peer": [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH],
    }[profile]
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name(attrs))
        .issuer_name(issuer.subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_leaf_usage(), critical=True)
        .add_extension(x509.ExtendedKeyUsage(eku), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.public_key()), critical=False)  # type: ignore[arg-type]
    )
    if names:
        sans: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
        sans += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(issuer_key, _HASH)


def pem(cert: x509.Certificate) -> bytes:
    """PEM of one certificate."""
    return cert.public_bytes(serialization.Encoding.PEM)


def load_cert(path: Any) -> x509.Certificate:
    """Read one PEM certificate."""
    with open(path, "rb") as handle:
        return x509.load_pem_x509_certificate(handle.read())


# --------------------------------------------------------------------------------------- hierarchy


@dataclass
class Issued:
    """A leaf certificate with its chain and key, as PEM."""

    cert: x509.Certificate
    fullchain_pem: bytes
    key_pem: bytes


class Hierarchy:
    """One country's keys: create, read, issue, rotate. Open with `Hierarchy.open(site)`."""

    def __init__(self, site: Site, layout: Layout, backend: KeyBackend | None = None) -> None:
        self.site = site
        self.layout = layout
        self._backend = backend
        self.meta: dict[str, Any] = layout.load_meta()

    @classmethod
    def open(cls, site: Site) -> Hierarchy:
        """The hierarchy of `site` in the current state dir (the backend opens lazily)."""
        return cls(site, Layout.for_country(site.cc))

    @property
    def backend(self) -> KeyBackend:
        """The key backend; opening it may prompt for a passphrase or PIN."""
        if self._backend is None:
            self._backend = open_backend(self.site, self.layout)
        return self._backend

    def close(self) -> None:
        """Close the token session, if any."""
        if self._backend is not None:
            self._backend.close()

    def __enter__(self) -> Hierarchy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def require(self) -> None:
        """Raise the operator-facing error when `keys init` has not run."""
        if not self.layout.initialised():
            raise UserError(f"no key hierarchy for {self.site.cc}: run sitekit keys init {self.site.cc}")
        if self.meta.get("backend") != self.site.keys.backend:
            raise UserError(
                f"{self.site.cc}'s keys were made with the {self.meta.get('backend')} backend but the spec now "
                f"says {self.site.keys.backend}: migrating backends is a re-key ceremony (see the README)"
            )

    def save(self) -> None:
        self.layout.save_meta(self.meta)

    # ---- reading

    def root_cert(self) -> x509.Certificate:
        return load_cert(self.layout.cert_path(ROOT))

    def intermediate_names(self, purpose: str) -> list[str]:
        """Key names of every generation of `purpose`, oldest first."""
        gens = self.meta.get("intermediates", {}).get(purpose, {}).get("generations", [])
        return [f"{purpose}-{g}" for g in gens]

    def active_intermediate(self, purpose: str) -> str:
        """Key name of the generation that signs new certificates."""
        if purpose not in INTERMEDIATES:
            raise UserError(f"unknown intermediate {purpose!r} (one of {', '.join(INTERMEDIATES)})")
        entry = self.meta.get("intermediates", {}).get(purpose)
        if not entry:
            raise UserError(f"no {purpose} intermediate: run sitekit keys init {self.site.cc}")
        return f"{purpose}-{entry['active']}"

    def cert(self, key_name: str) -> x509.Certificate:
        return load_cert(self.layout.cert_path(key_name))

    def valid_intermediates(self, purpose: str, at: dt.datetime | None = None) -> list[x509.Certificate]:
        """Every not-yet-expired generation, active first: the overlap set of the trust bundle."""
        moment = at or now()
        active = self.active_intermediate(purpose)
        names = [active] + [n for n in reversed(self.intermediate_names(purpose)) if n != active]
        certs = [self.cert(n) for n in names]
        return [c for c in certs if c.not_valid_after_utc > moment]

    def present_intermediates(self) -> list[str]:
        """The intermediates this state has (one added to sitekit later appears after `keys init` adds it)."""
        made = self.meta.get("intermediates", {})
        return [p for p in INTERMEDIATES if p in made]

    def missing_intermediates(self) -> list[str]:
        """Intermediates sitekit knows that this state lacks: `sitekit keys init <cc>` creates them."""
        made = self.meta.get("intermediates", {})
        return [p for p in INTERMEDIATES if p not in made]

    def trust_bundle(self) -> bytes:
        """Root plus every valid intermediate: what hosts install as the country's CA bundle."""
        parts = [pem(self.root_cert())]
        for purpose in self.present_intermediates():
            parts += [pem(c) for c in self.valid_intermediates(purpose)]
        return b"".join(parts)

    def ca_bundle(self, purpose: str) -> bytes:
        """Every valid generation of one intermediate (e.g. the Kubernetes cluster CA file)."""
        return b"".join(pem(c) for c in self.valid_intermediates(purpose))

    # ---- creating

    def init(self) -> list[str]:
        """Create whatever is missing; returns what was created. Re-running is safe."""
        created: list[str] = []
        backend = self.backend
        meta = self.meta
        if not meta:
            meta.update({"version": 1, "cc": self.site.cc, "backend": backend.kind, "created": now().isoformat()})
            if isinstance(backend, Pkcs11Backend):
                meta["pkcs11"] = {"module": backend.module, "token_label": backend.token_label}
        elif meta.get("backend") != backend.kind:
            self.require()
        layout = self.layout
        if not layout.cert_path(ROOT).exists():
            if not backend.has_key(ROOT):
                backend.generate(ROOT)
            root = build_root(self.site, backend.signer(ROOT))
            write_public(layout.cert_path(ROOT), pem(root))
            created.append("root CA")
            self.save()
        root = self.root_cert()
        meta.setdefault("intermediates", {})
        for purpose in INTERMEDIATES:
            if purpose not in meta["intermediates"]:
                self._new_intermediate(purpose, 1, root)
                meta["intermediates"][purpose] = {"active": 1, "generations": [1]}
                created.append(f"{purpose} intermediate")
                self.save()
        meta.setdefault("ssh", {})
        for ca in SSH_CAS:
            if ca not in meta["ssh"]:
                name = f"{ca}-1"
                key_type = check_key_type(SSH_CA_KEY_TYPE, "SSH_CA_KEY_TYPE")
                pub = (
                    backend.public_key_of(name, key_type)
                    if backend.has_key(name)
                    else backend.generate_key(name, key_type)
                )
                line = pub.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
                write_public(layout.ssh / f"{name}.pub", line + f" sitekit-{self.site.cc}-{ca}\n".encode())
                meta["ssh"][ca] = {
                    "active": 1,
                    "generations": [1],
                    "created": now().isoformat(),
                    "key_types": {"1": key_type},
                }
                created.append(ca)
                self.save()
        if MODEL_SIGNING not in meta:
            pub = (
                backend.public_key(MODEL_SIGNING) if backend.has_key(MODEL_SIGNING) else backend.generate(MODEL_SIGNING)
            )
            write_public(
                layout.base / "signing" / f"{MODEL_SIGNING}.pub.pem",
                pub.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
            )
            meta[MODEL_SIGNING] = {"created": now().isoformat()}
            created.append("model signing key")
            self.save()
        if not meta.get("data_keys"):
            from sitekit.pki.datakeys import new_data_key

            new_data_key(self)
            created.append("data key")
            self.save()
        return created

    def _new_intermediate(self, purpose: str, generation: int, root: x509.Certificate) -> x509.Certificate:
        name = f"{purpose}-{generation}"
        backend = self.backend
        pub = backend.public_key(name) if backend.has_key(name) else backend.generate(name)
        cert = build_intermediate(self.site, purpose, generation, pub, root, backend.signer(ROOT))
        write_public(self.layout.cert_path(name), pem(cert))
        return cert

    def rotate_intermediate(self, purpose: str) -> str:
        """Make a new generation active; old generations stay in the bundles until they expire."""
        self.require()
        entry = self.meta["intermediates"][purpose]
        generation = max(entry["generations"]) + 1
        self._new_intermediate(purpose, generation, self.root_cert())
        entry["generations"].append(generation)
        entry["active"] = generation
        self.save()
        return f"{purpose}-{generation}"

    # ---- issuing

    def issue(
        self,
        purpose: str,
        names: Sequence[str],
        profile: Profile = "server",
        common_name: str | None = None,
        organization: str | None = None,
    ) -> Issued:
        """A new leaf (software P-256 key: the service that uses it must hold it) from `purpose`'s CA."""
        self.require()
        issuer_name = self.active_intermediate(purpose)
        issuer = self.cert(issuer_name)
        dns, ips = _split_names(names)
        check_names(self.site, dns, ips)
        key = ec.generate_private_key(ec.SECP256R1())
        cert = build_leaf(
            self.site,
            names,
            key.public_key(),
            issuer,
            self.backend.signer(issuer_name),
            profile,
            common_name,
            organization,
        )
        key_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return Issued(cert, pem(cert) + pem(issuer), key_pem)

    def store_leaf(self, purpose: str, slug: str, issued: Issued) -> tuple[str, str]:
        """Keep a leaf (chain 0644, key 0600) under `leaves/<purpose>/`; returns both paths."""
        folder = self.layout.leaves / purpose
        cert_path, key_path = folder / f"{slug}.pem", folder / f"{slug}.key"
        write_private(key_path, issued.key_pem)
        write_public(cert_path, issued.fullchain_pem)
        return str(cert_path), str(key_path)


def leaf_slug(names: Sequence[str]) -> str:
    """File name for a leaf: its first name plus a digest of the whole sorted name set."""
    digest = hashlib.sha256("\n".join(sorted(set(names))).encode()).hexdigest()[:12]
    first = names[0].replace("*", "wildcard") if names else "leaf"
    return f"{first}-{digest}"
