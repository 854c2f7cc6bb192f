"""SSH keys of a lab: one client key for the controller, fresh host keys for every host.

The client key is the lab's own (state_dir, 0600, never in the repo); host keys are generated into each
host's layer before it boots, so the controller can pin them in a known_hosts file instead of trusting
whatever answers (StrictHostKeyChecking stays on, as it should against real hosts).
"""

from __future__ import annotations

import os
from pathlib import Path

from sitekit.lab.util import run


def client_key(folder: Path, comment: str) -> Path:
    """The lab's private key (created once per lab; its .pub goes into every host)."""
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    key = folder / "id_ed25519"
    if not key.exists() or not key.with_suffix(".pub").exists():
        tmp = folder / ".id_ed25519.new"
        for stale in (tmp, tmp.with_suffix(".new.pub")):
            stale.unlink(missing_ok=True)
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", tmp])
        os.chmod(tmp, 0o600)
        os.replace(tmp.with_suffix(".new.pub"), key.with_suffix(".pub"))
        os.replace(tmp, key)
    return key


def host_keys(root: Path) -> list[str]:
    """Generate a host's SSH host keys inside its root; return the public keys (for known_hosts)."""
    for old in (root / "etc" / "ssh").glob("ssh_host_*"):
        old.unlink()
    run(["ssh-keygen", "-A", "-f", root])
    return [p.read_text().strip() for p in sorted((root / "etc" / "ssh").glob("ssh_host_*_key.pub"))]
