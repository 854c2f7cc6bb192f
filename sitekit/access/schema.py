"""The JSON form of the access map (`sitekit access <cc> --json`), schema `sitekit.access/v1`.

Top-level keys, all always present (lists may be empty; keys are sorted in the output):

- `schema`: "sitekit.access/v1"; `country`: the lower-case code; `spec_digest`: the sha256 of the resolved
  site the map was derived from; `sources`: where the spec, inventory, plan and certificates were read.
- `kubernetes.grants[]`: `subject` {kind, name, namespace}, `scope` ("namespace" | "cluster"), `namespace`
  (null when cluster-wide), `role` {kind, name, built_in: documented meaning or null}, `binding`,
  `cluster_admin` (bool), `rules[]` {api_groups, resources, verbs (wildcards expanded), non_resource_urls,
  wildcard_verbs, wildcard_resources}.
- `kubernetes.cluster_admins[]`: labels of every identity with cluster-admin ("User x", "Group y").
- `kubernetes.built_in_roles`: {name: documented meaning} for built-in roles some binding refers to.
- `kubernetes.masters_certificates[]`: {common_name, organizations, serial, not_after, file}.
- `kubernetes.not_expanded[]`: what the map cannot see (chart releases rendered by Helm at install).
- `hosts.groups[]`: {group, role, hosts, principals, login_accounts, login_group, ssh_sources, sudo, holds}.
- `keys`: {backend, custodians[] {name, role}, threshold (M), shares (N), root_rebuild, powers[] {power,
  routes}}.
- `network.paths[]`: {from ("pods" | "hosts"), source (namespace or inventory group), destination (CIDR),
  ports, via, inside_country (bool), outside_country[] (the CIDRs outside the country's ranges)};
  `network.contained_namespaces[]`: planned namespaces whose pods have no path out of the cluster.
- `network.log_path`: null when the spec has no `logging:` section, else {collector (inventory host),
  address, port, protocol, senders[] (hosts whose firewall opens the path), accepted_sources[] (addresses
  the collector's firewall accepts the port from), authentication, issuing_ca, ca_file, collector_accepts[]
  (certificate names the collector accepts), senders_require[] (the name senders require of the collector)};
  each sender's accept also appears in `network.paths[]`.
- `findings[]`: {id, subject, detail}; ids are listed in `sitekit.access.findings`. `ok` is true when empty.
"""

from __future__ import annotations

from typing import Any

from sitekit.access.model import AccessMap

SCHEMA_ID = "sitekit.access/v1"


def to_json(amap: AccessMap) -> dict[str, Any]:
    """The documented JSON document of one access map."""
    return {
        "schema": SCHEMA_ID,
        "country": amap.country,
        "spec_digest": amap.spec_digest,
        "sources": dict(amap.sources),
        "kubernetes": {
            "grants": [g.json() for g in amap.grants],
            "cluster_admins": amap.cluster_admins(),
            "built_in_roles": dict(amap.built_in_roles),
            "masters_certificates": [c.json() for c in amap.masters_certificates],
            "not_expanded": list(amap.not_expanded),
        },
        "hosts": {"groups": [g.json() for g in amap.host_groups]},
        "keys": amap.custody.json() if amap.custody else None,
        "network": {
            "paths": [p.json() for p in amap.paths],
            "contained_namespaces": list(amap.contained),
            "log_path": amap.log_path.json() if amap.log_path else None,
        },
        "findings": [f.json() for f in amap.findings],
        "ok": not amap.findings,
    }
