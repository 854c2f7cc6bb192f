"""SK-FW: the loaded nftables ruleset (`nft -j list ruleset`), analysed as accept paths.

Networks and ports come from the firewall role's variables as the play renders them for this host
(operator networks, node, pod and service networks, the in-country egress destinations, the cluster ports
of the host's group). The ruleset is judged both ways: every path the spec allows is open, and nothing
else is: every accept path of every base chain (the role's and any other table's) must be one the spec
allows, else the check fails naming it.
"""

from __future__ import annotations

from typing import Any

from sitekit.hostchecks.nft import Path as AcceptPath
from sitekit.hostchecks.nft import Ruleset, control_icmp_only, new_connection_paths, overlaps_any, within_any


def _ruleset(probe: Any) -> Ruleset:
    rs = Ruleset(probe.nft())
    assert not rs.empty, "no nftables ruleset is loaded"
    return rs


def _drop_chains(rs: Ruleset, hook: str) -> list[Any]:
    return [c for c in rs.base_chains(hook) if c.policy == "drop"]


def _ssh_port(expect: Any) -> int:
    return int(expect.get("firewall_ssh_port"))


def _cluster_sources(expect: Any) -> list[str]:
    """The sources of the role's cluster_sources set: the node network and the pod network if any."""
    pod = str(expect.get("firewall_pod_cidr") or "")
    return [str(expect.get("firewall_node_cidr"))] + ([pod] if pod else [])


def log_path_sources(expect: Any) -> list[str]:
    """On the log collector, the addresses its log port is open to (the country's other hosts); else []."""
    if not expect.get("firewall_log_collector_here"):
        return []
    return [f"{a}/32" for a in expect.get("firewall_log_sources") or []]


def _inbound_allowed(expect: Any) -> list[tuple[str, set[int], list[str]]]:
    """What the spec opens inbound: (protocol, ports, sources); the log collector also its log port."""
    cluster = _cluster_sources(expect)
    allowed = [
        ("tcp", {_ssh_port(expect)}, [str(n) for n in expect.get("firewall_ssh_sources")]),
        ("tcp", set(_ports(expect.get("firewall_cluster_tcp_ports"))), cluster),
        ("udp", set(_ports(expect.get("firewall_cluster_udp_ports"))), cluster),
    ]
    logs = log_path_sources(expect)
    if logs:
        allowed.append(("tcp", {int(expect.get("firewall_log_port"))}, logs))
    return allowed


def _explained_inbound(p: AcceptPath, allowed: list[tuple[str, set[int], list[str]]]) -> bool:
    """Whether an inbound accept path is one the spec allows (ICMP errors, neighbour discovery and
    rate-limited echo requests are the role's design for every host)."""
    if control_icmp_only(p):
        return True
    echo = p.icmp_types is not None and p.icmp_types <= {"echo-request"}
    if p.l4proto is not None and p.l4proto <= {"icmp"} and echo:
        return True
    if p.l4proto is None or len(p.l4proto) != 1 or p.dports is None:
        return False
    proto = next(iter(p.l4proto))
    return any(
        proto == want and ports and p.dports <= ports and within_any(p.saddr, sources)
        for want, ports, sources in allowed
    )


def test_sk_fw_001(probe: Any, observe: Any, control: Any) -> None:
    enabled = probe.cmd("systemctl is-enabled nftables.service").stdout.strip()
    rs = Ruleset(probe.nft())
    observe({"nftables.service": enabled, "chains": len(rs.chains)}, {"nftables.service": "enabled"})
    assert enabled == "enabled", f"nftables.service is {enabled or 'absent'}: the ruleset would not survive a reboot"
    assert not rs.empty, "no ruleset loaded"
    conf = probe.cmd("nft -c -f /etc/nftables.conf")
    assert conf.rc == 0, f"/etc/nftables.conf does not load: {conf.stderr.strip()[:200]}"


def test_sk_fw_002(probe: Any, expect: Any, observe: Any, control: Any) -> None:
    rs = _ruleset(probe)
    chains = rs.base_chains("input")
    allowed = _inbound_allowed(expect)
    extra = {
        f"{c.family} {c.table} {c.name}": [
            p.describe() for p in new_connection_paths(c) if not _explained_inbound(p, allowed)
        ]
        for c in chains
    }
    extra = {k: v for k, v in extra.items() if v}
    observe(
        {"policies": {f"{c.family} {c.table} {c.name}": c.policy for c in chains}, "accepted beyond the spec": extra},
        {
            "policy": "drop",
            "new connections accepted only": [f"{proto} {sorted(ports)} from {src}" for proto, ports, src in allowed]
            + ["ICMP errors, neighbour discovery, echo-request (rate-limited)"],
        },
    )
    drop = _drop_chains(rs, "input")
    assert drop, "no input base chain has policy drop"
    for c in drop:
        replies = [p for p in c.paths if p.reply_only]
        loop = [p for p in c.paths if p.loopback_only]
        assert replies, f"{c.name}: established/related traffic is not accepted"
        assert loop, f"{c.name}: loopback traffic is not accepted"
    assert not extra, "inbound accepted beyond what the spec allows: " + "; ".join(
        f"{chain}: {', '.join(paths)}" for chain, paths in extra.items()
    )


