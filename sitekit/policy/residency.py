"""Egress only to in-country ranges, and never to cloud metadata addresses.

NetworkPolicy allows add up, so a single rule with a foreign `ipBlock`, or an egress rule without `to`
(which means "everywhere"), lets data leave the country. Each rule is checked on its own.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from ipaddress import IPv4Network, ip_network
from typing import Any

from sitekit.policy.conventions import METADATA_NETWORKS
from sitekit.policy.model import Resource
from sitekit.spec import Site

EGRESS_POLICY = "sitekit-egress-in-country"


def ip_block_networks(block: Mapping[str, Any]) -> tuple[IPv4Network | None, list[IPv4Network]]:
    """An ipBlock's network and its excepted networks (None for an unparsable or IPv6 CIDR)."""
    try:
        net = ip_network(str(block.get("cidr")), strict=False)
    except ValueError:
        return None, []
    excepts = []
    for item in block.get("except") or []:
        try:
            ex = ip_network(str(item), strict=False)
        except ValueError:
            continue
        if isinstance(ex, IPv4Network):
            excepts.append(ex)
    return (net if isinstance(net, IPv4Network) else None), excepts


def check_egress(site: Site, resource: Resource) -> Iterator[str]:
    """Each egress peer is in-cluster, or an ipBlock inside the country's ranges without metadata addresses."""
    if resource.kind != "NetworkPolicy":
        return
    ranges = site.residency.address_ranges
    for i, rule in enumerate((resource.props.get("spec") or {}).get("egress") or []):
        peers = (rule or {}).get("to") or []
        if not peers:
            yield f"egress[{i}] has no `to`: it allows every destination, including outside the country"
            continue
        for j, peer in enumerate(peers):
            block = (peer or {}).get("ipBlock")
            if not block:
                continue
            net, excepts = ip_block_networks(block)
            if net is None:
                yield f"egress[{i}].to[{j}]: ipBlock {block.get('cidr')!r} is not an IPv4 network in the country"
                continue
            if not any(net.subnet_of(r) for r in ranges):
                yield (
                    f"egress[{i}].to[{j}]: ipBlock {net} is outside the country's address ranges "
                    f"({', '.join(map(str, ranges))})"
                )
            for meta in METADATA_NETWORKS:
                if meta.subnet_of(net) and not any(meta.subnet_of(ex) for ex in excepts):
                    yield f"egress[{i}].to[{j}]: ipBlock {net} includes the metadata address {meta} without an except"
