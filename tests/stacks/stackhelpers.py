"""Helpers for reading what a mocked run declared (imported by the stack tests)."""

from __future__ import annotations

from typing import Any

from sitekit.plan.program import Recording
from sitekit.plan.records import Recorded
from sitekit.spec import Site


def objects(recording: Recording, kind: str) -> list[Recorded]:
    """Recorded Kubernetes objects of one kind."""
    return [r for r in recording.resources if r.props.get("kind") == kind]


def one(recording: Recording, kind: str, name: str | None = None) -> dict[str, Any]:
    """The single object of a kind (optionally by metadata.name)."""
    found = [r.props for r in objects(recording, kind) if name is None or r.props["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def with_changes(site: Site, **sections: Any) -> Site:
    """A copy of a site with top-level sections replaced (validated by the models, not by fleet checks)."""
    data = site.model_dump(mode="json")
    data.update(sections)
    return Site.model_validate(data)
