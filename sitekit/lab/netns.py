"""The lab network: one namespace per country holding a bridge, with no route off the machine.

Nothing is created in the machine's own network namespace: the bridge, its addresses and the host ends
of the veth pairs all live in `sk-<cc>`, and each host's end is moved straight into the host's private
namespace. So two countries' labs can use overlapping names and never meet, and deleting the namespace
removes every link the lab made.
"""

from __future__ import annotations

import hashlib
import ipaddress
from pathlib import Path

from sitekit.lab.util import run
from sitekit.paths import state_dir

NETNS_DIR = Path("/run/netns")
BRIDGE = "br0"


def lab_tag() -> str:
    """A short tag of the state folder, so labs kept in different state folders never share a name.

    Several operators (or test runs) on one machine each have their own `SITEKIT_STATE`; names of
    machine-wide objects (namespaces, nspawn machines) carry this tag so their `ee` labs coexist.
    """
    return hashlib.sha256(str(state_dir()).encode()).hexdigest()[:6]


def netns_name(cc: str) -> str:
    """The lab namespace of a country for this state folder (it appears in ProxyCommands)."""
    return f"sk-{cc}-{lab_tag()}"


def exists(name: str) -> bool:
    """True if the named namespace exists."""
    return (NETNS_DIR / name).exists()


def netns_root_mounted() -> bool:
    """True if /run/netns is a mount point (ip creates that bind mount on first use)."""
    target = str(NETNS_DIR)
    with open("/proc/self/mountinfo") as fh:
        return any(line.split()[4] == target for line in fh)


def create(name: str, addresses: list[ipaddress.IPv4Interface]) -> None:
    """Create the namespace with its bridge carrying the lab's service and gateway addresses."""
    run(["ip", "netns", "add", name])
    run(["ip", "-n", name, "link", "set", "lo", "up"])
    run(["ip", "-n", name, "link", "add", BRIDGE, "type", "bridge"])
    for addr in addresses:
        run(["ip", "-n", name, "addr", "add", str(addr), "dev", BRIDGE])
    run(["ip", "-n", name, "link", "set", BRIDGE, "up"])
    # Answer and ask ARP like a router on the node network: with the default (0) an ARP request for a
    # host carries the operator address as its sender, which a host hardened with arp_ignore = 2 (only
    # same-subnet senders, SK-SYS-019) never answers. A per-namespace setting: the lab's namespace only.
    run(["nsenter", f"--net=/run/netns/{name}", "sysctl", "-q", "-w", "net.ipv4.conf.all.arp_announce=2"])
    run(["nsenter", f"--net=/run/netns/{name}", "sysctl", "-q", "-w", f"net.ipv4.conf.{BRIDGE}.arp_announce=2"])


def delete(name: str) -> None:
    """Delete the namespace (its bridge and veth ends go with it)."""
    if exists(name):
        run(["ip", "netns", "delete", name])


def attach_pid(
    name: str,
    index: int,
    pid: int,
    address: ipaddress.IPv4Interface,
    gateway: ipaddress.IPv4Address,
) -> None:
    """Join the network namespace of `pid` (a container's PID 1) to the lab bridge as `eth0`."""
    outer, inner = f"vh{index}", f"vc{index}"
    run(["ip", "-n", name, "link", "add", outer, "type", "veth", "peer", "name", inner])
    run(["ip", "-n", name, "link", "set", outer, "master", BRIDGE, "up"])
    run(["ip", "-n", name, "link", "set", inner, "netns", str(pid)])
    inside = ["nsenter", f"--net=/proc/{pid}/ns/net", "ip"]
    run([*inside, "link", "set", inner, "name", "eth0"])
    run([*inside, "addr", "add", str(address), "dev", "eth0"])
    run([*inside, "link", "set", "eth0", "up"])
    run([*inside, "link", "set", "lo", "up"])
    run([*inside, "route", "replace", "default", "via", str(gateway)])


def add_tap(name: str, index: int) -> str:
    """A tap device on the lab bridge for a VM (QEMU runs inside the namespace and opens it)."""
    tap = f"tap{index}"
    run(["ip", "-n", name, "tuntap", "add", "dev", tap, "mode", "tap"])
    run(["ip", "-n", name, "link", "set", tap, "master", BRIDGE, "up"])
    return tap
