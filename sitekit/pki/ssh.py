"""OpenSSH certificate authorities: short-lived user certificates and host certificates.

Operators reach hosts with user certificates that expire within hours (`ssh_user_cert_hours`), so access
ends by itself and no `authorized_keys` file needs cleaning; hosts present host certificates, so clients
trust one `@cert-authority` line instead of accepting unknown host keys. Both CA keys live in the backend
(in the token with PKCS#11); `cryptography`'s `SSHCertificateBuilder` builds the certificate and the backend
signs it. Host certificates are reused while they stay valid for longer than the rotation window, which
keeps the `keys` role idempotent.

New CA generations are Ed25519 (`layout.SSH_CA_KEY_TYPE`); the metadata records each generation's key type
(`ssh.<ca>.key_types`), and a generation without one is P-384, as every SSH CA was before, so a country's
existing CA keeps signing until `sitekit keys rotate` replaces it with an Ed25519 one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import (
    SSHCertificate,
    SSHCertificateBuilder,
    SSHCertificateType,
    load_ssh_public_identity,
)

from sitekit.atomic import write_public
from sitekit.errors import UserError
from sitekit.pki.backends import CAKeyType, check_key_type
from sitekit.pki.hierarchy import SKEW, Hierarchy, now
from sitekit.pki.layout import SSH_CA_KEY_TYPE

USER_EXTENSIONS = (b"permit-pty",)
_SSHPub = ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | rsa.RSAPublicKey


def _ca_names(h: Hierarchy, ca: str) -> list[str]:
    """Generations still trusted, active first: an old CA stays until the last certificate it signed expires."""
    entry = h.meta.get("ssh", {}).get(ca)
    if not entry:
        raise UserError(f"no {ca}: run sitekit keys init {h.site.cc}")
    active = entry["active"]
    until: dict[str, str] = entry.get("trusted_until", {})
    moment = now()
    gens = [active] + [
        g
        for g in reversed(entry["generations"])
        if g != active and (str(g) not in until or dt.datetime.fromisoformat(until[str(g)]) > moment)
    ]
    return [f"{ca}-{g}" for g in gens]


def ca_key_type(h: Hierarchy, ca: str, generation: int | str) -> CAKeyType:
    """The key type of one SSH CA generation: as recorded, or P-384 for generations older than the record."""
    entry = h.meta.get("ssh", {}).get(ca)
    if not entry:
        raise UserError(f"no {ca}: run sitekit keys init {h.site.cc}")
    types = entry.get("key_types", {})
    if not isinstance(types, dict):
        raise UserError(f"{h.layout.meta}: ssh.{ca}.key_types must be a mapping of generation to key type")
    return check_key_type(types.get(str(generation), "p384"), f"{h.layout.meta}: ssh.{ca}.key_types.{generation}")


def _active_signer(h: Hierarchy, ca: str) -> ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey:
    """The private key object of the active generation of `ca`, of the type its metadata records."""
    generation = h.meta["ssh"][ca]["active"]
    return h.backend.signer_of(f"{ca}-{generation}", ca_key_type(h, ca, generation))


def rotate_ca(h: Hierarchy, ca: str) -> str:
    """New active SSH CA generation; the old one stays trusted for the longest lifetime it signed."""
    h.require()
    entry = h.meta["ssh"][ca]
    old = entry["active"]
    generation = max(entry["generations"]) + 1
    name = f"{ca}-{generation}"
    key_type = check_key_type(SSH_CA_KEY_TYPE, "SSH_CA_KEY_TYPE")
    pub = h.backend.public_key_of(name, key_type) if h.backend.has_key(name) else h.backend.generate_key(name, key_type)
    line = pub.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    write_public(h.layout.ssh / f"{name}.pub", line + f" sitekit-{h.site.cc}-{ca}\n".encode())
    validity = h.site.keys.validity
    overlap = (
        dt.timedelta(hours=validity.ssh_user_cert_hours)
        if ca == "ssh-user-ca"
        else dt.timedelta(days=validity.ssh_host_cert_days)
    )
    entry.setdefault("trusted_until", {})[str(old)] = (now() + overlap).isoformat()
    entry["generations"].append(generation)
    entry.setdefault("key_types", {})[str(generation)] = key_type
    entry["active"] = generation
    h.save()
    return name


def ca_public_lines(h: Hierarchy, ca: str) -> list[str]:
    """OpenSSH public key lines of every generation of `ca` (active first)."""
    return [(h.layout.ssh / f"{name}.pub").read_text().strip() for name in _ca_names(h, ca)]


def _parse_subject(pubkey: str) -> _SSHPub:
    try:
        key = serialization.load_ssh_public_key(pubkey.strip().encode())
    except (ValueError, UnicodeError) as exc:
        raise UserError("not an OpenSSH public key line") from exc
    if not isinstance(key, ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | rsa.RSAPublicKey):
        raise UserError("unsupported SSH key type")
    return key


def _stamp(moment: dt.datetime) -> int:
    return int(moment.timestamp())


def _sign(
    h: Hierarchy,
    ca: str,
    subject: _SSHPub,
    cert_type: SSHCertificateType,
    principals: Sequence[str],
    key_id: str,
    lifetime: dt.timedelta,
) -> str:
    if not principals:
        raise UserError("a certificate needs at least one principal")
    signer = _active_signer(h, ca)
    start = now() - SKEW
    builder = (
        SSHCertificateBuilder()
        .public_key(subject)
        .serial(int.from_bytes(h.backend.random(8), "big"))
        .type(cert_type)
        .key_id(key_id.encode())
        .valid_principals([p.encode() for p in principals])
        .valid_after(_stamp(start))
        .valid_before(_stamp(now() + lifetime))
    )
    if cert_type == SSHCertificateType.USER:
        for ext in USER_EXTENSIONS:
            builder = builder.add_extension(ext, b"")
    cert = builder.sign(signer)
    comment = f" {key_id}"
    return cert.public_bytes().decode() + comment + "\n"


def sign_user(h: Hierarchy, pubkey: str, principals: Sequence[str], identity: str, hours: int | None = None) -> str:
    """A user certificate for `principals`, valid `ssh_user_cert_hours` (or fewer `hours`)."""
    h.require()
    limit = h.site.keys.validity.ssh_user_cert_hours
    if hours is not None and not 1 <= hours <= limit:
        raise UserError(f"--hours must be between 1 and the spec's ssh_user_cert_hours ({limit})")
    lifetime = dt.timedelta(hours=hours or limit)
    key_id = f"sitekit-{h.site.cc}-user:{identity}"
    return _sign(h, "ssh-user-ca", _parse_subject(pubkey), SSHCertificateType.USER, principals, key_id, lifetime)


def _reusable(h: Hierarchy, existing: str, subject: _SSHPub, principals: Sequence[str]) -> bool:
    try:
        cert = load_ssh_public_identity(existing.strip().encode())
    except (ValueError, UnicodeError):
        return False
    if not isinstance(cert, SSHCertificate) or cert.type != SSHCertificateType.HOST:
        return False
    ca_line = ca_public_lines(h, "ssh-host-ca")[0].split()[:2]
    sig_key = cert.signature_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    if sig_key.decode().split()[:2] != ca_line:
        return False
    try:
        cert.verify_cert_signature()
    except Exception:
        return False
    subject_line = subject.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    cert_subject = cert.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    if subject_line != cert_subject or sorted(p.decode() for p in cert.valid_principals) != sorted(principals):
        return False
    lifetime = dt.timedelta(days=h.site.keys.validity.ssh_host_cert_days)
    window = min(dt.timedelta(days=h.site.keys.rotation_window_days), lifetime / 2)
    return cert.valid_before - _stamp(now()) > window.total_seconds()


def sign_host(h: Hierarchy, pubkey: str, principals: Sequence[str], host: str, existing: str | None = None) -> str:
    """A host certificate, or `existing` unchanged if it is still good (same key, CA, principals, time)."""
    h.require()
    subject = _parse_subject(pubkey)
    if existing and _reusable(h, existing, subject, principals):
        return existing.strip() + "\n"
    lifetime = dt.timedelta(days=h.site.keys.validity.ssh_host_cert_days)
    key_id = f"sitekit-{h.site.cc}-host:{host}"
    return _sign(h, "ssh-host-ca", subject, SSHCertificateType.HOST, principals, key_id, lifetime)


def known_hosts_lines(h: Hierarchy, patterns: str = "*") -> list[str]:
    """`@cert-authority` lines for a client's known_hosts."""
    return [f"@cert-authority {patterns} {line}" for line in ca_public_lines(h, "ssh-host-ca")]
