"""Per-host evidence files: JSON (the record) and JUnit XML (for CI), and the printed summary.

Evidence JSON (`<out>/<host>.json`, schema `sitekit.evidence/1`):

    {"schema": "sitekit.evidence/1", "country": "ee", "host": "ee-cp-1", "inventory": "...",
     "catalogue_sha256": "...", "started": "...", "finished": "...", "duration_s": 4.2,
     "facts": {"hostname": ..., "os": ..., "kernel": ..., "virt": ..., "tier": ..., "groups": [...]},
     "summary": {"passed": n, "failed": n, "skipped": n, "error": n},
     "results": [{"control": "SK-SSH-004", "title": ..., "result": "passed|failed|skipped|error",
                  "observed": ..., "expected": ..., "reason": ..., "deviation": ..., "frameworks": {...},
                  "check": "test_...", "test_id": "...", "time": "...", "duration_s": 0.01}, ...]}

A control that cannot be verified on the host's tier, or is out of scope for its role, is `skipped` with
the reason; it is never counted as passed.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCHEMA = "sitekit.evidence/1"
RESULTS = ("passed", "failed", "skipped", "error")


@dataclass
class HostEvidence:
    """Everything verify found on one host."""

    country: str
    host: str
    inventory: str
    catalogue_sha256: str
    started: str
    finished: str
    duration_s: float
    facts: dict[str, Any] = field(default_factory=dict)
    results: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def summary(self) -> dict[str, int]:
        counts = Counter(r["result"] for r in self.results)
        out = {k: counts.get(k, 0) for k in RESULTS}
        if self.errors:
            out["error"] += len(self.errors)
        return out

    @property
    def ok(self) -> bool:
        s = self.summary
        return s["failed"] == 0 and s["error"] == 0 and (s["passed"] + s["skipped"]) > 0

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "country": self.country,
            "host": self.host,
            "inventory": self.inventory,
            "catalogue_sha256": self.catalogue_sha256,
            "started": self.started,
            "finished": self.finished,
            "duration_s": self.duration_s,
            "facts": self.facts,
            "summary": self.summary,
            "errors": self.errors,
            "results": self.results,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> HostEvidence:
        if data.get("schema") != SCHEMA:
            raise ValueError(f"not sitekit evidence ({data.get('schema')!r})")
        return cls(
            country=data["country"],
            host=data["host"],
            inventory=data.get("inventory", ""),
            catalogue_sha256=data.get("catalogue_sha256", ""),
            started=data["started"],
            finished=data["finished"],
            duration_s=float(data.get("duration_s", 0.0)),
            facts=dict(data.get("facts", {})),
            results=list(data.get("results", [])),
            errors=list(data.get("errors", [])),
        )


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, default=str)


def junit_xml(ev: HostEvidence) -> ET.ElementTree[ET.Element]:
    """One <testsuite> per host; one <testcase> per control result, classname = control ID."""
    s = ev.summary
    suites = ET.Element("testsuites")
    suite = ET.SubElement(
        suites,
        "testsuite",
        name=f"sitekit.verify.{ev.country}.{ev.host}",
        tests=str(len(ev.results) + len(ev.errors)),
        failures=str(s["failed"]),
        errors=str(s["error"]),
        skipped=str(s["skipped"]),
        time=f"{ev.duration_s:.3f}",
        timestamp=ev.started,
        hostname=ev.host,
    )
    props = ET.SubElement(suite, "properties")
    for key in ("hostname", "os", "kernel", "virt", "tier"):
        if key in ev.facts:
            ET.SubElement(props, "property", name=f"fact.{key}", value=_text(ev.facts[key]))
    ET.SubElement(props, "property", name="catalogue_sha256", value=ev.catalogue_sha256)
    for r in ev.results:
        case = ET.SubElement(
            suite,
            "testcase",
            classname=str(r.get("control") or "uncatalogued"),
            name=str(r.get("test_id", "")),
            time=f"{float(r.get('duration_s', 0.0)):.3f}",
        )
        cprops = ET.SubElement(case, "properties")
        for key in ("observed", "expected", "deviation", "time"):
            if r.get(key) not in (None, ""):
                ET.SubElement(cprops, "property", name=key, value=_text(r[key]))
        reason = str(r.get("reason", ""))
        if r["result"] == "failed":
            ET.SubElement(case, "failure", message=reason[:500]).text = reason
        elif r["result"] == "error":
            ET.SubElement(case, "error", message=reason[:500]).text = reason
        elif r["result"] == "skipped":
            ET.SubElement(case, "skipped", message=reason[:500])
    for i, err in enumerate(ev.errors):
        case = ET.SubElement(suite, "testcase", classname="sitekit.verify", name=f"run-error-{i}", time="0")
        ET.SubElement(case, "error", message=err[:500]).text = err
    ET.indent(suites)
    return ET.ElementTree(suites)


def write_evidence(ev: HostEvidence, out_dir: Path) -> tuple[Path, Path]:
    """Write `<host>.json` and `<host>.junit.xml` under `out_dir`; return both paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    jpath = out_dir / f"{ev.host}.json"
    xpath = out_dir / f"{ev.host}.junit.xml"
    jpath.write_text(json.dumps(ev.to_json(), indent=2, sort_keys=False, default=str) + "\n")
    junit_xml(ev).write(xpath, encoding="utf-8", xml_declaration=True)
    return jpath, xpath


