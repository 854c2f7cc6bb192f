"""The access map as text for a reader: one section per kind of power, findings last."""

from __future__ import annotations

from collections import defaultdict

from sitekit.access.model import AccessMap, Grant, LogPath, Rule


def _rule(rule: Rule) -> str:
    verbs = "* (every verb)" if rule.wildcard_verbs else ",".join(rule.verbs)
    if rule.non_resource_urls:
        return f"{verbs} on URLs {','.join(rule.non_resource_urls)}"
    groups = ",".join(g or "core" for g in rule.api_groups)
    resources = "every resource" if "*" in rule.resources else ",".join(rule.resources)
    return f"{verbs} on {resources} [{groups}]"


def _grant(g: Grant) -> list[str]:
    where = "CLUSTER-WIDE" if g.cluster_wide else f"in {g.scope}"
    head = f"  {g.subject.label()}: {g.role_kind} {g.role_name} {where} ({g.binding})"
    if g.cluster_admin:
        head += "  ** cluster-admin **"
    lines = [head]
    if g.built_in:
        lines.append(f"      built-in: {g.built_in}")
    lines += [f"      {_rule(r)}" for r in g.rules]
    return lines


def _log_path(path: LogPath | None) -> list[str]:
    if path is None:
        return ["Log path: none (the spec has no logging section: each host keeps its logs locally)"]
    return [
        "Log path (journal and audit records, to the country's collector)",
        f"  hosts {', '.join(path.senders) or 'none'} -> {path.collector} {path.address} port {path.port}",
        f"      protocol: {path.protocol}",
        f"      the collector's firewall accepts it from: {', '.join(path.accepted_sources) or 'nowhere'}",
        f"      authentication: {path.authentication}",
        f"      issuing CA: {path.issuing_ca}",
        f"      trusted on every host through: {path.ca_file}",
        f"      the collector accepts certificates named: {', '.join(path.collector_accepts) or 'none'}",
        f"      the senders accept the collector only as: {', '.join(path.senders_require) or 'none'}",
    ]


def render(amap: AccessMap) -> str:
    """The human-readable map."""
    out = [f"Access map of {amap.country.upper()} (spec {amap.spec_digest[:12]})"]
    out += [f"  from {k}: {v}" for k, v in sorted(amap.sources.items())]
    out.append("")
    out.append("Kubernetes RBAC (planned objects)")
    cluster = [g for g in amap.grants if g.cluster_wide]
    out += [line for g in cluster for line in _grant(g)] or ["  no cluster-wide grant in the plan"]
    for g in amap.grants:
        if not g.cluster_wide:
            out += _grant(g)
    admins = amap.cluster_admins()
    out.append(f"  cluster-admins: {', '.join(admins) if admins else 'none found in the plan or the state'}")
    for c in amap.masters_certificates:
        out.append(
            f"    system:masters certificate CN={c.common_name} serial {c.serial} until {c.not_after} ({c.file})"
        )
    out += [f"  not seen: {text}" for text in amap.not_expanded]
    out.append("")
    out.append("Hosts (rendered inventory, roles' defaults)")
    for h in amap.host_groups:
        out.append(f"  {h.group} ({h.role}): {', '.join(h.hosts)}")
        out.append(f"      SSH principals (AuthorizedPrincipalsFile): {', '.join(h.principals)}")
        out.append(f"      login accounts: {', '.join(h.login_accounts)}; Unix group {h.login_group}")
        out.append(f"      SSH only from: {', '.join(h.ssh_sources) or 'nowhere'}")
        out.append(f"      sudo: {h.sudo}")
        out += [f"      root there holds: {item}" for item in h.holds]
    out.append("")
    if amap.custody:
        custody = amap.custody
        out.append(f"Keys ({custody.backend} backend)")
        custodians = ", ".join(f"{n} ({r})" for n, r in custody.custodians)
        out.append(f"  custodians: {custodians}")
        out.append(f"  rebuild the root: {custody.threshold} of {len(custody.custodians)}: {custody.root_rebuild}")
        for power in custody.powers:
            out.append(f"  {power.power}:")
            out += [f"      {route}" for route in power.routes]
        out.append("")
    out.append("Network paths out of the cluster")
    by_source: dict[tuple[str, str], list[str]] = defaultdict(list)
    for p in amap.paths:
        mark = "" if p.inside_country else "  ** OUTSIDE THE COUNTRY **"
        by_source[(p.source_kind, p.source)].append(f"      -> {p.destination} {p.ports} ({p.via}){mark}")
    for (kind, source), lines in sorted(by_source.items()):
        out.append(f"  {kind} of {source}:")
        out += lines
    if amap.contained:
        out.append(f"  pods of {', '.join(amap.contained)}: no path out of the cluster")
    out.append("")
    out += _log_path(amap.log_path)
    out.append("")
    if amap.findings:
        out.append(f"Findings: {len(amap.findings)}")
        out += [f"  {f.id} {f.subject}: {f.detail}" for f in amap.findings]
    else:
        out.append("Findings: none")
    return "\n".join(out)
