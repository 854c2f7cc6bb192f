"""Signed checkpoints: the record count and head hash, signed by the country's signing key.

The text follows the shape of the transparency-log checkpoints used by Certificate Transparency's
successors (a signed note): a body of lines, a blank line, then signature lines.

    sitekit-journal/v1 ee          origin: what this is and for which country
    42                             record count the checkpoint covers
    <base64 of the head hash>      hash of record 42 (the chain commits to every record before it)
    time 2026-12-02T08:00:00Z      extension line: when it was signed
    <blank line>
    — <key name> <base64(key id || DER ECDSA signature)>

The signature is ECDSA P-384 over SHA-384 of the body (every line before the blank one, each with its
newline), made by the country's `model-signing` key in its backend (in the HSM with PKCS#11), the same key
`sitekit keys sign-artifact` uses. The key id is the first four bytes of SHA-256 of the public key's
DER SubjectPublicKeyInfo, so a checkpoint names which key made it; checking needs the public key only.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

ORIGIN = "sitekit-journal/v1"
SIGNATURE_PREFIX = "\u2014 "
KEY_NAME = "model-signing"


class CheckpointError(ValueError):
    """A checkpoint that cannot be parsed or whose signature does not verify."""


@dataclass(frozen=True)
class Checkpoint:
    """A parsed checkpoint: who it is for, how many records it covers and the head hash it commits to."""

    cc: str
    size: int
    head: str
    time: str
    body: bytes
    signatures: tuple[tuple[str, bytes, bytes], ...]  # (name, key id, signature)


def key_id(public: ec.EllipticCurvePublicKey) -> bytes:
    """First four bytes of SHA-256 over the key's DER SubjectPublicKeyInfo."""
    der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).digest()[:4]


def body(cc: str, size: int, head: str, time: str) -> bytes:
    """The signed part of a checkpoint."""
    head_b64 = base64.b64encode(bytes.fromhex(head)).decode()
    return f"{ORIGIN} {cc}\n{size}\n{head_b64}\ntime {time}\n".encode()


def sign(cc: str, size: int, head: str, time: str, signer: ec.EllipticCurvePrivateKey) -> bytes:
    """A complete checkpoint signed with `signer` (a backend key: in the token with PKCS#11)."""
    text = body(cc, size, head, time)
    signature = signer.sign(text, ec.ECDSA(hashes.SHA384()))
    blob = base64.b64encode(key_id(signer.public_key()) + signature).decode()
    return text + f"\n{SIGNATURE_PREFIX}{KEY_NAME} {blob}\n".encode()


def parse(data: bytes) -> Checkpoint:
    """A checkpoint's fields; `CheckpointError` naming what is malformed."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise CheckpointError("not UTF-8") from None
    head_text, sep, sig_text = text.partition("\n\n")
    if not sep:
        raise CheckpointError("no blank line between body and signatures")
    lines = head_text.split("\n")
    if len(lines) != 4:
        raise CheckpointError(f"body has {len(lines)} lines, expected 4")
    origin, size_text, head_b64, time_line = lines
    if not origin.startswith(f"{ORIGIN} ") or len(origin) != len(ORIGIN) + 3:
        raise CheckpointError(f"origin line {origin[:60]!r} is not {ORIGIN!r} and a country code")
    if not size_text.isdigit() or (size_text != "0" and size_text.startswith("0")):
        raise CheckpointError(f"record count {size_text[:30]!r} is not a decimal number")
    try:
        head_raw = base64.b64decode(head_b64, validate=True)
    except binascii.Error:
        raise CheckpointError("head hash is not base64") from None
    if len(head_raw) != 32:
        raise CheckpointError("head hash is not 32 bytes")
    if not time_line.startswith("time "):
        raise CheckpointError("no time line")
    signatures: list[tuple[str, bytes, bytes]] = []
    for line in sig_text.split("\n"):
        if not line:
            continue
        if not line.startswith(SIGNATURE_PREFIX):
            raise CheckpointError(f"signature line {line[:40]!r} does not start with an em dash")
        parts = line[len(SIGNATURE_PREFIX) :].split(" ")
        if len(parts) != 2:
            raise CheckpointError("signature line is not '— <name> <base64>'")
        try:
            blob = base64.b64decode(parts[1], validate=True)
        except binascii.Error:
            raise CheckpointError("signature is not base64") from None
        if len(blob) < 8:
            raise CheckpointError("signature too short")
        signatures.append((parts[0], blob[:4], blob[4:]))
    if not signatures:
        raise CheckpointError("no signature")
    return Checkpoint(
        cc=origin[len(ORIGIN) + 1 :],
        size=int(size_text),
        head=head_raw.hex(),
        time=time_line[5:],
        body=(head_text + "\n").encode(),
        signatures=tuple(signatures),
    )


def check_signature(checkpoint: Checkpoint, public: ec.EllipticCurvePublicKey) -> None:
    """Raise `CheckpointError` unless a signature line by `public`'s key id verifies over the body."""
    kid = key_id(public)
    mine = [sig for name, k, sig in checkpoint.signatures if k == kid and name == KEY_NAME]
    if not mine:
        raise CheckpointError(f"not signed by the country's signing key (key id {kid.hex()})")
    for signature in mine:
        try:
            public.verify(signature, checkpoint.body, ec.ECDSA(hashes.SHA384()))
            return
        except InvalidSignature:
            continue
    raise CheckpointError("signature does not verify with the country's signing key")
