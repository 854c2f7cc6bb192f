"""Model artifact signatures: the country's signing key vouches for the weights it serves.

A signature is ECDSA P-384 over the SHA-384 digest of the file (streamed, so multi-gigabyte weights never
sit in memory), made by the `model-signing` key in the backend (in the token with PKCS#11). Anyone can
verify with the public key in `signing/model-signing.pub.pem`, which is not a secret.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils

from sitekit.atomic import write_atomic
from sitekit.errors import CheckFailed, UserError
from sitekit.pki.hierarchy import Hierarchy, now
from sitekit.pki.layout import MODEL_SIGNING

_CHUNK = 1 << 20


def digest(path: Path) -> bytes:
    """SHA-384 of a file, read in 1 MiB chunks."""
    hasher = hashes.Hash(hashes.SHA384())
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            hasher.update(chunk)
    return hasher.finalize()


def sign_artifact(h: Hierarchy, path: Path) -> Path:
    """Write `<file>.sig` (JSON: digest, signature, key, time) next to the artifact."""
    h.require()
    if not path.is_file():
        raise UserError(f"{path} is not a file")
    value = digest(path)
    signature = h.backend.signer(MODEL_SIGNING).sign(value, ec.ECDSA(utils.Prehashed(hashes.SHA384())))
    doc = {
        "country": h.site.cc,
        "file": path.name,
        "sha384": value.hex(),
        "signature": base64.b64encode(signature).decode(),
        "algorithm": "ecdsa-p384-sha384",
        "signed": now().isoformat(),
    }
    out = path.with_name(path.name + ".sig")
    write_atomic(out, json.dumps(doc, indent=2) + "\n")
    return out


def verify_artifact(h: Hierarchy, path: Path, sig: Path | None = None) -> None:
    """Raise CheckFailed unless `path` matches its signature under the country's signing key."""
    sig_path = sig or path.with_name(path.name + ".sig")
    doc = json.loads(sig_path.read_text())
    public = serialization.load_pem_public_key((h.layout.base / "signing" / f"{MODEL_SIGNING}.pub.pem").read_bytes())
    if not isinstance(public, ec.EllipticCurvePublicKey):
        raise UserError("the model signing key is not an EC key")
    value = digest(path)
    if value.hex() != doc.get("sha384"):
        raise CheckFailed(f"{path}: digest differs from the signed one")
    try:
        public.verify(base64.b64decode(doc["signature"]), value, ec.ECDSA(utils.Prehashed(hashes.SHA384())))
    except InvalidSignature as exc:
        raise CheckFailed(f"{path}: signature does not verify with {h.site.cc}'s model signing key") from exc
