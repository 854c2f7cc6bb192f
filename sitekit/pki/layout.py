"""Where a country's key material lives on disk, and its public metadata (`state.json`).

`<state>/keys/<cc>/` holds certificates and public keys (readable), sealed secrets and encrypted keys
(0600), custody shares (0600, one file per custodian) and, for SoftHSM2, the token directory. The
metadata file records what exists and which generation of each intermediate and data key is active; it
holds no secret, so `keys status` and `ingress_tls`'s reuse path need no PIN.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sitekit.atomic import ensure_private_dir, write_private
from sitekit.paths import country_state

# `logging` signs the log collector's server certificate and every host's client certificate: the collector
# trusts this intermediate alone, so no other certificate of the country (a Kubernetes client's) logs in.
INTERMEDIATES = ("kubernetes", "etcd", "front-proxy", "ingress", "logging")
SSH_CAS = ("ssh-user-ca", "ssh-host-ca")
# Key type of every new SSH CA generation. Ed25519: OpenSSH verifies it natively and ssh-audit fails CAs
# on NIST curves. Generations made before the metadata recorded a type are P-384 (see ssh.ca_key_type).
SSH_CA_KEY_TYPE = "ed25519"
MODEL_SIGNING = "model-signing"
ROOT = "root"


@dataclass(frozen=True)
class Layout:
    """Paths of one country's key state."""

    cc: str
    base: Path

    @classmethod
    def for_country(cls, cc: str) -> Layout:
        """`state_dir()/keys/<cc>`."""
        return cls(cc=cc, base=country_state(cc).keys)

    @property
    def meta(self) -> Path:
        return self.base / "state.json"

    @property
    def certs(self) -> Path:
        return self.base / "certs"

    @property
    def ssh(self) -> Path:
        return self.base / "ssh"

    @property
    def sealed(self) -> Path:
        return self.base / "sealed"

    @property
    def leaves(self) -> Path:
        return self.base / "leaves"

    @property
    def custody(self) -> Path:
        return self.base / "custody"

    @property
    def softhsm(self) -> Path:
        return self.base / "softhsm2"

    @property
    def softhsm_lock(self) -> Path:
        """Held by the one sitekit process using the country's SoftHSM2 token (see `tokenlock`)."""
        return self.softhsm / "sitekit.lock"

    def cert_path(self, name: str) -> Path:
        return self.certs / f"{name}.pem"

    def initialised(self) -> bool:
        return self.meta.exists() and self.cert_path(ROOT).exists()

    def load_meta(self) -> dict[str, Any]:
        if not self.meta.exists():
            return {}
        data: dict[str, Any] = json.loads(self.meta.read_text())
        return data

    def save_meta(self, data: dict[str, Any]) -> None:
        ensure_private_dir(self.base)
        write_private(self.meta, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode())
