"""SK-FW: the loaded nftables ruleset (`nft -j list ruleset`), analysed as accept paths.

Networks come from the inventory: operator networks, node network, pod and service networks, the
in-country egress destinations, and the cluster ports of the host's group.
"""

from __future__ import annotations

from typing import Any

from sitekit.report.nft import Ruleset, control_icmp_only, new_connection_paths, overlaps_any, within_any


def _ruleset(probe: Any) -> Ruleset:
    rs = Ruleset(probe.nft())
    assert not rs.empty, "no nftables ruleset is loaded"
    return rs


def _drop_chains(rs: Ruleset, hook: str) -> list[Any]:
    return [c for c in rs.base_chains(hook) if c.policy == "drop"]


def _ssh_port(expect: Any) -> int:
    return int(expect.get("firewall_ssh_port", 22))


def test_sk_fw_001(probe: Any, observe: Any, control: Any) -> None:
    enabled = probe.cmd("systemctl is-enabled nftables.service").stdout.strip()
    rs = Ruleset(probe.nft())
    observe({"nftables.service": enabled, "chains": len(rs.chains)}, {"nftables.service": "enabled"})
    assert enabled == "enabled", f"nftables.service is {enabled or 'absent'}: the ruleset would not survive a reboot"
    assert not rs.empty, "no ruleset loaded"
    conf = probe.cmd("nft -c -f /etc/nftables.conf")
    assert conf.rc == 0, f"/etc/nftables.conf does not load: {conf.stderr.strip()[:200]}"


def test_sk_fw_002(probe: Any, observe: Any, control: Any) -> None:
    rs = _ruleset(probe)
    chains = rs.base_chains("input")
    observe({f"{c.family} {c.table} {c.name}": c.policy for c in chains}, "an input base chain with policy drop")
    drop = _drop_chains(rs, "input")
    assert drop, "no input base chain has policy drop"
    for c in drop:
        replies = [p for p in c.paths if p.reply_only]
        loop = [p for p in c.paths if p.loopback_only]
        assert replies, f"{c.name}: established/related traffic is not accepted"
        assert loop, f"{c.name}: loopback traffic is not accepted"


def test_sk_fw_003(probe: Any, expect: Any, observe: Any, hostvars: dict[str, Any], control: Any) -> None:
    rs = _ruleset(probe)
    operators = [str(n) for n in expect.get("firewall_ssh_sources", hostvars.get("sitekit_operator_networks", []))]
    port = _ssh_port(expect)
    findings = {}
    for c in _drop_chains(rs, "input"):
        paths = new_connection_paths(c, port=port, proto="tcp")
        findings[c.name] = [p.describe() for p in paths]
        open_ = [p for p in paths if not within_any(p.saddr, operators)]
        if paths and not open_:
            observe(findings, {"tcp dport": port, "saddr within": operators})
            return
        assert paths, f"SSH (tcp/{port}) is not accepted at all in {c.name}: operators are locked out"
    observe(findings, {"tcp dport": port, "saddr within": operators})
    raise AssertionError(f"SSH is accepted from outside {operators}: {findings}")


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


def test_sk_fw_004(probe: Any, expect: Any, observe: Any, hostvars: dict[str, Any], control: Any) -> None:
    rs = _ruleset(probe)
    node = str(expect.get("firewall_node_cidr", hostvars.get("sitekit_node_cidr")))
    pod = str(expect.get("firewall_pod_cidr", hostvars.get("sitekit_pod_cidr") or "") or "")
    # The cluster's own networks: nodes, and on the role's design pods (scrapers, kubelet clients).
    allowed = [node] + ([pod] if pod else [])
    tcp = _ports(expect.get("firewall_cluster_tcp_ports", hostvars.get("sitekit_cluster_tcp_ports")))
    udp = _ports(expect.get("firewall_cluster_udp_ports", hostvars.get("sitekit_cluster_udp_ports")))
    chains = _drop_chains(rs, "input")
    assert chains, "no input base chain has policy drop"
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
    observe(seen, {"tcp": tcp, "udp": udp, "from": allowed})
    assert not problems, "; ".join(problems[:10])


def _egress_networks(expect: Any, hostvars: dict[str, Any]) -> list[str]:
    nets = [str(e["cidr"]) for e in hostvars.get("sitekit_egress") or [] if isinstance(e, dict) and e.get("cidr")]
    nets += [str(hostvars["sitekit_node_cidr"])] if hostvars.get("sitekit_node_cidr") else []
    if hostvars.get("sitekit_host_role") in ("control-plane", "gpu-worker"):
        nets += [str(hostvars[k]) for k in ("sitekit_pod_cidr", "sitekit_service_cidr") if hostvars.get(k)]
    egress = expect.get("firewall_egress")
    if isinstance(egress, list):
        nets += [str(x["cidr"]) for x in egress if isinstance(x, dict) and x.get("cidr")]
    return nets


def test_sk_fw_005(probe: Any, expect: Any, observe: Any, hostvars: dict[str, Any], control: Any) -> None:
    rs = _ruleset(probe)
    allowed = _egress_networks(expect, hostvars)
    chains = _drop_chains(rs, "output")
    observe(
        {c.name: [p.describe() for p in new_connection_paths(c)] for c in rs.base_chains("output")},
        {"policy": "drop", "daddr within": allowed},
    )
    assert chains, "no output base chain has policy drop (outbound is open)"
    for c in chains:
        leaks = [
            p.describe()
            for p in new_connection_paths(c)
            if not within_any(p.daddr, allowed) and not control_icmp_only(p)
        ]
        if not leaks:
            return
    raise AssertionError(f"outbound accepted beyond the in-country destinations: {leaks}")


def test_sk_fw_006(probe: Any, expect: Any, observe: Any, hostvars: dict[str, Any], control: Any) -> None:
    rs = _ruleset(probe)
    cluster = [str(hostvars[k]) for k in ("sitekit_pod_cidr", "sitekit_service_cidr") if hostvars.get(k)]
    chains = rs.base_chains("forward")
    observe(
        {c.name: [c.policy, *[p.describe() for p in c.paths]] for c in chains},
        {"policy": "drop", "accept only to or from": cluster},
    )
    drop = [c for c in chains if c.policy == "drop"]
    assert drop, "no forward base chain has policy drop"
    for c in drop:
        loose = [
            p.describe()
            for p in c.paths
            if not p.reply_only and not (within_any(p.saddr, cluster) or within_any(p.daddr, cluster))
        ]
        if not loose:
            return
    raise AssertionError(f"forwarding accepted outside the pod and service networks: {loose}")
