"""Network paths from the country's pods to anything outside the cluster, from the planned NetworkPolicies.

Uses the plan's reachability model (`sitekit.plan.reachability`): per namespace, the worst-case pod (any
labels, so every egress policy of the namespace selects it) may send to every `ipBlock` those policies
allow; a namespace no egress policy isolates may send anywhere. Destinations inside the pod or service
network are in-cluster and left out. An `ipBlock` that is not IPv4 (the plan's model ignores those) is
listed as reaching outside the country, since the country's ranges are IPv4.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from ipaddress import IPv4Network
from typing import Any

from sitekit.access.model import NetworkPath
from sitekit.plan.reachability import EVERYWHERE, Network, Pod, parse_policy, rule_ports, subtract


def _ipv6_blocks(manifest: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(cidr, ports) of egress ipBlocks the IPv4 model cannot read: IPv6, or not an address at all."""
    out = []
    for rule in (manifest.get("spec") or {}).get("egress") or []:
        shown = rule_ports(rule)
        for peer in rule.get("to") or []:
            block = (peer or {}).get("ipBlock")
            if not block:
                continue
            try:
                IPv4Network(str(block.get("cidr")), strict=False)
            except ValueError:
                out.append((str(block.get("cidr")), shown))
    return out


def pod_paths(
    manifests: Sequence[Mapping[str, Any]],
    ranges: Sequence[IPv4Network],
    pod_cidr: IPv4Network,
    service_cidr: IPv4Network,
) -> list[NetworkPath]:
    """Per namespace, every destination outside the cluster its pods may send to, and how."""
    namespaces: dict[str, dict[str, str]] = {}
    policies = []
    raw_policies = []
    for m in manifests:
        meta = m.get("metadata") or {}
        if m.get("kind") == "Namespace":
            namespaces[str(meta.get("name"))] = dict(meta.get("labels") or {})
        elif m.get("kind") == "NetworkPolicy":
            policies.append(parse_policy(m))
            raw_policies.append(m)
    net = Network(namespaces, policies, pod_cidr)
    internal = [pod_cidr, service_cidr]
    out: list[NetworkPath] = []
    for ns in sorted(namespaces):
        pod = Pod(ns, None, f"any pod in {ns}")
        if not net.isolated(pod, "Egress"):
            out.append(_path(ns, EVERYWHERE, "any port", "no egress NetworkPolicy isolates the namespace", ranges))
            continue
        for policy in net.selecting(pod, "Egress"):
            for rule in policy.egress:
                for peer in rule:
                    if peer.anything:
                        out.append(
                            _path(ns, EVERYWHERE, peer.ports, f"NetworkPolicy {policy.name}: to anywhere", ranges)
                        )
                    elif peer.is_ip:
                        for n in subtract(peer.networks, internal):
                            out.append(_path(ns, n, peer.ports, f"NetworkPolicy {policy.name}", ranges))
        for m in raw_policies:
            meta = m.get("metadata") or {}
            if meta.get("namespace") != ns:
                continue
            for cidr, ports in _ipv6_blocks(m):
                out.append(
                    NetworkPath(
                        "pods", ns, cidr, ports, f"NetworkPolicy {meta.get('name')} (not an IPv4 block)", False, (cidr,)
                    )
                )
    unique = {(p.source, p.destination, p.ports, p.via): p for p in out}
    return [unique[k] for k in sorted(unique)]


def contained_namespaces(manifests: Sequence[Mapping[str, Any]], paths: Sequence[NetworkPath]) -> list[str]:
    """Planned namespaces whose pods have no path out of the cluster at all."""
    names = {str((m.get("metadata") or {}).get("name")) for m in manifests if m.get("kind") == "Namespace"}
    return sorted(names - {p.source for p in paths if p.source_kind == "pods"})


def _path(ns: str, net: IPv4Network, ports: str, via: str, ranges: Sequence[IPv4Network]) -> NetworkPath:
    outside = tuple(str(n) for n in subtract([net], ranges))
    return NetworkPath("pods", ns, str(net), ports, via, not outside, outside)
