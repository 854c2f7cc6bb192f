"""The access map's records: plain frozen dataclasses, each with the JSON form `--json` prints.

The field names are the documented schema (`sitekit.access.schema.SCHEMA_ID`); adding a field is
compatible, renaming or removing one needs a new schema id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

CLUSTER = "*cluster*"
"""The scope of a right granted cluster-wide (a ClusterRoleBinding), in place of a namespace."""


@dataclass(frozen=True)
class Subject:
    """Who a binding grants to: a User, Group or ServiceAccount (namespace only for ServiceAccounts)."""

    kind: str
    name: str
    namespace: str = ""

    def label(self) -> str:
        """`Group tartu-nlp-devs`, `ServiceAccount models/llama-et`."""
        return f"{self.kind} {self.namespace + '/' if self.namespace else ''}{self.name}"

    def json(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "namespace": self.namespace or None}


@dataclass(frozen=True)
class Rule:
    """One RBAC rule with wildcards expanded: verbs on resources of API groups (or non-resource URLs)."""

    api_groups: tuple[str, ...]
    resources: tuple[str, ...]
    verbs: tuple[str, ...]
    non_resource_urls: tuple[str, ...] = ()
    wildcard_verbs: bool = False
    wildcard_resources: bool = False

    def json(self) -> dict[str, Any]:
        return {
            "api_groups": list(self.api_groups),
            "resources": list(self.resources),
            "verbs": list(self.verbs),
            "non_resource_urls": list(self.non_resource_urls),
            "wildcard_verbs": self.wildcard_verbs,
            "wildcard_resources": self.wildcard_resources,
        }


@dataclass(frozen=True)
class Grant:
    """One subject's rights through one binding: in a namespace, or cluster-wide (`scope == CLUSTER`)."""

    subject: Subject
    scope: str
    role_kind: str
    role_name: str
    binding: str
    rules: tuple[Rule, ...]
    built_in: str = ""
    cluster_admin: bool = False

    @property
    def cluster_wide(self) -> bool:
        return self.scope == CLUSTER

    def json(self) -> dict[str, Any]:
        return {
            "subject": self.subject.json(),
            "scope": "cluster" if self.cluster_wide else "namespace",
            "namespace": None if self.cluster_wide else self.scope,
            "role": {"kind": self.role_kind, "name": self.role_name, "built_in": self.built_in or None},
            "binding": self.binding,
            "cluster_admin": self.cluster_admin,
            "rules": [r.json() for r in self.rules],
        }


@dataclass(frozen=True)
class MastersCertificate:
    """A client certificate the country's Kubernetes CA signed with O=system:masters: cluster-admin, unrevocable."""

    common_name: str
    organizations: tuple[str, ...]
    serial: str
    not_after: str
    file: str

    def json(self) -> dict[str, Any]:
        return {
            "common_name": self.common_name,
            "organizations": list(self.organizations),
            "serial": self.serial,
            "not_after": self.not_after,
            "file": self.file,
        }


@dataclass(frozen=True)
class HostGroupAccess:
    """Who can log in to one inventory group's hosts, and what that login can do."""

    group: str
    role: str
    hosts: tuple[str, ...]
    principals: tuple[str, ...]
    login_accounts: tuple[str, ...]
    login_group: str
    ssh_sources: tuple[str, ...]
    sudo: str
    holds: tuple[str, ...] = ()

    def json(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "role": self.role,
            "hosts": list(self.hosts),
            "principals": list(self.principals),
            "login_accounts": list(self.login_accounts),
            "login_group": self.login_group,
            "ssh_sources": list(self.ssh_sources),
            "sudo": self.sudo,
            "holds": list(self.holds),
        }


@dataclass(frozen=True)
class KeyPower:
    """One key-related power and every route by which someone obtains it."""

    power: str
    routes: tuple[str, ...]

    def json(self) -> dict[str, Any]:
        return {"power": self.power, "routes": list(self.routes)}


@dataclass(frozen=True)
class Custody:
    """The root key's custodians, the M-of-N to rebuild it, and who can obtain the other secrets."""

    backend: str
    custodians: tuple[tuple[str, str], ...]
    threshold: int
    root_rebuild: str
    powers: tuple[KeyPower, ...]

    def json(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "custodians": [{"name": n, "role": r} for n, r in self.custodians],
            "threshold": self.threshold,
            "shares": len(self.custodians),
            "root_rebuild": self.root_rebuild,
            "powers": [p.json() for p in self.powers],
        }


@dataclass(frozen=True)
class NetworkPath:
    """Traffic that may leave the cluster: from pods of a namespace, or from hosts of a group."""

    source_kind: str  # "pods" or "hosts"
    source: str
    destination: str
    ports: str
    via: str
    inside_country: bool
    outside: tuple[str, ...] = ()

    def json(self) -> dict[str, Any]:
        return {
            "from": self.source_kind,
            "source": self.source,
            "destination": self.destination,
            "ports": self.ports,
            "via": self.via,
            "inside_country": self.inside_country,
            "outside_country": list(self.outside),
        }


@dataclass(frozen=True)
class LogPath:
    """Where the site's hosts send their journal and audit records: one collector of the country, over TCP,
    mutual TLS with certificates of the country's logging intermediate."""

    collector: str
    address: str
    port: int
    protocol: str
    senders: tuple[str, ...]
    accepted_sources: tuple[str, ...]
    authentication: str
    issuing_ca: str
    ca_file: str
    collector_accepts: tuple[str, ...]
    senders_require: tuple[str, ...]

    def json(self) -> dict[str, Any]:
        return {
            "collector": self.collector,
            "address": self.address,
            "port": self.port,
            "protocol": self.protocol,
            "senders": list(self.senders),
            "accepted_sources": list(self.accepted_sources),
            "authentication": self.authentication,
            "issuing_ca": self.issuing_ca,
            "ca_file": self.ca_file,
            "collector_accepts": list(self.collector_accepts),
            "senders_require": list(self.senders_require),
        }


@dataclass(frozen=True)
class Finding:
    """A flag the map raises: a stable id (`ACCESS-SOD-001`), who it is about, and why it matters."""

    id: str
    subject: str
    detail: str

    def json(self) -> dict[str, Any]:
        return {"id": self.id, "subject": self.subject, "detail": self.detail}


@dataclass
class AccessMap:
    """Everything `sitekit access <cc>` reports for one country."""

    country: str
    spec_digest: str
    sources: dict[str, str]
    grants: list[Grant] = field(default_factory=list)
    built_in_roles: dict[str, str] = field(default_factory=dict)
    masters_certificates: list[MastersCertificate] = field(default_factory=list)
    not_expanded: list[str] = field(default_factory=list)
    host_groups: list[HostGroupAccess] = field(default_factory=list)
    custody: Custody | None = None
    paths: list[NetworkPath] = field(default_factory=list)
    contained: list[str] = field(default_factory=list)
    log_path: LogPath | None = None
    findings: list[Finding] = field(default_factory=list)

    def cluster_admins(self) -> list[str]:
        """Identities with cluster-admin: subjects of cluster-wide admin grants and system:masters certificates."""
        names = {g.subject.label() for g in self.grants if g.cluster_admin and g.cluster_wide}
        names |= {f"User {c.common_name}" for c in self.masters_certificates}
        return sorted(names)
