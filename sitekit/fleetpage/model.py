"""What the fleet page shows, gathered per country from the spec, the evidence, the key state's public
files, the rendered files and the last plan; no secret is read (no PIN, no passphrase)."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sitekit.controls import load_controls
from sitekit.errors import UserError
from sitekit.oscal.results import CountryEvidence, load_country_evidence
from sitekit.pack.slots import Absent, journal_checkpoint
from sitekit.pki.hierarchy import Hierarchy
from sitekit.pki.status import rows
from sitekit.render import check
from sitekit.spec.loader import Fleet

STALE_AFTER = dt.timedelta(days=7)
"""Evidence older than this is flagged stale on the page."""

FAMILIES = {
    "SYS": "sysctl",
    "MOD": "kernel modules",
    "FS": "filesystems",
    "AUTH": "accounts",
    "PAM": "PAM",
    "SSH": "sshd",
    "FW": "firewall",
    "AUD": "audit",
    "LOG": "logging",
    "TIME": "time",
    "PKG": "packages",
    "SVC": "services",
    "GPU": "GPU host",
    "BAN": "banners",
    "KEY": "keys",
    "MAC": "AppArmor",
    "FIM": "file integrity",
}
"""Control family (the area of a control ID) -> the name the page shows."""


@dataclass
class Cell:
    """One country × family cell: counts of host × control results, and what the skips and failures say."""

    passed: int = 0
    failed: int = 0
    skipped: int = 0
    deviation: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def state(self) -> str:
        """failed > deviation > passed > skipped > none: the worst thing the cell holds."""
        if self.failed:
            return "failed"
        if self.deviation:
            return "deviation"
        if self.passed:
            return "passed"
        if self.skipped:
            return "skipped"
        return "none"


@dataclass(frozen=True)
class KeyMark:
    """One key or certificate on the expiry timeline."""

    kind: str
    name: str
    state: str
    not_after: dt.datetime
    in_window: bool


@dataclass
class Country:
    """Everything the page shows about one country."""

    cc: str
    name: str
    cells: dict[str, Cell]
    skipped: list[tuple[str, str, str]]  # (control, host, reason)
    deviations: list[tuple[str, str]]  # (control, reason)
    scans: list[tuple[str, float, dict[str, int]]]  # (host, pass ratio, counts)
    newest: dt.datetime | None
    keys: list[KeyMark] | None  # None: no key state on this machine
    rotation_window_days: int
    render: str
    plan: str
    plan_ok: bool | None
    journal: str
    hosts: int


@dataclass
class FleetPage:
    """The page's data."""

    generated: dt.datetime
    families: list[str]
    countries: list[Country]


def _families() -> list[str]:
    seen: list[str] = []
    for c in load_controls():
        if c.area not in seen:
            seen.append(c.area)
    return seen


def _cells(ev: CountryEvidence, families: list[str]) -> tuple[dict[str, Cell], list[tuple[str, str, str]]]:
    cells = {f: Cell() for f in families}
    skipped: list[tuple[str, str, str]] = []
    for host in ev.hosts:
        for row in host.results:
            control = str(row.get("control") or "")
            parts = control.split("-")
            family = parts[1] if len(parts) == 3 else ""
            cell = cells.get(family)
            if cell is None:
                continue
            result = row["result"]
            if result in ("failed", "error"):
                cell.failed += 1
                cell.notes.append(f"{control} {result} on {host.host}")
            elif result == "skipped":
                cell.skipped += 1
                skipped.append((control, host.host, str(row.get("reason") or "no reason recorded")))
            elif row.get("deviation_accepted_by_site"):
                cell.deviation += 1
                cell.notes.append(f"{control} deviation accepted on {host.host}")
            else:
                cell.passed += 1
    return cells, skipped


def _time(text: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _keys(hierarchy: Hierarchy) -> list[KeyMark] | None:
    if not hierarchy.layout.initialised():
        return None
    return [
        KeyMark(r.kind, r.name, r.state, r.not_after, r.warn)
        for r in rows(hierarchy)
        if r.not_after is not None and r.state != "expired"
    ]


def _plan(root: Path, cc: str) -> tuple[str, bool | None]:
    path = root / "build" / "plan" / cc / "plan.json"
    if not path.is_file():
        return "not planned on this machine", None
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"{path}: unreadable plan summary: {exc}") from exc
    when = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC).strftime("%Y-%m-%d %H:%M")
    objects = sum(int(v) for v in dict(data.get("objects") or {}).values())
    if data.get("ok") is True:
        return f"ok: {objects} objects ({when} UTC)", True
    problems = sum(
        len(data.get(k) or []) for k in ("admission_failures", "policy_violations", "reachability_failures", "errors")
    )
    return f"failed: {problems} problem(s) ({when} UTC)", False


def gather(fleet: Fleet, root: Path, evidence_root: Path, now: dt.datetime | None = None) -> FleetPage:
    """The page's data for every country of `fleet`."""
    moment = now or dt.datetime.now(dt.UTC)
    families = _families()
    countries = []
    for cc in fleet.codes():
        site = fleet.site(cc)
        ev = load_country_evidence(evidence_root / cc)
        cells, skipped = _cells(ev, families)
        drifted = check(fleet, root, [cc])
        plan, plan_ok = _plan(root, cc)
        slot = journal_checkpoint(site)
        journal = slot.reason if isinstance(slot, Absent) else f"checkpoint {slot.path}"
        with Hierarchy.open(site) as h:
            keys = _keys(h)
        countries.append(
            Country(
                cc=cc,
                name=site.identity.name,
                cells=cells,
                skipped=skipped,
                deviations=[(d.control, d.reason) for d in site.compliance.deviations],
                scans=[
                    (
                        str(s["host"]),
                        _ratio(dict(s["counts"])),
                        {str(k): int(v) for k, v in dict(s["counts"]).items()},
                    )
                    for s in ev.scans
                ],
                newest=_time(ev.newest) if ev.newest else None,
                keys=keys,
                rotation_window_days=site.keys.rotation_window_days,
                render="up to date" if not drifted else f"{len(drifted)} file(s) differ: run sitekit render {cc}",
                plan=plan,
                plan_ok=plan_ok,
                journal=journal,
                hosts=len(ev.hosts),
            )
        )
    return FleetPage(moment, families, countries)


def _ratio(counts: dict[str, Any]) -> float:
    tally = Counter({str(k): int(v) for k, v in counts.items()})
    decided = tally["pass"] + tally["fail"]
    return tally["pass"] / decided if decided else 0.0
