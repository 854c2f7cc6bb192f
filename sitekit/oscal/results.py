"""A country's latest evidence as OSCAL assessment results.

Inputs are the files `sitekit verify` writes (`<evidence>/<host>.json`, schema `sitekit.evidence/1`) and
`sitekit scan` writes (`<evidence>/openscap/<host>.openscap.json`, schema `sitekit.openscap/1`). One OSCAL
result holds:

- an inventory item per host (the observations' subjects);
- an observation per host and control, with the result, the observed and the expected value, and for a
  skipped control the reason it could not or need not be verified there;
- a finding (state `not-satisfied`) per failed or errored control on a host, and per OpenSCAP rule that
  fails without an accepted reason;
- a risk with status `deviation-approved` per deviation the site accepted in its spec
  (`compliance.deviations`), with the catalogue's deviated value and both reasons; the observations of that
  control point to it;
- an observation per scanned host with the OpenSCAP counts and pass ratio.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trestle.oscal import OSCAL_VERSION
from trestle.oscal.assessment_results import AssessmentResults

from sitekit.controls import Control, controls_by_id
from sitekit.errors import UserError
from sitekit.oscal.component import checked, prop
from sitekit.oscal.ids import stable_uuid
from sitekit.spec.models import Site
from sitekit.verify.evidence import HostEvidence

_METHOD = {"verify": "TEST", "scan": "TEST"}
_STATE = {"passed": "satisfied", "failed": "not-satisfied", "error": "not-satisfied"}


@dataclass
class CountryEvidence:
    """The latest verify evidence and OpenSCAP summaries of one country, read from its evidence folder."""

    folder: Path
    hosts: list[HostEvidence] = field(default_factory=list)
    scans: list[dict[str, Any]] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)
    """Pack path (`evidence/<name>`, `evidence/openscap/<name>`) -> the file read, in the order read."""

    @property
    def newest(self) -> str | None:
        """ISO time of the newest evidence (verify `finished`, scan `started`), or None without any."""
        times = [h.finished for h in self.hosts] + [str(s["started"]) for s in self.scans]
        return max(times) if times else None


def load_country_evidence(folder: Path) -> CountryEvidence:
    """Read `<folder>/*.json` and `<folder>/openscap/*.openscap.json`; a malformed file is an error naming it."""
    out = CountryEvidence(folder)
    if not folder.is_dir():
        return out
    scans = sorted((folder / "openscap").glob("*.openscap.json"))
    for path in sorted(folder.glob("*.json")):
        if path.name.endswith(".openscap.json"):  # `sitekit scan --out <evidence folder>` puts them here
            scans.append(path)
            continue
        data = _read(path)
        if data.get("schema") != "sitekit.evidence/1":
            raise UserError(f"{path}: not sitekit evidence (schema {data.get('schema')!r})")
        out.files[f"evidence/{path.name}"] = path
        try:
            out.hosts.append(HostEvidence.from_json(data))
        except (KeyError, TypeError, ValueError) as exc:
            raise UserError(f"{path}: malformed evidence: missing or bad field {exc}") from exc
        ev = out.hosts[-1]
        _aware(ev.started, f"{path}: started")
        _aware(ev.finished, f"{path}: finished")
        for i, row in enumerate(ev.results):
            if not isinstance(row, dict) or row.get("result") not in ("passed", "failed", "skipped", "error"):
                raise UserError(f"{path}: results[{i}].result must be passed, failed, skipped or error")
            if row.get("time") is not None:
                _aware(str(row["time"]), f"{path}: results[{i}].time")
    for path in scans:
        data = _read(path)
        if data.get("schema") != "sitekit.openscap/1":
            raise UserError(f"{path}: not a sitekit scan summary (schema {data.get('schema')!r})")
        for key, kind in (("host", str), ("started", str), ("counts", dict), ("failures", list)):
            if not isinstance(data.get(key), kind):
                raise UserError(f"{path}: field {key!r} missing or not a {kind.__name__}")
        _aware(str(data["started"]), f"{path}: started")
        rel = f"evidence/openscap/{path.name}"
        if rel in out.files:
            raise UserError(f"{path}: a second scan summary named {path.name} (also {out.files[rel]})")
        out.files[rel] = path
        out.scans.append(data)
    return out


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"{path}: cannot read evidence: {exc}") from exc
    if not isinstance(data, dict):
        raise UserError(f"{path}: evidence must be a JSON object")
    return data


def _aware(text: str, where: str) -> str:
    try:
        moment = dt.datetime.fromisoformat(text)
    except (TypeError, ValueError) as exc:
        raise UserError(f"{where}: not an ISO time: {text!r}") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.isoformat()


def _one_line(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    text = " ".join(str(text).split())
    return text or "(empty)"


class _Builder:
    def __init__(self, site: Site, evidence: CountryEvidence) -> None:
        self.site = site
        self.cc = site.cc
        self.evidence = evidence
        self.catalogue = controls_by_id()
        self.items: dict[str, dict[str, Any]] = {}
        self.observations: list[dict[str, Any]] = []
        self.findings: list[dict[str, Any]] = []
        self.risks: dict[str, dict[str, Any]] = {}

    def item(self, host: str, facts: dict[str, Any]) -> str:
        uid = stable_uuid(self.cc, "host", host)
        if uid not in self.items:
            props = [prop("hostname", host)]
            for key in ("os", "kernel", "tier"):
                if facts.get(key):
                    props.append(prop(key, _one_line(facts[key])))
            self.items[uid] = {"uuid": uid, "description": f"Host {host} of {self.cc.upper()}", "props": props}
        return uid

    def risk(self, control: str) -> str | None:
        """The accepted-deviation risk of `control` for this site, created on first use."""
        accepted = {d.control: d.reason for d in self.site.compliance.deviations}
        if control not in accepted:
            return None
        uid = stable_uuid(self.cc, "risk", control)
        if uid not in self.risks:
            c: Control | None = self.catalogue.get(control)
            value = c.deviation.value if c and c.deviation else "as the site declares"
            catalogue_reason = c.deviation.reason if c and c.deviation else "no catalogued deviation"
            self.risks[uid] = {
                "uuid": uid,
                "title": f"Accepted deviation from {control}",
                "description": f"{control} is applied as: {value}. Catalogue: {catalogue_reason}",
                "statement": f"Accepted by {self.cc.upper()} in its fleet spec (compliance.deviations): "
                f"{accepted[control]}",
                "props": [prop("control", control), prop("risk-acceptance", "accepted")],
                "status": "deviation-approved",
            }
        return uid

    def verify(self, ev: HostEvidence, source: str) -> None:
        subject = self.item(ev.host, ev.facts)
        for i, row in enumerate(ev.results):
            control = str(row.get("control") or "uncatalogued")
            result = str(row["result"])
            obs_uuid = stable_uuid(self.cc, "obs", ev.host, control, str(row.get("test_id", "")), str(i))
            props = [prop("control", control), prop("result", result), prop("host", ev.host)]
            for key in ("observed", "expected"):
                if key in row and row[key] is not None:
                    props.append(prop(key, _one_line(row[key])))
            reason = str(row.get("reason") or "").strip()
            if result == "skipped":
                props.append(prop("skip-reason", _one_line(reason or "no reason recorded")))
            risk = self.risk(control) if row.get("deviation") or row.get("deviation_accepted_by_site") else None
            if risk:
                props.append(prop("deviation-risk", risk))
            obs: dict[str, Any] = {
                "uuid": obs_uuid,
                "title": f"{control} on {ev.host}: {result}",
                "description": str(row.get("title") or control),
                "props": props,
                "methods": [_METHOD["verify"]],
                "types": ["control-objective"],
                "subjects": [{"subject-uuid": subject, "type": "inventory-item", "title": ev.host}],
                "relevant-evidence": [{"href": source, "description": f"sitekit verify evidence of {ev.host}"}],
                "collected": _aware(str(row.get("time") or ev.finished), f"{source}: results[{i}].time"),
            }
            if reason:
                obs["remarks"] = reason
            self.observations.append(obs)
            if result in ("failed", "error"):
                self.findings.append(
                    {
                        "uuid": stable_uuid(self.cc, "finding", ev.host, control, str(i)),
                        "title": f"{control} not satisfied on {ev.host}",
                        "description": _one_line(reason or f"{control} {result} on {ev.host}"),
                        "target": {
                            "type": "objective-id",
                            "target-id": control if control != "uncatalogued" else "uncatalogued",
                            "status": {"state": _STATE[result]},
                        },
                        "related-observations": [{"observation-uuid": obs_uuid}],
                        **({"related-risks": [{"risk-uuid": risk}]} if risk else {}),
                    }
                )

    def scan(self, data: dict[str, Any], source: str) -> None:
        host = str(data["host"])
        subject = self.item(host, {"tier": data.get("tier")})
        collected = _aware(str(data["started"]), f"{source}: started")
        counts = {str(k): int(v) for k, v in dict(data["counts"]).items()}
        passed, failed = counts.get("pass", 0), counts.get("fail", 0)
        ratio = passed / (passed + failed) if passed + failed else 0.0
        summary_uuid = stable_uuid(self.cc, "scan", host)
        self.observations.append(
            {
                "uuid": summary_uuid,
                "title": f"OpenSCAP {data.get('profile', '?')} on {host}: {ratio:.1%} of decided rules pass",
                "description": "Counts of the SCAP Security Guide scan (sitekit scan)",
                "props": [prop("host", host), prop("pass-ratio", f"{ratio:.4f}")]
                + [prop(f"count-{k}", str(v)) for k, v in sorted(counts.items())],
                "methods": [_METHOD["scan"]],
                "types": ["finding"],
                "subjects": [{"subject-uuid": subject, "type": "inventory-item", "title": host}],
                "relevant-evidence": [{"href": source, "description": f"sitekit scan summary of {host}"}],
                "collected": collected,
            }
        )
        for i, failure in enumerate(data["failures"]):
            if not isinstance(failure, dict) or not failure.get("rule"):
                raise UserError(f"{source}: failures[{i}] has no rule")
            rule = str(failure["rule"])
            reason = str(failure.get("reason") or "").strip()
            kind = str(failure.get("kind") or "unexplained")
            obs_uuid = stable_uuid(self.cc, "scan", host, rule)
            risk = self.risk(str(failure["control"])) if failure.get("control") and kind == "deviation" else None
            self.observations.append(
                {
                    "uuid": obs_uuid,
                    "title": f"OpenSCAP rule {rule} fails on {host}",
                    "description": _one_line(failure.get("title") or rule),
                    "props": [prop("rule", rule), prop("host", host), prop("accepted-kind", kind)]
                    + ([prop("deviation-risk", risk)] if risk else []),
                    "methods": [_METHOD["scan"]],
                    "types": ["finding"],
                    "subjects": [{"subject-uuid": subject, "type": "inventory-item", "title": host}],
                    "collected": collected,
                    **({"remarks": f"Accepted ({kind}): {reason}"} if reason else {}),
                }
            )
            if not reason:
                self.findings.append(
                    {
                        "uuid": stable_uuid(self.cc, "finding", host, rule),
                        "title": f"Unexplained OpenSCAP failure {rule} on {host}",
                        "description": _one_line(failure.get("title") or rule),
                        "target": {"type": "objective-id", "target-id": rule, "status": {"state": "not-satisfied"}},
                        "related-observations": [{"observation-uuid": obs_uuid}],
                    }
                )


def assessment_results(site: Site, evidence: CountryEvidence, generated: dt.datetime) -> dict[str, Any]:
    """OSCAL assessment results of `site` from `evidence`; raises UserError when there is no evidence at all."""
    if not evidence.hosts and not evidence.scans:
        raise UserError(
            f"no evidence for {site.cc} under {evidence.folder}: run `sitekit verify {site.cc}` (and `sitekit scan`)"
        )
    b = _Builder(site, evidence)
    host_files = [p for p in evidence.files if not p.startswith("evidence/openscap/")]
    scan_files = [p for p in evidence.files if p.startswith("evidence/openscap/")]
    for ev, href in zip(evidence.hosts, host_files, strict=True):
        b.verify(ev, href)
    for scan, href in zip(evidence.scans, scan_files, strict=True):
        b.scan(scan, href)
    for d in site.compliance.deviations:
        b.risk(d.control)  # an accepted deviation is listed even where no host reported the control
    starts = [_aware(h.started, f"{h.host}.json: started") for h in evidence.hosts]
    starts += [_aware(str(s["started"]), f"{s['host']}.openscap.json: started") for s in evidence.scans]
    ends = [_aware(h.finished, f"{h.host}.json: finished") for h in evidence.hosts] or starts
    result: dict[str, Any] = {
        "uuid": stable_uuid(b.cc, "result", min(starts), max(ends)),
        "title": f"sitekit evidence of {b.cc.upper()}",
        "description": "Host checks (sitekit verify, testinfra against tests/hosts) and OpenSCAP scans "
        "(sitekit scan) of the country's hosts, latest run per host.",
        "start": min(starts),
        "end": max(ends),
        "local-definitions": {"inventory-items": list(b.items.values())},
        "reviewed-controls": {
            "description": "Every control of sitekit's catalogue that applies to the host's role and tier.",
            "control-selections": [{"include-all": {}}],
        },
        "observations": b.observations,
    }
    if b.risks:
        result["risks"] = list(b.risks.values())
    if b.findings:
        result["findings"] = b.findings
    doc = {
        "uuid": stable_uuid(b.cc, "assessment-results", min(starts), max(ends)),
        "metadata": {
            "title": f"sitekit assessment results for {b.cc.upper()} ({site.identity.name})",
            "last-modified": generated.isoformat(),
            "version": max(ends),
            "oscal-version": OSCAL_VERSION,
            "props": [prop("country", b.cc)],
        },
        "import-ap": {
            "href": "component-definition.json",
            "remarks": "sitekit has no separate assessment plan: the plan is the control catalogue, every "
            "applicable control on every host, described by the component definition in this pack.",
        },
        "results": [result],
    }
    return {"assessment-results": checked(AssessmentResults, doc)}
