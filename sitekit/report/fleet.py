"""`sitekit report`: one view of the evidence of every country (`<evidence root>/<cc>/<host>.json`).

Per country and host: counts and age of the evidence; per control: on how many hosts it passed, failed,
or could not be verified, so an auditor sees a control that fails across the fleet at a glance.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from sitekit.verify.evidence import HostEvidence, load_evidence


def _collect(root: Path) -> list[HostEvidence]:
    out = []
    for path in sorted(root.glob("*/*.json")):
        try:
            out.append(load_evidence(path))
        except (ValueError, KeyError, json.JSONDecodeError):
            continue  # OpenSCAP summaries and other files sit next to the evidence
    return out


def fleet_view(root: Path) -> dict[str, Any]:
    evidence = _collect(root)
    hosts = []
    controls: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for ev in evidence:
        hosts.append(
            {
                "country": ev.country,
                "host": ev.host,
                "finished": ev.finished,
                "tier": ev.facts.get("tier"),
                "os": ev.facts.get("os"),
                **ev.summary,
            }
        )
        for r in ev.results:
            controls[str(r.get("control") or "uncatalogued")][r["result"]].append(f"{ev.country}/{ev.host}")
    return {
        "schema": "sitekit.fleet/1",
        "root": str(root),
        "countries": sorted({ev.country for ev in evidence}),
        "hosts": hosts,
        "controls": {cid: {k: sorted(v) for k, v in res.items()} for cid, res in sorted(controls.items())},
    }


def render_fleet(view: dict[str, Any]) -> str:
    if not view["hosts"]:
        return f"no evidence under {view['root']} (run `sitekit verify <cc>` first)"
    lines = [
        f"{'country':<8} {'host':<16} {'passed':>6} {'failed':>6} {'skipped':>7} {'error':>5}  tier       evidence"
    ]
    for h in view["hosts"]:
        lines.append(
            f"{h['country']:<8} {h['host']:<16} {h['passed']:>6} {h['failed']:>6} {h['skipped']:>7} "
            f"{h['error']:>5}  {h.get('tier') or '?':<10} {h['finished']}"
        )
    failing = {c: r for c, r in view["controls"].items() if r.get("failed") or r.get("error")}
    lines.append("")
    if failing:
        lines.append("controls failing somewhere:")
        for cid, res in failing.items():
            where = res.get("failed", []) + res.get("error", [])
            lines.append(f"  {cid:<14} {len(where)} host(s): {', '.join(where[:6])}{' ...' if len(where) > 6 else ''}")
    else:
        lines.append("every checked control passed on every host with evidence")
    return "\n".join(lines)
