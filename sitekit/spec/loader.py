"""Loading the fleet: baseline plus one overlay per country, validated as one.

The folder holds `baseline.yaml` and one `<cc>.yaml` per country. Each overlay is merged onto the baseline
(`sitekit.spec.merge`), validated with the models, then checked as a whole site, and finally the fleet is
checked across countries. Every problem is collected and raised together in one `SpecError`, each naming
the file that set the field (the overlay if it sets it, otherwise the baseline).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from sitekit.errors import UserError
from sitekit.spec.checks import check_site, site_networks
from sitekit.spec.codes import is_overlay_code
from sitekit.spec.issues import SpecError, SpecIssue, format_path
from sitekit.spec.merge import key_paths, merge, replaced_paths
from sitekit.spec.models import Site
from sitekit.spec.yamlio import YamlProblem, read_yaml

BASELINE = "baseline.yaml"


@dataclass(frozen=True)
class Fleet:
    """Every country's resolved site, keyed by lower-case country code, with where each came from."""

    sites: dict[str, Site]
    files: dict[str, Path] = field(default_factory=dict)
    baseline: Path | None = None

    def site(self, cc: str) -> Site:
        """One country's site; an unknown code is the operator's error."""
        key = cc.lower()
        if key not in self.sites:
            known = ", ".join(sorted(self.sites)) or "none"
            raise UserError(f"no site {cc!r} in the fleet (known: {known})")
        return self.sites[key]

    def codes(self) -> list[str]:
        """Country codes in a stable order."""
        return sorted(self.sites)


def site_digest(site: Site) -> str:
    """sha256 of the resolved site's canonical JSON: what `Pulumi.<cc>.yaml` is pinned to."""
    return document_digest(site.model_dump(mode="json"))


def document_digest(document: dict[str, Any]) -> str:
    """`site_digest` from the site's `model_dump(mode="json")`, for a caller that already holds the dump.

    Rendering needs the dump and the digest for two files; taking the dump once instead of three times is
    a measurable part of a render.
    """
    return hashlib.sha256(_canonical(document).encode()).hexdigest()


def canonical_json(site: Site) -> str:
    """Deterministic JSON of a site (sorted keys, no whitespace)."""
    return _canonical(site.model_dump(mode="json"))


def _canonical(document: dict[str, Any]) -> str:
    return json.dumps(document, sort_keys=True, separators=(",", ":"))


class _Attribution:
    """Which file set a field: the overlay if it set that field or replaced a parent of it (a list or a
    scalar; a mapping merges, so setting one key of it says nothing about the others), else the baseline.

    The overlay is walked once, on the first problem: a valid fleet never pays for it (walking every
    overlay was about 5% of loading one).
    """

    def __init__(self, overlay: Any, overlay_file: str, base_file: str) -> None:
        self.overlay, self.overlay_file, self.base_file = overlay, overlay_file, base_file
        self._paths: tuple[set[tuple[str | int, ...]], set[tuple[str | int, ...]]] | None = None

    def __call__(self, loc: tuple[str | int, ...]) -> str:
        if self._paths is None:
            self._paths = (key_paths(self.overlay), replaced_paths(self.overlay))
        set_here, replaced = self._paths
        if loc in set_here or any(loc[:n] in replaced for n in range(len(loc), 0, -1)):
            return self.overlay_file
        return self.base_file


def resolve_site(
    data: Any, file: str, base_data: dict[str, Any] | None = None, base_file: str = BASELINE
) -> tuple[Site | None, list[SpecIssue]]:
    """Merge one overlay's data onto the baseline, validate and check it; return the site or its issues."""
    if not isinstance(data, dict):
        kind = "empty" if data is None else type(data).__name__
        return None, [SpecIssue(file, "", f"top level must be a mapping of sections, found {kind}")]
    merged = merge(base_data or {}, data)
    attribute = _Attribution(data, file, base_file)
    try:
        site = Site.model_validate(merged)
    except ValidationError as exc:
        out = []
        for err in exc.errors(include_url=False):
            loc = tuple(err["loc"])
            out.append(SpecIssue(attribute(loc), format_path(loc), err["msg"]))
        return None, out
    issues = []
    for path, reason in check_site(site):
        where: tuple[str | int, ...] = tuple(
            int(p) if p.isdigit() else p for p in path.replace("[", ".").replace("]", "").split(".")
        )
        issues.append(SpecIssue(attribute(where), path, reason))
    return site, issues


def load_fleet(folder: Path) -> Fleet:
    """Load and validate a fleet folder; raise `SpecError` listing every problem found."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"{folder}: not a folder with a fleet spec (expected {BASELINE} and <cc>.yaml files)")
    issues: list[SpecIssue] = []
    base_path = folder / BASELINE
    base_data: dict[str, Any] = {}
    if base_path.exists():
        try:
            loaded = read_yaml(base_path)
        except YamlProblem as exc:
            issues.append(SpecIssue(str(base_path), format_path(exc.path), str(exc)))
            loaded = {}
        if loaded is None:
            loaded = {}
        if isinstance(loaded, dict):
            base_data = loaded
        else:
            issues.append(SpecIssue(str(base_path), "", "top level must be a mapping of sections"))
    overlays = sorted(p for p in folder.glob("*.yaml") if p.name != BASELINE)
    overlays += sorted(folder.glob("*.yml"))
    if not overlays:
        issues.append(SpecIssue(str(folder), "", "no country overlay (<cc>.yaml) found"))
    sites: dict[str, Site] = {}
    files: dict[str, Path] = {}
    for path in overlays:
        name = str(path)
        if path.suffix == ".yml" or not is_overlay_code(path.stem):
            issues.append(SpecIssue(name, "", "overlay files are named <cc>.yaml with a lower-case ISO 3166-1 code"))
            continue
        try:
            data = read_yaml(path)
        except YamlProblem as exc:
            issues.append(SpecIssue(name, format_path(exc.path), str(exc)))
            continue
        site, found = resolve_site(data, name, base_data, str(base_path))
        issues += found
        if site is None:
            continue
        if site.cc != path.stem:
            issues.append(SpecIssue(name, "identity.code", f"{site.identity.code} does not match the file name"))
        sites[path.stem] = site
        files[path.stem] = path
    issues += _fleet_issues(sites, files)
    if issues:
        raise SpecError(issues)
    return Fleet(sites=dict(sorted(sites.items())), files=files, baseline=base_path if base_path.exists() else None)


def _fleet_issues(sites: dict[str, Site], files: dict[str, Path]) -> list[SpecIssue]:
    """Across countries: no two countries claim overlapping address space.

    A sweep over the ranges sorted by start address keeps this O(n log n), so a fleet of every possible
    country code validates in the same time per country as a fleet of ten.
    """
    claimed = sorted(
        (int(net.network_address), int(net.broadcast_address), cc, path, net)
        for cc in sorted(sites)
        for path, net in site_networks(sites[cc])
    )
    issues = []
    reach: tuple[int, str, str, Any] | None = None  # the range reaching furthest so far
    for start, end, cc, path, net in claimed:
        if reach is not None and start <= reach[0] and reach[1] != cc:
            _, other_cc, other_path, other = reach
            first, second = sorted([(other_cc, other_path, other), (cc, path, net)])
            issues.append(
                SpecIssue(
                    str(files[second[0]]),
                    second[1],
                    f"{second[2]} overlaps {first[2]} of {first[0].upper()} ({first[1]}); countries never share space",
                )
            )
        if reach is None or end > reach[0]:
            reach = (end, cc, path, net)
    return issues