def load_evidence(path: Path) -> HostEvidence:
    return HostEvidence.from_json(json.loads(path.read_text()))


def summary_table(evidence: list[HostEvidence]) -> str:
    """Per-host counts, then every failure and error with its control ID, observed value and reason."""
    lines = [f"{'host':<20} {'passed':>6} {'failed':>6} {'skipped':>7} {'error':>5} {'time':>7}  tier"]
    for ev in evidence:
        s = ev.summary
        lines.append(
            f"{ev.host:<20} {s['passed']:>6} {s['failed']:>6} {s['skipped']:>7} {s['error']:>5} "
            f"{ev.duration_s:>6.1f}s  {ev.facts.get('tier', '?')}"
        )
    bad = [(ev, r) for ev in evidence for r in ev.results if r["result"] in ("failed", "error")]
    if bad:
        lines.append("")
        lines.append("failed controls:")
        for ev, r in bad:
            detail = mismatch(r.get("observed"), r.get("expected"))
            lines.append(
                f"  {ev.host:<14} {r.get('control') or '?':<14} {r['result']:<6} "
                f"{_first_line(r.get('reason', ''))}" + (f"  ({detail})" if detail else "")
            )
    for ev in evidence:
        for err in ev.errors:
            lines.append(f"  {ev.host:<14} run error: {_first_line(err)}")
    return "\n".join(lines)


def _short(value: Any, limit: int = 160) -> str:
    """A value as compact JSON, cut only between items (never inside a key or a value) and marked. A first
    item that alone is over the limit is shown shortened the same way, rather than not at all."""
    text = _text(value)
    if len(text) <= limit:
        return text
    if isinstance(value, (dict, list)) and value:
        items = (
            [(f"{json.dumps(str(k))}: ", v) for k, v in value.items()]
            if isinstance(value, dict)
            else [("", v) for v in value]
        )
        kept: list[str] = []
        for prefix, v in items:
            item = prefix + (json.dumps(v) if isinstance(v, str) else _text(v))
            if sum(len(p) + 2 for p in kept) + len(item) > limit:
                if kept:
                    break
                item = prefix + _short(v, max(limit - len(prefix), 10))
            kept.append(item)
        if len(kept) < len(value):
            opening, closing = ("{", "}") if isinstance(value, dict) else ("[", "]")
            return opening + ", ".join(kept) + f", ... {len(value) - len(kept)} more" + closing
    return text[:limit] + f"... ({len(text)} characters)"


def mismatch(observed: Any, expected: Any) -> str:
    """What a failed check saw against what it expected, readably: for two mappings only the keys whose
    values differ (`key: observed X, expected Y`), otherwise both values, each cut between items."""
    if observed is None and expected is None:
        return ""
    if isinstance(observed, dict) and isinstance(expected, dict):
        differ = [k for k in expected if k in observed and observed[k] != expected[k]]
        if differ:
            return "; ".join(
                f"{k}: observed {_short(observed[k], 80)}, expected {_short(expected[k], 80)}" for k in differ[:6]
            ) + (f"; ... {len(differ) - 6} more" if len(differ) > 6 else "")
    parts = []
    if observed is not None:
        parts.append(f"observed: {_short(observed)}")
    if expected is not None:
        parts.append(f"expected: {_short(expected)}")
    return "; ".join(parts)


def _first_line(text: str) -> str:
    t = str(text).strip().splitlines()
    return t[0][:200] if t else ""
