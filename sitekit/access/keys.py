"""Key powers: custodians and the M-of-N to rebuild the root, who can obtain the secrets the keys protect,
and which client certificates make their holder a Kubernetes cluster-admin.

Custody comes from the spec's `keys` section read the way `sitekit.pki.custody` acts on it: the file
backend splits a root backup with SLIP-39 among the named custodians (any M of N rebuild it), the PKCS#11
backend keeps the root non-extractable and leaves M-of-N to the HSM's own cloning scheme. Model-volume
recovery keys and the Secrets data keys are sealed by the key backend (`sitekit.pki.escrow`,
`sitekit.pki.datakeys`), so the token's PIN (or the file backend's passphrase) opens them; the data keys
also sit in plaintext on control-plane hosts, so root there holds them too.

The spec names no cluster-admin: the API server makes one of anyone whose client certificate the country's
Kubernetes CA signed with the organisation `system:masters` (no binding, no revocation), or whom a binding
grants `cluster-admin`. This module finds the first kind among the certificates in the country's state
(public certificates only; no key, no PIN), each checked against the country's own Kubernetes CA.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.x509.oid import NameOID

from sitekit.access.model import Custody, Grant, HostGroupAccess, KeyPower, MastersCertificate
from sitekit.spec import Site

MASTERS_GROUP = "system:masters"


def _secret_route(site: Site) -> str:
    if site.keys.backend == "pkcs11":
        label = (site.keys.pkcs11.token_label if site.keys.pkcs11 else "") or f"sitekit-{site.cc}"
        return f"whoever holds the PKCS#11 token {label} and its user PIN (SITEKIT_PKCS11_PIN) on the controller"
    return "whoever holds the file backend's passphrase (SITEKIT_KEY_PASSPHRASE) and the controller's state directory"


def root_rebuild(site: Site) -> str:
    """How the root key is rebuilt after a loss, and by whom."""
    m, n = site.keys.threshold, len(site.keys.custodians)
    if site.keys.backend == "pkcs11":
        return (
            f"the root key is non-extractable in the HSM; a backup exists only as the HSM vendor's own M-of-N cloning "
            f"between in-country HSMs, to be held by {m} of the {n} custodians; SoftHSM2 (the lab) has none, so "
            "losing the token means a re-key ceremony (`sitekit keys init` on a new token)"
        )
    return (
        f"any {m} of the {n} custodians together, each with one SLIP-39 share of the backup key "
        f"(`sitekit keys recover`); {m - 1} or fewer learn nothing about the root key"
    )


def _holders(groups: Iterable[HostGroupAccess], needle: str) -> list[str]:
    out = []
    for g in groups:
        if any(needle in h for h in g.holds):
            out.append(
                f"root on {g.group} hosts ({', '.join(g.hosts)}): SSH certificate principals {', '.join(g.principals)} "
                f"via sudo"
            )
    return out


def key_powers(site: Site, groups: Sequence[HostGroupAccess], grants: Sequence[Grant]) -> list[KeyPower]:
    """Each key-derived power and every route to it."""
    secret = _secret_route(site)
    powers = [
        KeyPower(
            "sign as the country's CAs: any TLS certificate, any SSH user certificate (any principal), any "
            "system:masters client certificate",
            (secret,),
        )
    ]
    volume = site.keys.model_volume
    if volume is not None:
        hosts = [h.name for h in site.hosts if h.role in volume.roles]
        powers.append(
            KeyPower(
                f"a model volume's recovery key ({volume.device} on {', '.join(hosts) or 'no host'}; escrowed sealed "
                f"in <state>/keys/{site.cc}/escrow/<host>/models.sealed)",
                (secret + ", with `sitekit keys volume-key`",),
            )
        )
        data_routes = _holders(groups, "model weights")
        if data_routes:
            powers.append(KeyPower("the model weights on an opened volume (not the key)", tuple(data_routes)))
    data = [secret + " (unseals every data key generation)", *_holders(groups, "Secrets data keys")]
    powers.append(KeyPower("the Kubernetes Secrets data key (encryption at rest)", tuple(data)))
    readers = sorted(
        {
            f"{g.subject.label()} ({'every namespace' if g.cluster_wide else 'namespace ' + g.scope})"
            for g in grants
            for r in g.rules
            if (("secrets" in r.resources or "*" in r.resources) and ("" in r.api_groups or "*" in r.api_groups))
            and {"get", "list", "watch"} & set(r.verbs)
        }
    )
    powers.append(
        KeyPower(
            "read Secrets through the API (plaintext, whatever the data key)",
            (*readers, "any system:masters certificate holder (every namespace)"),
        )
    )
    return powers


def custody(site: Site, groups: Sequence[HostGroupAccess], grants: Sequence[Grant]) -> Custody:
    """Custodians, M-of-N and the key powers of one site."""
    return Custody(
        backend=site.keys.backend,
        custodians=tuple((c.name, c.role) for c in site.keys.custodians),
        threshold=site.keys.threshold,
        root_rebuild=root_rebuild(site),
        powers=tuple(key_powers(site, groups, grants)),
    )


def _load_first(path: Path) -> x509.Certificate | None:
    try:
        data = path.read_bytes()
        return x509.load_pem_x509_certificate(data)
    except (OSError, ValueError):
        return None


def kubernetes_cas(keys_dir: Path) -> list[x509.Certificate]:
    """Every generation of the country's Kubernetes intermediate (`certs/kubernetes-<n>.pem`)."""
    out = []
    for path in sorted((keys_dir / "certs").glob("kubernetes-*.pem")):
        cert = _load_first(path)
        if cert is not None:
            out.append(cert)
    return out


def masters_certificates(
    keys_dir: Path, folders: Sequence[Path], at: dt.datetime | None = None
) -> list[MastersCertificate]:
    """Client certificates in `folders` that a country Kubernetes CA signed with O=system:masters, valid `at`.

    A certificate signed by some other CA, or expired, is left out: the country's API server refuses it.
    One not yet valid is listed, since it will be accepted.
    """
    moment = at or dt.datetime.now(dt.UTC)
    cas = kubernetes_cas(keys_dir)
    found: dict[str, MastersCertificate] = {}
    for folder in folders:
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*.pem")):
            cert = _load_first(path)
            if cert is None:
                continue
            orgs = tuple(str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME))
            if cert.not_valid_after_utc < moment:
                continue
            if MASTERS_GROUP not in orgs or not any(_signed_by(cert, ca) for ca in cas):
                continue
            cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
            serial = format(cert.serial_number, "x")
            found.setdefault(
                serial,
                MastersCertificate(
                    common_name=str(cns[0].value) if cns else "",
                    organizations=orgs,
                    serial=serial,
                    not_after=cert.not_valid_after_utc.isoformat(),
                    file=str(path),
                ),
            )
    return sorted(found.values(), key=lambda c: (c.common_name, c.serial))


def _signed_by(cert: x509.Certificate, ca: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True
