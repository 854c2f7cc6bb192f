"""Pack slots filled by the oversight parts of sitekit: the journal's latest checkpoint and the access map.

Each slot is one function `(site, root, sites) -> Present | Absent`; an empty slot keeps its reason, and
the pack's manifest lists it under `absent`, so an auditor sees why it is empty (no checkpoint signed yet,
an access map that could not be derived). The manifest digests and signs whatever a slot returns, like
every other file of the pack.

- `journal_checkpoint`: the country's latest signed journal checkpoint, as the journal wrote it (the
  text a transparency-log checkpoint has: origin, record count, head hash, time, signature line); the
  auditor checks it with `sitekit journal verify --checkpoint` against the journal itself.
- `access_map`: the country's access map (`sitekit access <cc> --json`, schema `sitekit.access/v1`),
  derived from the spec, the rendered inventory and the planned objects; no secret.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sitekit.errors import CheckFailed, UserError
from sitekit.paths import country_state
from sitekit.spec.models import Site


@dataclass(frozen=True)
class Present:
    """A slot's file: its path inside the pack and its bytes."""

    path: str
    data: bytes


@dataclass(frozen=True)
class Absent:
    """An empty slot and why it is empty."""

    reason: str


def journal_checkpoint(site: Site, root: Path | None = None, sites: Path | None = None) -> Present | Absent:
    """The journal's latest signed checkpoint (the one covering the most records), unverified here."""
    folder = country_state(site.cc).journal / "checkpoints"
    found = sorted((p for p in folder.glob("*.ckpt") if p.stem.isdigit()), key=lambda p: int(p.stem))
    if not found:
        return Absent(f"{site.cc}'s journal has no signed checkpoint yet: run `sitekit journal checkpoint {site.cc}`")
    return Present("journal/checkpoint.txt", found[-1].read_bytes())


def access_map(site: Site, root: Path | None = None, sites: Path | None = None) -> Present | Absent:
    """The country's access map as JSON, derived as `sitekit access` derives it."""
    from sitekit.access.derive import derive_map, load_inputs
    from sitekit.access.schema import to_json

    if root is None or sites is None:
        return Absent("the access map needs the project folder (rendered inventory, stack program) and the spec")
    try:
        amap = derive_map(load_inputs(root, sites, site.cc))
    except (UserError, CheckFailed) as exc:
        return Absent(f"{site.cc}'s access map could not be derived: {exc}")
    return Present("access/map.json", (json.dumps(to_json(amap), indent=2, sort_keys=True) + "\n").encode())


SLOTS: dict[str, Callable[[Site, Path | None, Path | None], Present | Absent]] = {
    "journal/checkpoint": journal_checkpoint,
    "access/map": access_map,
}
"""Slot name (as the manifest lists it) -> the function that fills it."""
