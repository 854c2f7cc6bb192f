"""The control catalogue as the verification side reads it (through `sitekit.controls`, its one reader).

`$SITEKIT_CONTROLS` points verification at another catalogue file (the unit tests of the verification
machinery use a small one); by default it is the packaged `sitekit/controls.yaml`.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from sitekit.controls import CATALOGUE as _PACKAGED
from sitekit.controls import Control
from sitekit.controls import load_controls as _load
from sitekit.spec.roles import ROLE_GROUPS

__all__ = ["ROLE_GROUPS", "Control", "catalogue_digest", "catalogue_path", "load_controls"]


def catalogue_path() -> Path:
    env = os.environ.get("SITEKIT_CONTROLS")
    return Path(env).resolve() if env else _PACKAGED


def load_controls(path: Path | None = None) -> list[Control]:
    """Every control of the catalogue, validated, in file order."""
    return _load(path or catalogue_path())


def catalogue_digest(path: Path | None = None) -> str:
    """sha256 of the catalogue file, stamped into evidence so a report knows which list it checked."""
    p = path or catalogue_path()
    return hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else ""


def host_role_of(groups: tuple[str, ...], host_role: str | None) -> str | None:
    """The spec host role of a host: its `sitekit_host_role`, else derived from its inventory groups."""
    if host_role:
        return host_role
    for role, group in ROLE_GROUPS.items():
        if group in groups:
            return role
    return None
