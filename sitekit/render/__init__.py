"""Rendering the fleet spec into per-country files: Pulumi stack config and Ansible inventory.

Output is deterministic (same spec, same bytes), carries a generated-by header, holds no secret, and is
written atomically; `check` compares what is on disk with what the spec renders to.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from sitekit.render.atomic import write_atomic
from sitekit.render.files import rendered_files
from sitekit.spec.loader import Fleet

__all__ = ["RenderResult", "check", "render", "rendered_files", "write_atomic"]

# Threads that write rendered files at once. Each write waits on two fsyncs (file, then folder); run one
# after another they cost most of a render, while concurrent fsyncs share the filesystem's journal commits.
# The threads wait on the disk, not on the CPU, so the count does not follow the number of cores.
_WRITERS = 8


@dataclass(frozen=True)
class RenderResult:
    """What a render did: files written (changed) and files already up to date."""

    written: tuple[Path, ...]
    unchanged: tuple[Path, ...]


def _expected(fleet: Fleet, codes: list[str] | None) -> dict[Path, str]:
    out: dict[Path, str] = {}
    for cc in codes or fleet.codes():
        out.update(rendered_files(fleet.site(cc)))
    return out


def render(fleet: Fleet, root: Path, codes: list[str] | None = None) -> RenderResult:
    """Write every country's files under `root` (only those that changed).

    Every file is still written atomically and durably by `write_atomic`; only the waits overlap, and the
    result lists paths in sorted order as before. Should a write fail, the writes not yet started are
    cancelled and the first failure in path order is raised; files after it that were already in flight
    may be new, as after an interrupted render, but each file is whole (old or new content).
    """
    expected = sorted(_expected(fleet, codes).items())
    with ThreadPoolExecutor(max_workers=_WRITERS, thread_name_prefix="sitekit-render") as pool:
        futures: list[Future[bool]] = [pool.submit(write_atomic, root / rel, text) for rel, text in expected]
        try:
            changed = [future.result() for future in futures]
        except BaseException:
            for future in futures:
                future.cancel()
            raise
    written = tuple(rel for (rel, _), was_written in zip(expected, changed, strict=True) if was_written)
    unchanged = tuple(rel for (rel, _), was_written in zip(expected, changed, strict=True) if not was_written)
    return RenderResult(written, unchanged)


def check(fleet: Fleet, root: Path, codes: list[str] | None = None) -> list[tuple[Path, str]]:
    """Files that differ from the spec: (path, 'missing' | 'differs' | 'stale')."""
    expected = _expected(fleet, codes)
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
