"""The flags the access map raises, each with a stable id an auditor can cite.

| id                | raised when                                                                        |
|-------------------|------------------------------------------------------------------------------------|
| ACCESS-SOD-001    | one identity is both a key custodian and a cluster-admin (separation of duties)    |
| ACCESS-TENANT-001 | a tenant's group or ServiceAccount (or system:authenticated...) holds rights outside |
|                   | the tenant's namespace                                                             |
| ACCESS-TENANT-002 | a tenant may rewrite its own isolation (NetworkPolicies, RBAC, quotas, limits)      |
| ACCESS-NET-001    | pods may send to an address outside the country's ranges                           |
| ACCESS-NET-002    | hosts may send to an address outside the country's ranges                          |
| ACCESS-RBAC-001   | a binding refers to a role the plan does not declare and Kubernetes does not build in |

Identities are compared by a normalised form (lower case, runs of anything but letters and digits as one
`-`, accents dropped), so the custodian "Mari Tamm" and a Kubernetes user `mari.tamm` are the same person; a custodian's
function (`security-officer`) matched by a Kubernetes group of that name counts too, since such a group is
how a function is usually given its rights.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from sitekit.access.model import AccessMap, Finding, Grant
from sitekit.spec import Site
from sitekit.spec.models import TENANT_PREFIX

SOD = "ACCESS-SOD-001"
TENANT_OUTSIDE = "ACCESS-TENANT-001"
TENANT_ISOLATION = "ACCESS-TENANT-002"
POD_EGRESS = "ACCESS-NET-001"
HOST_EGRESS = "ACCESS-NET-002"
UNKNOWN_ROLE = "ACCESS-RBAC-001"
FINDING_IDS = (SOD, TENANT_OUTSIDE, TENANT_ISOLATION, POD_EGRESS, HOST_EGRESS, UNKNOWN_ROLE)

# What a tenant must not write in its own namespace: it would undo its isolation or its limits.
ISOLATION_RESOURCES = frozenset(
    {"networkpolicies", "roles", "rolebindings", "resourcequotas", "limitranges", "namespaces", "*"}
)
# Groups the API server puts every tenant identity in: a binding to them is a binding to every tenant.
EVERYONE_GROUPS = frozenset({"system:authenticated", "system:unauthenticated", "system:serviceaccounts"})
SERVICE_ACCOUNTS_OF = "system:serviceaccounts:"
WRITE_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection", "bind", "escalate"})


def identity(text: str) -> str:
    """The normalised form identities are compared in (accents dropped: `Muñoz` is user `munoz`)."""
    plain = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return re.sub(r"[^a-z0-9]+", "-", plain.lower()).strip("-")


def separation_of_duties(site: Site, amap: AccessMap) -> list[Finding]:
    """Custodians who also hold cluster-admin through a binding or a system:masters certificate."""
    admins: dict[str, list[str]] = {}
    for g in amap.grants:
        if g.cluster_admin and g.cluster_wide and g.subject.kind in ("User", "Group"):
            admins.setdefault(identity(g.subject.name), []).append(f"{g.subject.label()} through {g.binding}")
    for c in amap.masters_certificates:
        how = f"certificate CN={c.common_name} O={','.join(c.organizations)} ({c.file})"
        admins.setdefault(identity(c.common_name), []).append(how)
        for org in c.organizations:
            if org != "system:masters":
                admins.setdefault(identity(org), []).append(how)
    out = []
    for custodian in site.keys.custodians:
        for key, what in ((identity(custodian.name), "name"), (identity(custodian.role), "function")):
            if key and key in admins:
                out.append(
                    Finding(
                        SOD,
                        custodian.name,
                        f"custodian {custodian.name} ({custodian.role}) is cluster-admin by {what}: "
                        f"{'; '.join(admins[key])}; one person could rebuild the root key and control the cluster",
                    )
                )
    return out


def _acts_for(g: Grant, site: Site) -> list[str]:
    """Tenant namespaces the grant's subject acts for.

    A tenant's own groups and ServiceAccounts; a group shared by several tenants acts for each; the
    API server's groups of every authenticated user or every ServiceAccount act for every tenant.
    """
    namespaces = []
    every = [f"{TENANT_PREFIX}{t.name}" for t in site.tenants]
    if g.subject.kind == "Group" and g.subject.name in EVERYONE_GROUPS:
        namespaces = every
    elif g.subject.kind == "Group" and g.subject.name.startswith(SERVICE_ACCOUNTS_OF):
        namespaces = [ns for ns in every if g.subject.name == SERVICE_ACCOUNTS_OF + ns]
    elif g.subject.kind == "Group":
        namespaces = [f"{TENANT_PREFIX}{t.name}" for t in site.tenants if g.subject.name in t.groups]
    elif g.subject.kind == "ServiceAccount" and g.subject.namespace.startswith(TENANT_PREFIX):
        namespaces = [g.subject.namespace]
    return namespaces


def tenant_rights(site: Site, grants: Sequence[Grant]) -> list[Finding]:
    """Tenant subjects with rights outside their namespace, or able to rewrite their own isolation."""
    out = []
    for g in grants:
        for ns in _acts_for(g, site):
            where = "every namespace (cluster-wide)" if g.cluster_wide else f"namespace {g.scope}"
            if g.scope != ns:
                out.append(
                    Finding(
                        TENANT_OUTSIDE,
                        g.subject.label(),
                        f"{g.subject.label()} acts for {ns} but {g.binding} grants it {g.role_kind} {g.role_name} "
                        f"in {where}",
                    )
                )
                continue
            risky = sorted(
                {
                    f"{v} {res}"
                    for r in g.rules
                    for res in r.resources
                    if res in ISOLATION_RESOURCES
                    for v in r.verbs
                    if v in WRITE_VERBS
                }
            )
            if risky or (g.built_in and g.role_name in ("cluster-admin", "admin")):
                out.append(
                    Finding(
                        TENANT_ISOLATION,
                        g.subject.label(),
                        f"{g.binding} lets {g.subject.label()} change its own isolation in {ns}: "
                        f"{', '.join(risky[:6]) or g.role_name}",
                    )
                )
    return out


def egress(amap: AccessMap) -> list[Finding]:
    """Paths that leave the country's ranges: one finding per source and rule, naming each destination."""
    grouped: dict[tuple[str, str, str], list[str]] = {}
    for p in amap.paths:
        if not p.inside_country:
            shown = ", ".join(p.outside[:3]) + (f" and {len(p.outside) - 3} more" if len(p.outside) > 3 else "")
            grouped.setdefault((p.source_kind, p.source, p.via), []).append(
                f"{p.destination} ({p.ports}; outside the country: {shown})"
            )
    return [
        Finding(
            POD_EGRESS if kind == "pods" else HOST_EGRESS,
            f"{kind} {source}",
            f"{kind} of {source} may send beyond the country's ranges via {via}: {'; '.join(destinations)}",
        )
        for (kind, source, via), destinations in sorted(grouped.items())
    ]


def all_findings(site: Site, amap: AccessMap, unresolved: Sequence[str]) -> list[Finding]:
    """Every finding, in a stable order (by id, then subject, then detail)."""
    found = separation_of_duties(site, amap) + tenant_rights(site, amap.grants) + egress(amap)
    found += [Finding(UNKNOWN_ROLE, text.split(" refers", 1)[0], text) for text in unresolved]
    unique = {(f.id, f.subject, f.detail): f for f in found}
    return [unique[k] for k in sorted(unique)]
