"""The plan's printed summary: what was written, what could not be seen, and every failure."""

from __future__ import annotations

from collections import Counter

from sitekit.plan.runner import PlanResult

ASSUMPTIONS = (
    "a CNI that enforces NetworkPolicy (without one every policy here is inert)",
    "cluster DNS pods labelled k8s-app: kube-dns in kube-system (the DNS allow rules select them)",
    "kubelet serving certificates signed by the cluster CA (metrics-server verifies them)",
)
"""What the stack relies on and does not install; kept in step with `stacks/components/addons.py`."""

KNOWN_CHART_CONTENTS = {
    "gpu-operator": "the operator Deployment and its ClusterPolicy; DaemonSets for the driver, container toolkit, "
    "device plugin, DCGM exporter, GPU feature discovery, validator and MIG manager; node-feature-discovery; "
    "their ServiceAccounts, RBAC and CRDs",
    "ingress-nginx": "the controller Deployment, its NodePort Service, IngressClass, validating webhook and the Job "
    "that issues the webhook's certificate, ServiceAccounts and RBAC",
    "metrics-server": "the metrics-server Deployment and Service, the v1beta1.metrics.k8s.io APIService with its "
    "CA bundle, ServiceAccount and RBAC",
}
"""What a chart installs, for the charts sitekit declares, so the plan can name what it could not see."""


def render(result: PlanResult, verbose: bool = False) -> str:
    """Human-readable summary; failures are listed in full, reachability per pod only with `verbose`."""
    site = result.site
    lines = [f"sitekit plan {site.cc} ({site.identity.name}, Kubernetes {site.cluster.kubernetes_version})"]
    kinds = Counter(m["kind"] for m in result.manifests.values())
    where = f" in {result.out}" if result.out else ""
    lines.append(
        f"  manifests     {len(result.manifests)} objects{where}: "
        + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items()))
    )
    for rel, chart in result.charts.items():
        contents = KNOWN_CHART_CONTENTS.get(str(chart["chart"]), "the objects it installs")
        lines.append(
            f"  not expanded  chart {chart['chart']} {chart['version']} from {chart['repository']} "
            f"into namespace {chart['namespace']} ({rel}): not visible offline: {contents}. They are not "
            "schema-checked, not policy-checked (only the chart's source, version and image values are) and not "
            "in the reachability analysis (the namespace's own NetworkPolicies still confine them)"
        )
    adm = result.admission
    lines.append(
        f"  admission     {'ok' if adm.ok else 'FAILED'}: {adm.checked} objects and their pods through a model of the "
        "API server's validation, NamespaceLifecycle, LimitRanger and ResourceQuota (a model, not an API server)"
    )
    lines += [f"    {f}" for f in adm.failures]
    schema = result.schema
    status = "ok" if schema.ok else "FAILED"
    lines.append(f"  schema        {status}: {schema.checked} objects against {schema.version}")
    for name, errors in schema.errors.items():
        lines += [f"    {name}: {e}" for e in errors]
    lines += [f"    {u}" for u in schema.unknown_kinds]
    lines.append(
        f"  policy        {'ok' if not result.violations else 'FAILED'}: {len(result.violations)} violation(s)"
    )
    lines += [f"    {v}" for v in result.violations]
    reach = result.reachability
    lines.append(
        f"  reachability  {'ok' if not reach.failures else 'FAILED'}: {len(reach.reaches)} pods analysed "
        "(egress stays in-country; tenants reach no other tenant or system namespace)"
    )
    lines += [f"    {f}" for f in reach.failures]
    if verbose:
        for r in reach.reaches:
            peers = "; ".join(sorted({p.describe() for p in r.peers})) if r.isolated else "anything (not isolated)"
            lines.append(f"    {r.pod.name} -> {peers or 'nothing'}")
    for assumption in ASSUMPTIONS:
        lines.append(f"  assumes       {assumption}")
    for warning in result.recording.warnings:
        lines.append(f"  warning       {warning}")
    for error in result.errors:
        lines.append(f"  error         {error}")
    total = sum(result.timings.values())
    lines.append(f"  result        {'PASS' if result.ok else 'FAIL'} in {total:.2f} s")
    return "\n".join(lines)
