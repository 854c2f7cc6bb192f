"""Gather the three sources of the access map and derive the map from them.

`load_inputs` reads the spec, the rendered inventory (through `ansible-inventory`) and the planned
Kubernetes objects (the stack program under the plan's recording mocks), and refuses a render that is
not of the current spec: a map of stale files would describe a site that does not exist. `derive_map` is
pure over those inputs, so tests can change one input (a planned binding, an inventory variable) and
check what the map makes of it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sitekit.access import findings, hosts, keys, logpath, network, rbac
from sitekit.access.model import AccessMap
from sitekit.errors import CheckFailed, UserError
from sitekit.spec import Site, load_fleet, site_digest
from sitekit.spec.roles import ROLE_GROUPS


@dataclass
class AccessInputs:
    """Everything the map is derived from, already loaded."""

    site: Site
    manifests: list[dict[str, Any]]
    charts: list[dict[str, Any]]
    inventory: Mapping[str, Any]
    roles_dir: Path
    keys_dir: Path
    cert_folders: Sequence[Path] = ()
    sources: dict[str, str] = field(default_factory=dict)


def planned_objects(site: Site, root: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The Kubernetes objects and chart releases `sitekit plan` would write for the rendered stack config."""
    from sitekit.plan.program import rendered_config, run_program
    from sitekit.plan.runner import collect

    stack_file = root / f"Pulumi.{site.cc}.yaml"
    config = rendered_config(stack_file)
    if config.get("sitekit:specDigest") != site_digest(site):
        raise CheckFailed(
            f"{stack_file.name} was not rendered from the current spec (its sitekit:specDigest differs from "
            f"sites/): run `sitekit render {site.cc}`"
        )
    try:
        recording = run_program(root / "stacks", site.cc, config)
    except (CheckFailed, UserError):
        raise
    except Exception as exc:
        raise CheckFailed(f"the stack program refused {stack_file.name}: {exc}") from exc
    manifests, charts, errors = collect(recording)
    if errors:
        raise CheckFailed("the plan is inconsistent: " + "; ".join(errors))
    return list(manifests.values()), list(charts.values())


def rendered_inventory(site: Site, path: Path) -> dict[str, Any]:
    """An inventory (`inventories/<cc>/`, or the lab's copy of it) as Ansible reads it; refused if it was
    rendered from another spec."""
    from sitekit.hostchecks.inventory import load_inventory

    data = load_inventory(path)
    digests = {
        str(v.get("sitekit_spec_digest"))
        for v in (data.get("_meta", {}).get("hostvars", {}) or {}).values()
        if isinstance(v, Mapping)
    }
    if digests != {site_digest(site)}:
        raise CheckFailed(
            f"{path} was not rendered from the current spec (sitekit_spec_digest differs): run "
            f"`sitekit render {site.cc}`"
        )
    return data


def load_inputs(root: Path, sites: Path, cc: str, inventory: Path | None = None) -> AccessInputs:
    """Spec, inventory (default the rendered `inventories/<cc>/`) and planned objects of one country."""
    from sitekit.lab.state import lab_dir
    from sitekit.pki.layout import Layout

    site = load_fleet(sites).site(cc)
    manifests, charts = planned_objects(site, root)
    inventory_path = inventory or root / "inventories" / site.cc
    inventory_data = rendered_inventory(site, inventory_path)
    keys_dir = Layout.for_country(site.cc).base
    return AccessInputs(
        site=site,
        manifests=manifests,
        charts=charts,
        inventory=inventory_data,
        roles_dir=root / "playbooks" / "roles",
        keys_dir=keys_dir,
        cert_folders=(keys_dir / "leaves", lab_dir(site.cc) / "cluster" / "pki"),
        sources={
            "spec": str(sites),
            "inventory": str(inventory_path),
            "plan": f"{root / 'stacks'} under the plan's mocks ({len(manifests)} objects)",
            "certificates": ", ".join(str(p) for p in (keys_dir / "leaves", lab_dir(site.cc) / "cluster" / "pki")),
        },
    )


def derive_map(inputs: AccessInputs) -> AccessMap:
    """The access map of one site, with its findings."""
    site = inputs.site
    ranges = list(site.residency.address_ranges)
    grants, unresolved = rbac.grants(inputs.manifests)
    inv_hosts = hosts.inventory_hosts(inputs.inventory)
    expect_of = hosts.expectations(inv_hosts, inputs.roles_dir)
    groups = hosts.host_groups(inv_hosts, list(ROLE_GROUPS.values()), inputs.roles_dir, expect_of)
    amap = AccessMap(country=site.cc, spec_digest=site_digest(site), sources=dict(inputs.sources))
    amap.grants = grants
    amap.built_in_roles = rbac.referenced_built_ins(grants)
    amap.masters_certificates = keys.masters_certificates(inputs.keys_dir, inputs.cert_folders)
    amap.not_expanded = [
        f"chart {c.get('chart')} {c.get('version', '')} in namespace {c.get('namespace')}: its own RBAC and "
        "NetworkPolicies are rendered by Helm at install time, not by the plan".replace("  ", " ")
        for c in inputs.charts
    ]
    amap.host_groups = groups
    amap.custody = keys.custody(site, groups, grants)
    amap.log_path = logpath.log_path(inv_hosts, expect_of, site.cc, inputs.keys_dir)
    amap.paths = network.pod_paths(
        inputs.manifests, ranges, site.network.pod_cidr, site.network.service_cidr
    ) + hosts.host_paths(inv_hosts, expect_of, ranges, amap.log_path)
    amap.contained = network.contained_namespaces(inputs.manifests, amap.paths)
    amap.findings = findings.all_findings(site, amap, unresolved)
    return amap
