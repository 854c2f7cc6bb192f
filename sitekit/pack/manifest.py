"""The pack's manifest: every file's SHA-256, signed by the country's signing key; and its verification.

`manifest.json` lists each file of the pack (path, sha256, size) and the empty slots with their reason.
`manifest.sig` holds an ECDSA P-384 signature over the SHA-384 of the manifest's exact bytes, made by the
country's `model-signing` key in its key backend (the token, with PKCS#11). Verification needs only the
pack and, to pin who signed it, the country's public signing key or its fingerprint: no state, no PIN, no
network.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils

from sitekit.errors import CheckFailed, UserError

SCHEMA = "sitekit.pack/1"
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
SIGNING_KEY = "keys/signing-key.pub.pem"
"""Where the pack carries the public key that verifies its manifest."""
ALGORITHM = "ecdsa-p384-sha384"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fingerprint(public: ec.EllipticCurvePublicKey) -> str:
    """SHA-256 of the key's DER SubjectPublicKeyInfo, hex: what a country publishes for its auditors."""
    der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return sha256(der)


def manifest_bytes(cc: str, created: str, files: dict[str, bytes], absent: dict[str, str]) -> bytes:
    """The manifest for `files` (pack path -> bytes), canonical JSON (sorted keys, fixed indent)."""
    doc = {
        "schema": SCHEMA,
        "country": cc,
        "created": created,
        "algorithm": ALGORITHM,
        "signed_file": MANIFEST,
        "files": {p: {"sha256": sha256(data), "size": len(data)} for p, data in sorted(files.items())},
        "absent": dict(sorted(absent.items())),
    }
    return (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode()


def sign(manifest: bytes, signer: ec.EllipticCurvePrivateKey) -> bytes:
    """`manifest.sig` for `manifest` (the signer may be a token key: it only signs a prehashed digest)."""
    digest = hashlib.sha384(manifest).digest()
    signature = signer.sign(digest, ec.ECDSA(utils.Prehashed(hashes.SHA384())))
    doc = {
        "algorithm": ALGORITHM,
        "sha384": digest.hex(),
        "signature": base64.b64encode(signature).decode(),
        "key_sha256": fingerprint(signer.public_key()),
    }
    return (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode()


@dataclass
class Verified:
    """What `verify_pack` established."""

    country: str
    files: int
    key_fingerprint: str
    pinned: bool
    absent: dict[str, str] = field(default_factory=dict)


def _safe_path(text: str) -> str:
    path = PurePosixPath(text)
    if not text or path.is_absolute() or ".." in path.parts or text != str(path) or text in (MANIFEST, SIGNATURE):
        raise CheckFailed(f"{MANIFEST}: unsafe or reserved file name {text!r}")
    return text


def _load_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise CheckFailed(f"{path.name}: missing from the pack") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckFailed(f"{path.name}: unreadable: {exc}") from exc
    if not isinstance(data, dict):
        raise CheckFailed(f"{path.name}: not a JSON object")
    return data


def load_public_key(data: bytes, where: str) -> ec.EllipticCurvePublicKey:
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError as exc:
        raise UserError(f"{where}: not a PEM public key: {exc}") from exc
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp384r1":
        raise UserError(f"{where}: not an EC P-384 public key")
    return key


def pack_files(folder: Path) -> dict[str, Path]:
    """Every regular file under `folder` by its pack path; a link or special file is a failure naming it."""
    out: dict[str, Path] = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if path.is_symlink() or not (path.is_file() or path.is_dir()):
            raise CheckFailed(f"{rel}: not a regular file (links and special files are never part of a pack)")
        if path.is_file() and rel not in (MANIFEST, SIGNATURE):
            out[rel] = path
    return out


def _carried_key(path: Path) -> ec.EllipticCurvePublicKey:
    """The public key the pack carries; unreadable means it was changed (a check failure naming it)."""
    try:
        return load_public_key(path.read_bytes(), SIGNING_KEY)
    except UserError as exc:
        raise CheckFailed(f"{exc} (changed)") from exc


def verify_pack(
    folder: Path, *, trusted_key: ec.EllipticCurvePublicKey | None = None, trusted_fingerprint: str | None = None
) -> Verified:
    """Check the signature of the manifest and every file against it; raise CheckFailed naming the first
    file that differs, is missing or was added. With a trusted key or fingerprint, the pack must be signed
    by that key; without, by the key the pack carries (integrity only: pin the key to know who signed)."""
    if not folder.is_dir():
        raise UserError(f"{folder}: not a pack folder")
    manifest_raw = (folder / MANIFEST).read_bytes() if (folder / MANIFEST).is_file() else b""
    manifest = _load_json(folder / MANIFEST)
    sig = _load_json(folder / SIGNATURE)
    if manifest.get("schema") != SCHEMA:
        raise CheckFailed(f"{MANIFEST}: not a sitekit pack manifest (schema {manifest.get('schema')!r})")
    listed = manifest.get("files")
    if not isinstance(listed, dict):
        raise CheckFailed(f"{MANIFEST}: no files table")
    carried_path = folder / SIGNING_KEY
    if not carried_path.is_file():
        raise CheckFailed(f"{SIGNING_KEY}: missing from the pack")
    key = trusted_key or _carried_key(carried_path)
    if trusted_fingerprint and fingerprint(key) != trusted_fingerprint.lower().replace(":", ""):
        raise CheckFailed(
            f"{SIGNING_KEY}: the pack's signing key {fingerprint(key)} is not the trusted key {trusted_fingerprint}"
        )
    if sig.get("algorithm") != ALGORITHM:
        raise CheckFailed(f"{SIGNATURE}: unknown algorithm {sig.get('algorithm')!r}")
    digest = hashlib.sha384(manifest_raw).digest()
    try:
        key.verify(
            base64.b64decode(str(sig.get("signature", "")), validate=True),
            digest,
            ec.ECDSA(utils.Prehashed(hashes.SHA384())),
        )
    except (InvalidSignature, ValueError) as exc:
        who = "the trusted key" if trusted_key else f"the key the pack carries ({SIGNING_KEY})"
        raise CheckFailed(
            f"{MANIFEST}: signature in {SIGNATURE} does not verify with {who}, fingerprint {fingerprint(key)}"
        ) from exc
    present = pack_files(folder)
    for rel in sorted(listed):
        _safe_path(rel)
        entry = listed[rel]
        if rel not in present:
            raise CheckFailed(f"{rel}: listed in the manifest but missing from the pack (removed)")
        data = present[rel].read_bytes()
        if not isinstance(entry, dict) or sha256(data) != entry.get("sha256") or len(data) != entry.get("size"):
            raise CheckFailed(f"{rel}: content differs from the signed manifest (changed)")
    added = sorted(set(present) - set(listed))
    if added:
        raise CheckFailed(
            f"{added[0]}: not in the signed manifest (added)"
            + (f", and {len(added) - 1} more" if len(added) > 1 else "")
        )
    if trusted_key is not None and fingerprint(_carried_key(carried_path)) != fingerprint(trusted_key):
        raise CheckFailed(f"{SIGNING_KEY}: the pack carries a different key than the trusted one")
    absent = manifest.get("absent") or {}
    return Verified(
        country=str(manifest.get("country", "?")),
        files=len(listed),
        key_fingerprint=fingerprint(key),
        pinned=trusted_key is not None or trusted_fingerprint is not None,
        absent={str(k): str(v) for k, v in dict(absent).items()},
    )
