"""Spec -> Ansible inventory: hosts grouped by role, and the variables roles and host checks read.

The variable names are a contract (docs/CONTRACTS.md): roles derive their `<role>_*` defaults from these
`sitekit_*` values and the testinfra suites read the same values as expectations, so what is applied and
what is checked come from one place. No secret is ever rendered here.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network
from typing import Any

from sitekit.spec.loader import site_digest
from sitekit.spec.models import Endpoint, Host, Keys, Site
from sitekit.spec.roles import ROLE_GROUPS

# Ports other cluster nodes reach on a host of each group, from the node network only.
# Sources: kubeadm's "ports and protocols" list, Cilium/VXLAN overlay, NVIDIA DCGM exporter.
CLUSTER_TCP_PORTS: dict[str, list[str]] = {
    "control_plane": ["2379-2380", "6443", "10250", "10257", "10259"],
    "gpu_workers": ["9400", "10250"],
    "storage": ["10250"],
}
CLUSTER_UDP_PORTS: dict[str, list[str]] = {
    "control_plane": ["8472"],
    "gpu_workers": ["8472"],
    "storage": ["8472"],
}


def _gpu_sharing(host: Host) -> str:
    if host.gpu is None or host.gpu.sharing is None:
        return "none"
    return "mig" if host.gpu.sharing.mig else "time-slicing"


def host_vars(host: Host) -> dict[str, Any]:
    """Per-host variables: where to reach it and what hardware it has."""
    return {
        "ansible_host": str(host.address),
        "sitekit_host_role": host.role,
        "sitekit_gpu_model": host.gpu.model if host.gpu else "",
        "sitekit_gpu_count": host.gpu.count if host.gpu else 0,
        "sitekit_gpu_sharing": _gpu_sharing(host),
    }


def hosts_document(site: Site) -> dict[str, Any]:
    """`hosts.yml`: every host in exactly one role group; empty groups are kept so plays can target them."""
    children: dict[str, Any] = {}
    for role, group in ROLE_GROUPS.items():
        members = {h.name: host_vars(h) for h in site.hosts if h.role == role}
        children[group] = {"hosts": members} if members else {}
    return {"all": {"children": children}}


def _addrs(values: tuple[IPv4Address, ...] | tuple[IPv4Network, ...]) -> list[str]:
    return [str(v) for v in values]


def _endpoint_rules(name: str, endpoint: Endpoint) -> list[dict[str, Any]]:
    return [{"name": name, "cidr": f"{a}/32", "proto": "tcp", "ports": [endpoint.port]} for a in endpoint.addresses]


def egress_rules(site: Site) -> list[dict[str, Any]]:
    """Every in-country destination a host may reach, one rule per address and protocol."""
    res = site.residency
    rules: list[dict[str, Any]] = []
    for a in res.dns_servers:
        rules.append({"name": "dns", "cidr": f"{a}/32", "proto": "udp", "ports": [53]})
        rules.append({"name": "dns", "cidr": f"{a}/32", "proto": "tcp", "ports": [53]})
    rules += [{"name": "ntp", "cidr": f"{a}/32", "proto": "udp", "ports": [123]} for a in res.ntp_servers]
    rules += _endpoint_rules("package-mirror", res.package_mirror)
    rules += _endpoint_rules("container-registry", res.container_registry)
    rules += _endpoint_rules("chart-repository", res.chart_repository)
    rules += [{"name": e.name, "cidr": str(e.cidr), "proto": "tcp", "ports": list(e.ports)} for e in res.extra_egress]
    return rules


def all_vars(site: Site, digest: str | None = None) -> dict[str, Any]:
    """`group_vars/all/sitekit.yml`: the resolved site as flat variables (contract in docs/CONTRACTS.md).

    `digest` is the site's `site_digest`, passed by a caller that already computed it.
    """
    res = site.residency
    keys = site.keys
    return {
        "sitekit_country": site.cc,
        "sitekit_country_name": site.identity.name,
        "sitekit_domains": list(site.identity.domains),
        "sitekit_locales": list(site.identity.locales),
        "sitekit_address_ranges": _addrs(res.address_ranges),
        "sitekit_node_cidr": str(site.network.node_cidr),
        "sitekit_pod_cidr": str(site.network.pod_cidr),
        "sitekit_service_cidr": str(site.network.service_cidr),
        "sitekit_operator_networks": _addrs(res.operator_networks),
        "sitekit_dns_servers": _addrs(res.dns_servers),
        "sitekit_ntp_servers": _addrs(res.ntp_servers),
        "sitekit_package_mirror_url": res.package_mirror.url,
        "sitekit_package_mirror_addresses": _addrs(res.package_mirror.addresses),
        "sitekit_container_registry_url": res.container_registry.url,
        "sitekit_chart_repository_url": res.chart_repository.url,
        "sitekit_egress": egress_rules(site),
        "sitekit_operator_group": site.access.operator_group,
        "sitekit_admin_principals": list(site.access.admin_principals),
        "sitekit_role_principals": {role: list(p) for role, p in sorted(site.access.role_principals.items())},
        "sitekit_compliance_profile": site.compliance.profile,
        "sitekit_deviations": [{"control": d.control, "reason": d.reason} for d in site.compliance.deviations],
        "sitekit_security_contact": site.identity.security_contact or "",
        "sitekit_keys_backend": keys.backend,
        "sitekit_pkcs11_module": keys.pkcs11.module if keys.pkcs11 else "",
        "sitekit_pkcs11_token_label": (keys.pkcs11.token_label if keys.pkcs11 else "") or f"sitekit-{site.cc}",
        "sitekit_ssh_user_cert_hours": keys.validity.ssh_user_cert_hours,
        "sitekit_model_volume": _model_volume(keys),
        "sitekit_log_collector": log_collector(site),
        "sitekit_log_clients": log_clients(site),
        "sitekit_kubernetes_version": site.cluster.kubernetes_version,
        "sitekit_spec_digest": digest if digest is not None else site_digest(site),
    }


def log_collector(site: Site) -> dict[str, Any]:
    """The country's log collector (`{name, address, port, dns_name}`), or {} when the spec names none."""
    host = site.log_collector()
    if host is None or site.logging is None:
        return {}
    return {
        "name": host.name,
        "address": str(host.address),
        "port": site.logging.port,
        "dns_name": site.host_dns_name(host),
    }


def log_clients(site: Site) -> list[dict[str, Any]]:
    """The hosts that send their logs to the collector (every other host of the site), or [] without one.

    The collector's firewall accepts the log port from these addresses only, and its TLS listener accepts
    only certificates carrying these DNS names.
    """
    collector = site.log_collector()
    if collector is None:
        return []
    return [
        {"name": h.name, "address": str(h.address), "dns_name": site.host_dns_name(h)}
        for h in site.hosts
        if h.name != collector.name
    ]


def _model_volume(keys: Keys) -> dict[str, Any]:
    """The TPM-bound model volume the keys role manages, or {} when the spec declares none."""
    vol = keys.model_volume
    if vol is None:
        return {}
    return {
        "device": vol.device,
        "mount_point": vol.mount_point,
        "roles": list(vol.roles),
        "tpm2_pcrs": list(vol.tpm2_pcrs),
    }


def group_vars(group: str) -> dict[str, Any]:
    """`group_vars/<group>/sitekit.yml`: what differs by role (cluster ports)."""
    return {
        "sitekit_cluster_tcp_ports": CLUSTER_TCP_PORTS[group],
        "sitekit_cluster_udp_ports": CLUSTER_UDP_PORTS[group],
    }
