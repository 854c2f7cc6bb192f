"""M-of-N custody of the root key: SLIP-39 shares for a backup, and the recovery ceremony.

File backend: the root key (PKCS#8) is encrypted with AES-256-GCM under a fresh 32-byte backup key, bound
to the root certificate's fingerprint; the blob is `custody/root-backup.bin`. Only the backup key is split
with SLIP-39 (`shamir-mnemonic`, group threshold 1, one group of M-of-N), one share file per custodian
named in the spec, 0600. Fewer than M shares reveal nothing about the key, so no single person (and no
M-1 people) can restore the root. The share files are secrets: hand each to its custodian (paper or their
own token) and delete it from the controller; `keys recover` takes them back from files or the terminal.

PKCS#11 backend: the root is generated non-extractable (CKA_EXTRACTABLE false, CKA_SENSITIVE true), so
there is nothing sitekit could export and it does not pretend to. Custody there is the HSM's own: the
vendor's M-of-N cloning or backup scheme (Luna cloning domains, nShield security worlds) between HSMs in the
country. SoftHSM2 has none, so the ceremony the lab's token allows is "no backup": losing the token is a
re-key ceremony (new root, new intermediates, trust bundles rolled out with both roots during the
overlap), and `keys recover` refuses with that explanation.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from sitekit.atomic import ensure_private_dir, write_private
from sitekit.errors import UserError
from sitekit.pki.hierarchy import Hierarchy, now
from sitekit.pki.layout import ROOT

_BLOB = b"SKB1"
NO_BACKUP_REASON = (
    "the root key was generated in the PKCS#11 token as non-extractable; a backup exists only as the "
    "HSM's own M-of-N cloning between HSMs, which SoftHSM2 does not offer. Recovery without the token is a "
    "re-key ceremony: sitekit keys init on a new token, then roll out the new trust bundle."
)


def _aad(h: Hierarchy) -> bytes:
    fingerprint = hashlib.sha256(h.layout.cert_path(ROOT).read_bytes()).hexdigest()
    return f"sitekit:{h.site.cc}:root-backup:{fingerprint}".encode()


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "custodian"


def share_dir(h: Hierarchy) -> Path:
    return h.layout.custody / "shares"


def create_backup(h: Hierarchy) -> list[Path]:
    """Split a root backup among the spec's custodians; returns the share files (PKCS#11: none)."""
    keys = h.site.keys
    if h.backend.kind != "file":
        h.meta["custody"] = {"mode": "none", "reason": NO_BACKUP_REASON, "created": now().isoformat()}
        h.save()
        return []
    m, n = keys.threshold, len(keys.custodians)
    if m > n:
        raise UserError(f"threshold {m} is larger than the {n} custodians named in the spec")
    if m == 1 and n > 1:
        raise UserError("a 1-of-N split would give every custodian the whole root: set threshold to 2 or more")
    import shamir_mnemonic

    der = h.backend.export_for_backup(ROOT)
    backup_key = os.urandom(32)
    nonce = os.urandom(12)
    blob = _BLOB + nonce + AESGCM(backup_key).encrypt(nonce, der, _aad(h))
    write_private(h.layout.custody / "root-backup.bin", blob)
    groups = shamir_mnemonic.generate_mnemonics(1, [(m, n)], backup_key, passphrase=b"", extendable=True)
    folder = ensure_private_dir(share_dir(h))
    for old in folder.glob("*.txt"):
        old.unlink()
    paths: list[Path] = []
    for index, (custodian, mnemonic) in enumerate(zip(keys.custodians, groups[0], strict=True), start=1):
        path = folder / f"{index:02d}-{_slug(custodian.name)}.txt"
        text = (
            f"# sitekit {h.site.cc} root backup share {index} of {n} (any {m} restore the root)\n"
            f"# custodian: {custodian.name} ({custodian.role})\n"
            f"# SECRET: hand to the custodian, then delete this file from the controller.\n"
            f"{mnemonic}\n"
        )
        write_private(path, text.encode())
        paths.append(path)
    h.meta["custody"] = {
        "mode": "slip39",
        "threshold": m,
        "shares": n,
        "custodians": [c.name for c in keys.custodians],
        "backup": "custody/root-backup.bin",
        "created": now().isoformat(),
    }
    h.save()
    return paths


def read_share(path: Path) -> str:
    """The mnemonic in a share file (comment lines ignored)."""
    words = [line.strip() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]
    return " ".join(words)


def recover(h: Hierarchy, shares: Sequence[str]) -> dict[str, Any]:
    """Rebuild the root key from at least M shares and store it in the backend again."""
    h.require()
    custody = h.meta.get("custody") or {}
    if custody.get("mode") != "slip39":
        raise UserError(f"no share-based backup for {h.site.cc}: {custody.get('reason', NO_BACKUP_REASON)}")
    import shamir_mnemonic
    from shamir_mnemonic import MnemonicError

    distinct = sorted({" ".join(s.split()) for s in shares if s.strip()})
    need = int(custody["threshold"])
    if len(distinct) < need:
        raise UserError(f"{len(distinct)} distinct share(s) given; the ceremony needs {need}")
    try:
        # SLIP-39 combines exactly M shares of a group; more may come to the ceremony (every custodian), so
        # all must belong to the same split (a foreign or mistyped one is an error, never silently dropped)
        # and the first M are combined.
        if len({shamir_mnemonic.Share.from_mnemonic(s).common_parameters() for s in distinct}) != 1:
            raise MnemonicError("the shares come from different splits")
        backup_key = shamir_mnemonic.combine_mnemonics(distinct[:need], passphrase=b"")
    except MnemonicError as exc:
        raise UserError(f"the shares do not combine: {exc}") from exc
    blob = (h.layout.custody / "root-backup.bin").read_bytes()
    if not blob.startswith(_BLOB):
        raise UserError("custody/root-backup.bin is not a sitekit root backup")
    try:
        der = AESGCM(backup_key).decrypt(blob[4:16], blob[16:], _aad(h))
    except Exception as exc:
        raise UserError("the shares combine but do not open this country's root backup") from exc
    key = serialization.load_der_private_key(der, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.public_key() != h.root_cert().public_key():
        raise UserError("the recovered key does not match the root certificate")
    h.backend.import_from_backup(ROOT, der)
    return {"restored": ROOT, "shares_used": need, "threshold": need}
