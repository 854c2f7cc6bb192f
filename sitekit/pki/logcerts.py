"""Certificates of the country's log path: the collector's server leaf and every other host's client leaf.

Both come from the `logging` intermediate, the one CA the collector trusts, so a certificate of any other
intermediate (a Kubernetes client's) or of another country cannot send it records. Each leaf names its
host twice, by its DNS name under the country's first domain (what the other side's permitted-peer list
matches) and by its address, both inside the root's name constraints.

A leaf is kept in the state dir (`leaves/logging/<host>.pem`, key 0600) and handed out again while it is
still good: issued by the active logging generation, for the same names and profile, and outside the
rotation window. Otherwise a new one is issued and stored, so rotating the intermediate moves every host
to the new generation at its next converge while the collector still trusts the old one.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.x509.oid import ExtendedKeyUsageOID

from sitekit.errors import UserError
from sitekit.pki.hierarchy import Hierarchy, Issued, Profile, load_cert, now
from sitekit.spec.models import Host, Site

PURPOSE = "logging"


@dataclass(frozen=True)
class LogCertificate:
    """What one host installs: its leaf with chain, its key, the CA bundle it trusts and its peer's name."""

    host: str
    profile: Profile
    fullchain_pem: str
    key_pem: str
    ca_pem: str
    peer_names: tuple[str, ...]
    issued: bool

    def as_document(self) -> dict[str, object]:
        """The JSON document `sitekit keys log-cert` prints (it holds the key: for no_log pipes only)."""
        return {
            "host": self.host,
            "profile": self.profile,
            "cert": self.fullchain_pem,
            "key": self.key_pem,
            "ca": self.ca_pem,
            "peer_names": list(self.peer_names),
            "issued": self.issued,
        }


def _host(site: Site, name: str) -> Host:
    host = next((h for h in site.hosts if h.name == name), None)
    if host is None:
        raise UserError(f"{name!r} is not a host of {site.cc} ({', '.join(h.name for h in site.hosts)})")
    return host


def leaf_names(site: Site, host: Host) -> list[str]:
    """The names a host's logging leaf carries: its DNS name under the country's domain, then its address."""
    return [site.host_dns_name(host), str(host.address)]


def peer_names(site: Site, host: Host) -> tuple[str, ...]:
    """Who `host` accepts on the other end: the collector accepts the other hosts, a client the collector."""
    collector = site.log_collector()
    assert collector is not None
    if host.name == collector.name:
        return tuple(site.host_dns_name(h) for h in site.hosts if h.name != collector.name)
    return (site.host_dns_name(collector),)


def _sans(cert: x509.Certificate) -> set[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set()
    return {str(v.value) for v in san}


def _usage(cert: x509.Certificate) -> set[x509.ObjectIdentifier]:
    try:
        return set(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    except x509.ExtensionNotFound:
        return set()


def _still_good(h: Hierarchy, cert: x509.Certificate, names: list[str], profile: Profile) -> bool:
    """Whether a stored leaf may be handed out again (see the module docstring)."""
    active = h.cert(h.active_intermediate(PURPOSE))
    want = ExtendedKeyUsageOID.SERVER_AUTH if profile == "server" else ExtendedKeyUsageOID.CLIENT_AUTH
    window = dt.timedelta(days=h.site.keys.rotation_window_days)
    try:
        cert.verify_directly_issued_by(active)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return _sans(cert) == set(names) and want in _usage(cert) and cert.not_valid_after_utc - now() > window


def log_certificate(h: Hierarchy, host_name: str) -> LogCertificate:
    """The logging leaf of one host, reused from the state dir while good, else issued and stored."""
    site = h.site
    collector = site.log_collector()
    if collector is None:
        raise UserError(f"{site.cc}'s spec names no log collector (logging.collector): there is no log path to key")
    h.require()
    if PURPOSE in h.missing_intermediates():
        raise UserError(f"{site.cc} has no {PURPOSE} intermediate yet: run sitekit keys init {site.cc} to add it")
    host = _host(site, host_name)
    profile: Profile = "server" if host.name == collector.name else "client"
    names = leaf_names(site, host)
    folder = h.layout.leaves / PURPOSE
    cert_path, key_path = folder / f"{host.name}.pem", folder / f"{host.name}.key"
    issued = False
    if not (cert_path.is_file() and key_path.is_file() and _still_good(h, load_cert(cert_path), names, profile)):
        leaf: Issued = h.issue(PURPOSE, names, profile, common_name=names[0])
        h.store_leaf(PURPOSE, host.name, leaf)
        issued = True
    return LogCertificate(
        host=host.name,
        profile=profile,
        fullchain_pem=cert_path.read_text(),
        key_pem=key_path.read_text(),
        ca_pem=h.ca_bundle(PURPOSE).decode(),
        peer_names=peer_names(site, host),
        issued=issued,
    )
