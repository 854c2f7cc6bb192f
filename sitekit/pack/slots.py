"""Pack slots filled by parts of sitekit that may not be in this build: the journal and the access map.

Each slot is one function `(site) -> Present | Absent`. Today both return `Absent` with the reason, and the
pack's manifest lists the reason under `absent`, so an auditor sees the slot is empty on purpose. Adding a
part later is one function body each:

- `journal_checkpoint(site)` must return `Present("journal/checkpoint.json", data)` where `data` is the
  bytes of the country's latest signed journal checkpoint (sequence number, head hash, signature), read
  from the journal's public state; no secret.
- `access_map(site)` must return `Present("access/map.json", data)` where `data` is the bytes of the
  country's access map (who may reach which host and API, derived from the spec), as JSON.

The manifest digests and signs whatever the slot returns, like every other file of the pack.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

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


def journal_checkpoint(site: Site) -> Present | Absent:
    """The journal's latest checkpoint (issue 13). No journal in this build."""
    return Absent(f"no journal in this build: {site.cc}'s journal checkpoint cannot be included yet")


def access_map(site: Site) -> Present | Absent:
    """The country's access map (issue 13). No access map in this build."""
    return Absent(f"no access map in this build: {site.cc}'s access map cannot be included yet")


SLOTS: dict[str, Callable[[Site], Present | Absent]] = {
    "journal/checkpoint": journal_checkpoint,
    "access/map": access_map,
}
"""Slot name (as the manifest lists it) -> the function that fills it."""
