"""`sitekit plan` end to end: run the program under mocks, write manifests, check them offline.

Every check runs even when an earlier one fails, so one plan shows every problem at once.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sitekit.errors import CheckFailed
from sitekit.plan.admission import AdmissionReport, admit
from sitekit.plan.manifests import chart_record, manifest_path, ordered_manifest, prepare_out_dir, redact, write_files
from sitekit.plan.program import Recording, run_program, stack_config
from sitekit.plan.reachability import ReachabilityReport, analyse
from sitekit.plan.records import Recorded
from sitekit.plan.schema import SchemaReport, validate_manifests
from sitekit.policy import Resource, Violation, evaluate
from sitekit.spec import Site


@dataclass
class PlanResult:
    """Everything one plan found, with timings in seconds per phase."""

    site: Site
    out: Path | None
    recording: Recording
    manifests: dict[str, dict[str, Any]]
    charts: dict[str, dict[str, Any]]
    schema: SchemaReport
    violations: list[Violation]
    reachability: ReachabilityReport
    admission: AdmissionReport = field(default_factory=AdmissionReport)
    errors: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """No schema error, no policy violation, no reachability breach, no other error."""
        return (
            self.admission.ok
            and self.schema.ok
            and not self.violations
            and not self.reachability.failures
            and not self.errors
        )


def default_program() -> Path:
    """The stack program of this checkout (`<repo>/stacks`)."""
    from sitekit.paths import repo_root

    return repo_root() / "stacks"


def collect(recording: Recording) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]], list[str]]:
    """Manifests and chart records keyed by relative file name, plus duplicate-object errors."""
    manifests: dict[str, dict[str, Any]] = {}
    charts: dict[str, dict[str, Any]] = {}
    errors: list[str] = []
    for record in recording.resources:
        if record.is_unexpanded:
            doc = chart_record(record)
            charts[f"_charts/{doc['namespace'] or '_cluster'}-{doc['name']}.yaml"] = doc
        elif record.is_kubernetes_object:
            manifest = ordered_manifest(redact(record))
            rel = manifest_path(manifest)
            if rel in manifests:
                errors.append(f"two resources declare the same object {rel} (second: {record.name})")
            manifests[rel] = manifest
    return dict(sorted(manifests.items())), dict(sorted(charts.items())), errors


def provider_errors(records: list[Recorded], cc: str) -> list[str]:
    """Kubernetes resources not deployed through the stack's explicit provider for the country's cluster.

    Such a resource would go through a default provider, i.e. whatever kube context is current on the
    machine running `pulumi up`; the stack files disable default providers, so it would fail there too.
    """
    name = f"cluster-{cc}"
    declared = any(r.type == "pulumi:providers:kubernetes" and r.name == name for r in records)
    out = []
    for r in records:
        if r.custom and r.type.startswith("kubernetes:"):
            parts = r.provider.rsplit("::", 2)  # <urn ... type>::<name>::<id>
            through = len(parts) == 3 and parts[0].endswith("pulumi:providers:kubernetes") and parts[1] == name
            if not through:
                out.append(
                    f"[provider] {r.type} {r.name}: not deployed through the explicit provider {name} "
                    f"(got {r.provider or 'the default provider'})"
                )
    if not declared:
        out.append(f"[provider] the stack declares no provider {name} for the country's cluster")
    return out


def policy_resources(records: list[Recorded]) -> list[Resource]:
    """Recorded resources in the shape the policy functions take (secrets already unwrapped in memory)."""
    return [Resource(r.type, r.name, r.urn, r.props) for r in records if r.custom]


def plan_site(
    site: Site, out: Path | None, program: Path | None = None, config: Mapping[str, str] | None = None
) -> PlanResult:
    """Plan one country; write into `out` (None: check only). Raises what the program raises."""
    timings: dict[str, float] = {}
    if out is not None:
        prepare_out_dir(out)
    t0 = time.perf_counter()
    recording = run_program(program or default_program(), site.cc, config or stack_config(site))
    t1 = time.perf_counter()
    timings["program"] = t1 - t0
    manifests, charts, errors = collect(recording)
    errors += provider_errors(recording.resources, site.cc)
    if out is not None:
        header = f"Generated by `sitekit plan {site.cc}`; do not edit."
        write_files(out, {**manifests, **charts}, header)
    t2 = time.perf_counter()
    timings["write"] = t2 - t1
    raw = [ordered_manifest(r.props) for r in recording.resources if r.is_kubernetes_object]
    admission = admit(raw, list(charts.values()), nodes=len(site.hosts))
    t2b = time.perf_counter()
    timings["admission"] = t2b - t2
    t2 = t2b
    schema = validate_manifests(manifests, site.cluster.kubernetes_version)
    t3 = time.perf_counter()
    timings["schema"] = t3 - t2
    violations = evaluate(site, policy_resources(recording.resources))
    t4 = time.perf_counter()
    timings["policy"] = t4 - t3
    reach = analyse(list(manifests.values()), list(site.residency.address_ranges), site.network.pod_cidr)
    timings["reachability"] = time.perf_counter() - t4
    result = PlanResult(site, out, recording, manifests, charts, schema, violations, reach, admission, errors, timings)
    if out is not None:
        (out / "plan.json").write_text(json.dumps(summary_json(result), indent=2, sort_keys=True) + "\n")
    return result


def summary_json(result: PlanResult) -> dict[str, Any]:
    """A machine-readable summary written next to the manifests (no timings: the bytes stay stable)."""
    return {
        "country": result.site.cc,
        "ok": result.ok,
        "objects": Counter(m["kind"] for m in result.manifests.values()),
        "charts_not_expanded": sorted(result.charts),
        "schema": {
            "version": result.schema.version,
            "errors": result.schema.errors,
            "unknown_kinds": result.schema.unknown_kinds,
        },
        "admission_failures": [str(f) for f in result.admission.failures],
        "policy_violations": [str(v) for v in result.violations],
        "reachability_failures": result.reachability.failures,
        "warnings": result.recording.warnings,
        "errors": result.errors,
        "outputs": result.recording.outputs,
    }


def require_ok(result: PlanResult) -> None:
    """Raise `CheckFailed` naming what failed."""
    if result.ok:
        return
    parts = []
    if not result.admission.ok:
        parts.append(f"{len(result.admission.failures)} admission failure(s)")
    if not result.schema.ok:
        parts.append(
            f"{sum(len(v) for v in result.schema.errors.values()) + len(result.schema.unknown_kinds)} schema error(s)"
        )
    if result.violations:
        parts.append(f"{len(result.violations)} policy violation(s)")
    if result.reachability.failures:
        parts.append(f"{len(result.reachability.failures)} reachability failure(s)")
    if result.errors:
        parts.append(f"{len(result.errors)} other error(s)")
    raise CheckFailed(f"plan {result.site.cc} failed: {', '.join(parts)}")