def test_sk_fw_003(probe: Any, expect: Any, observe: Any, control: Any) -> None:
    rs = _ruleset(probe)
    operators = [str(n) for n in expect.get("firewall_ssh_sources")]
    port = _ssh_port(expect)
    chains = rs.base_chains("input")
    findings = {
        f"{c.family} {c.table} {c.name} (policy {c.policy})": [
            p.describe() for p in new_connection_paths(c, port=port, proto="tcp")
        ]
        for c in chains
    }
    observe(findings, {"tcp dport": port, "saddr within": operators, "policy": "drop"})
    drop = _drop_chains(rs, "input")
    assert drop, "no input base chain has policy drop: SSH is open to every source"
    # Every chain is judged: an accept from outside the operator networks anywhere is reported.
    outside = [
        f"{c.table} {p.describe()}"
        for c in chains
        for p in new_connection_paths(c, port=port, proto="tcp")
        if not within_any(p.saddr, operators)
    ]
    assert not outside, f"SSH (tcp/{port}) is accepted from outside {operators}: {outside}"
    locked = [c.name for c in drop if not new_connection_paths(c, port=port, proto="tcp")]
    assert not locked, f"SSH (tcp/{port}) is not accepted at all in {', '.join(locked)}: operators are locked out"


def _ports(value: Any) -> list[int]:
    out: list[int] = []
    for item in value or []:
        text = str(item)
        if "-" in text:
            lo, hi = (int(x) for x in text.split("-", 1))
            out += list(range(lo, hi + 1))
        elif text.isdigit():
            out.append(int(text))
    return out


def test_sk_fw_004(probe: Any, expect: Any, observe: Any, control: Any) -> None:
    rs = _ruleset(probe)
    node = str(expect.get("firewall_node_cidr"))
    # The cluster's own networks: nodes, and on the role's design pods (scrapers, kubelet clients).
    allowed = _cluster_sources(expect)
    tcp = _ports(expect.get("firewall_cluster_tcp_ports"))
    udp = _ports(expect.get("firewall_cluster_udp_ports"))
    chains = _drop_chains(rs, "input")
    seen: dict[str, list[str]] = {}
    problems = []
    for proto, ports in (("tcp", tcp), ("udp", udp)):
        for port in ports:
            paths = [p for c in chains for p in new_connection_paths(c, port=port, proto=proto)]
            if len(ports) <= 40:
                seen[f"{proto}/{port}"] = [p.describe() for p in paths]
            if not any(p.saddr is not None and overlaps_any(p.saddr, [node]) for p in paths):
                problems.append(f"{proto}/{port} not accepted from the node network {node}")
            if any(not within_any(p.saddr, allowed) for p in paths):
                problems.append(f"{proto}/{port} accepted from outside {', '.join(allowed)}")
    # Recorded before any verdict, so a failure always carries what was seen and what was expected.
    observe(
        {"input chains with policy drop": [f"{c.family} {c.table} {c.name}" for c in chains], "paths": seen},
        {"tcp": tcp, "udp": udp, "from": allowed},
    )
    assert chains, "no input base chain has policy drop"
    assert not problems, "; ".join(problems[:10])


def _egress_networks(expect: Any) -> list[str]:
    """Where the role lets new outbound connections go: the node network, on cluster nodes the pod and
    service networks, and the spec's in-country destinations."""
    nets = [str(expect.get("firewall_node_cidr"))]
    nets += [str(n) for n in (expect.get("firewall_pod_cidr"), expect.get("firewall_service_cidr")) if n]
    nets += [str(x["cidr"]) for x in expect.get("firewall_egress") or [] if isinstance(x, dict) and x.get("cidr")]
    return nets


def log_path_destination(expect: Any) -> str:
    """On a host that sends its logs, the collector's `address:port/tcp` (inside the node network); else ""."""
    collector = expect.get("firewall_log_collector") or {}
    if not collector.get("address") or expect.get("firewall_log_collector_here"):
        return ""
    return f"{collector['address']}:{expect.get('firewall_log_port')}/tcp"


def test_sk_fw_005(probe: Any, expect: Any, observe: Any, control: Any) -> None:
    rs = _ruleset(probe)
    allowed = _egress_networks(expect)
    chains = rs.base_chains("output")
    observe(
        {
            f"{c.family} {c.table} {c.name}": [c.policy, *[p.describe() for p in new_connection_paths(c)]]
            for c in chains
        },
        {"policy": "drop", "daddr within": allowed, "log path (SK-LOG-004)": log_path_destination(expect) or "none"},
    )
    assert _drop_chains(rs, "output"), "no output base chain has policy drop (outbound is open)"
    # Every output base chain, the role's and any other table's: an accept anywhere is judged.
    leaks = [
        f"{c.table} {p.describe()}"
        for c in chains
        for p in new_connection_paths(c)
        if not within_any(p.daddr, allowed) and not control_icmp_only(p)
    ]
    assert not leaks, f"outbound accepted beyond the in-country destinations: {leaks}"


def test_sk_fw_006(probe: Any, expect: Any, observe: Any, control: Any) -> None:
    rs = _ruleset(probe)
    cluster = (
        [str(n) for n in (expect.get("firewall_pod_cidr"), expect.get("firewall_service_cidr")) if n]
        if expect.get("firewall_cluster_node")
        else []
    )
    chains = rs.base_chains("forward")
    observe(
        {f"{c.family} {c.table} {c.name}": [c.policy, *[p.describe() for p in c.paths]] for c in chains},
        {"policy": "drop", "accept only to or from": cluster},
    )
    assert [c for c in chains if c.policy == "drop"], "no forward base chain has policy drop"
    loose = [
        f"{c.table} {p.describe()}"
        for c in chains
        for p in c.paths
        if not p.reply_only and not (within_any(p.saddr, cluster) or within_any(p.daddr, cluster))
    ]
    assert not loose, f"forwarding accepted outside the pod and service networks: {loose}"
