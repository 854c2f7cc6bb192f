"""Where things sit on a country's lab network, derived from its spec (never restated by hand).

Hosts keep their spec addresses, so the rendered inventory and the checks see the same addresses as on
the real site. The lab namespace carries the addresses the hosts need to reach: a gateway on the node
network, the controller's source address in the site's first operator network (the hardened firewall
only admits SSH from there), and the in-country mirror, NTP and DNS addresses from the spec.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from sitekit.errors import UserError
from sitekit.lab.netns import netns_name
from sitekit.spec import Site

_CC = re.compile(r"^[a-z]{2}$")


@dataclass(frozen=True)
class LabHost:
    """One host of the lab: spec name, address (with the node network's prefix) and role."""

    name: str
    interface: ipaddress.IPv4Interface
    role: str

    @property
    def address(self) -> ipaddress.IPv4Address:
        """The host's spec address."""
        return self.interface.ip


@dataclass(frozen=True)
class Layout:
    """The lab network of one country."""

    cc: str
    netns: str
    hosts: tuple[LabHost, ...]
    gateway: ipaddress.IPv4Interface
    operator: ipaddress.IPv4Interface
    mirror_address: ipaddress.IPv4Address
    mirror_host: str
    mirror_path: str
    service_addresses: tuple[ipaddress.IPv4Address, ...]
    ntp_addresses: tuple[ipaddress.IPv4Address, ...] = ()
    """The spec's NTP servers, which the lab serves itself (sitekit.lab.ntp)."""

    @property
    def mirror_url(self) -> str:
        """The mirror URL by address, which works whatever a role does to /etc/hosts."""
        return f"http://{self.mirror_address}{self.mirror_path}"

    def bridge_addresses(self) -> list[ipaddress.IPv4Interface]:
        """Every address the lab namespace's bridge carries."""
        out = [self.gateway, self.operator]
        for addr in (self.mirror_address, *self.service_addresses):
            iface = ipaddress.IPv4Interface(f"{addr}/32")
            if iface not in out and all(addr != o.ip for o in out):
                out.append(iface)
        return out


def check_cc(cc: str) -> str:
    """Normalise a country code argument, or explain what is expected."""
    low = cc.strip().lower()
    if not _CC.match(low):
        raise UserError(f"country code {cc!r} is not two letters (e.g. ee)")
    return low


def layout_for(cc: str, site: Site, only: tuple[str, ...] = ()) -> Layout:
    """Derive the lab network from the site's spec (all hosts, or the ones named in `only`)."""
    node = site.network.node_cidr
    names = [h.name for h in site.hosts]
    unknown = [n for n in only if n not in names]
    if unknown:
        raise UserError(f"site {cc} has no host {', '.join(unknown)} (hosts: {', '.join(names)})")
    hosts = tuple(
        LabHost(h.name, ipaddress.IPv4Interface(f"{h.address}/{node.prefixlen}"), h.role)
        for h in site.hosts
        if not only or h.name in only
    )
    if not hosts:
        raise UserError(f"site {cc} has no hosts: nothing to start in the lab")
    used = {h.address for h in site.hosts}
    gateway = next((a for a in reversed(list(node.hosts())) if a not in used), None)
    if gateway is None:
        raise UserError(f"site {cc}: node network {node} has no free address for the lab gateway")
    if not site.residency.operator_networks:
        raise UserError(f"site {cc} declares no operator network: the lab controller needs one to SSH from")
    opnet = site.residency.operator_networks[0]
    if opnet.num_addresses < 16:
        raise UserError(f"site {cc}: operator network {opnet} is too small for the lab controller address")
    operator = ipaddress.IPv4Interface(f"{opnet.network_address + 10}/{opnet.prefixlen}")
    mirror = site.residency.package_mirror
    if not mirror.addresses:
        raise UserError(f"site {cc}: the package mirror has no address the lab could serve it on")
    url = urlsplit(mirror.url)
    services = tuple(dict.fromkeys([*site.residency.ntp_servers, *site.residency.dns_servers]))
    return Layout(
        cc=cc,
        netns=netns_name(cc),
        hosts=hosts,
        gateway=ipaddress.IPv4Interface(f"{gateway}/{node.prefixlen}"),
        operator=operator,
        mirror_address=mirror.addresses[0],
        mirror_host=url.hostname or str(mirror.addresses[0]),
        mirror_path=url.path.rstrip("/") or "/debian",
        service_addresses=services,
        ntp_addresses=tuple(site.residency.ntp_servers),
    )
