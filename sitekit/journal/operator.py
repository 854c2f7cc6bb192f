"""Who ran a command: the OS user, the user sudo was called by, and the SSH certificate in use.

- `user`/`uid`: the real uid's account (`pwd`), not `$USER`, which any process can set; `host`: the
  controller's host name.
- `sudo_user`: `$SUDO_USER` when sudo ran the command (sudo sets it; root could fake it, and says so by
  being root).
- `ssh_certificate`: the identity (key id, serial, principals) of the OpenSSH user certificate the
  session authenticated with. Source, in order: `$SSH_USER_AUTH`, the file sshd writes with
  `ExposeAuthInfo yes` listing the keys that authenticated this session (what sshd checked, the sound
  source); else `$SITEKIT_OPERATOR_CERT`, a path to the operator's certificate (`id_ed25519-cert.pub`) for a
  controller reached another way, recorded with `"source": "SITEKIT_OPERATOR_CERT"` because it is a
  claim, not something sshd checked. A source that cannot be read is recorded as an error, not skipped.
"""

from __future__ import annotations

import os
import pwd
import socket
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.serialization import SSHCertificate, load_ssh_public_identity

CERT_ENV = "SITEKIT_OPERATOR_CERT"
AUTH_ENV = "SSH_USER_AUTH"


def operator_identity() -> dict[str, Any]:
    """The operator of this process, as recorded in every journal record."""
    uid = os.getuid()
    try:
        user = pwd.getpwuid(uid).pw_name
    except KeyError:
        user = f"uid-{uid}"
    found: dict[str, Any] = {"user": user, "uid": uid, "host": socket.gethostname()}
    sudo_user = os.environ.get("SUDO_USER")
    if sudo_user:
        found["sudo_user"] = sudo_user[:64]
    cert = ssh_certificate()
    if cert is not None:
        found["ssh_certificate"] = cert
    return found


def ssh_certificate() -> dict[str, Any] | None:
    """The SSH certificate identity from `$SSH_USER_AUTH` or `$SITEKIT_OPERATOR_CERT`, if either is set."""
    auth = os.environ.get(AUTH_ENV)
    if auth:
        return _from_file(Path(auth), AUTH_ENV, auth_info=True)
    claimed = os.environ.get(CERT_ENV)
    if claimed:
        return _from_file(Path(claimed), CERT_ENV, auth_info=False)
    return None


def _from_file(path: Path, source: str, *, auth_info: bool) -> dict[str, Any]:
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return {"source": source, "error": f"cannot read {path}: {exc.strerror}"}
    for raw in text.splitlines():
        words = raw.split()
        if auth_info:  # "publickey <type> <base64>" per authentication method
            if len(words) < 3 or words[0] != "publickey":
                continue
            words = words[1:]
        if len(words) < 2 or "-cert-v01@openssh.com" not in words[0]:
            continue
        try:
            cert = load_ssh_public_identity(f"{words[0]} {words[1]}".encode())
        except (ValueError, TypeError) as exc:
            return {"source": source, "error": f"unreadable certificate: {exc}"}
        if not isinstance(cert, SSHCertificate):
            continue
        return {
            "source": source,
            "key_id": cert.key_id.decode("utf-8", "replace"),
            "serial": cert.serial,
            "principals": [p.decode("utf-8", "replace") for p in cert.valid_principals],
        }
    return {"source": source, "error": "no OpenSSH user certificate in it"}
