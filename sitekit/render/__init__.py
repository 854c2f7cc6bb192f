"""Rendering the fleet spec into per-country files: Pulumi stack config and Ansible inventory.

Output is deterministic (same spec, same bytes), carries a generated-by header, holds no secret, and is
written atomically; `check` compares what is on disk with what the spec renders to.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sitekit.atomic import write_atomic, write_atomic_many
from sitekit.render.files import rendered_files
from sitekit.render.stack import carry_pulumi_keys
from sitekit.spec.loader import Fleet

__all__ = ["RenderResult", "check", "render", "rendered_files", "write_atomic", "write_atomic_many"]


@dataclass(frozen=True)
class RenderResult:
    """What a render did: files written (changed) and files already up to date."""

    written: tuple[Path, ...]
    unchanged: tuple[Path, ...]


def _expected(fleet: Fleet, codes: list[str] | None, root: Path) -> dict[Path, str]:
    out: dict[Path, str] = {}
    for cc in codes or fleet.codes():
        files = rendered_files(fleet.site(cc))
        stack = Path(f"Pulumi.{cc}.yaml")
        files[stack] = carry_pulumi_keys(files[stack], root / stack)
        out.update(files)
    return out


def render(fleet: Fleet, root: Path, codes: list[str] | None = None) -> RenderResult:
    """Write every country's files under `root` (only those that changed).

    `write_atomic_many` writes them all at once so that their fsyncs overlap, which was most of the time
    of a render; each file is still written atomically and durably, and the result lists paths in sorted
    order as before.
    """
    expected = sorted(_expected(fleet, codes, root).items())
    changed = write_atomic_many([(root / rel, text) for rel, text in expected])
    written = tuple(rel for (rel, _), was_written in zip(expected, changed, strict=True) if was_written)
    unchanged = tuple(rel for (rel, _), was_written in zip(expected, changed, strict=True) if not was_written)
    return RenderResult(written, unchanged)


def check(fleet: Fleet, root: Path, codes: list[str] | None = None) -> list[tuple[Path, str]]:
    """Files that differ from the spec: (path, 'missing' | 'differs' | 'stale')."""
    expected = _expected(fleet, codes, root)
    drift: list[tuple[Path, str]] = []
    for rel, text in sorted(expected.items()):
        path = root / rel
        if not path.exists():
            drift.append((rel, "missing"))
        elif path.read_text(encoding="utf-8") != text:
            drift.append((rel, "differs from the spec"))
    if codes is None:
        # Rendered files of a country no longer in the spec are stale too.
        known = {f"Pulumi.{cc}.yaml" for cc in fleet.codes()}
        for path in sorted(root.glob("Pulumi.*.yaml")):
            if path.name not in known:
                drift.append((path.relative_to(root), "no such country in the spec"))
        inv = root / "inventories"
        if inv.is_dir():
            for folder in sorted(p for p in inv.iterdir() if p.is_dir()):
                if folder.name not in fleet.sites:
                    drift.append((folder.relative_to(root), "no such country in the spec"))
    return drift
