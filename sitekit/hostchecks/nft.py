"""Reason about a live nftables ruleset (`nft -j list ruleset`) instead of grepping its text.

The firewall checks ask questions such as "can a new TCP connection to port 22 be accepted from an
address outside the operator networks?". We flatten each base chain into accept *paths* (the conjunction
of the matches of every rule on the way, following jump/goto), then compare each path's source,
destination and port constraints with the networks the inventory allows. Unknown match kinds make a path
*less* constrained, never more, so the analysis errs on the side of reporting exposure.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

Net = ipaddress.IPv4Network | ipaddress.IPv6Network
REPLY_STATES = {"established", "related"}
L4 = {"tcp", "udp", "sctp", "icmp", "icmpv6", "udplite", "dccp"}


@dataclass
class Path:
    """One way a packet can be accepted by a base chain."""

    chain: str
    saddr: list[Net] | None = None  # None: any source
    daddr: list[Net] | None = None
    dports: set[int] | None = None  # None: any port
    l4proto: set[str] | None = None
    iif: set[str] | None = None
    oif: set[str] | None = None
    ct_state: set[str] | None = None
    icmp_types: set[str] | None = None  # None: any ICMP type (or not an ICMP match)
    negated: bool = False  # had a != match we could not represent; treat as unconstrained there
    text: list[str] = field(default_factory=list)

    @property
    def reply_only(self) -> bool:
        return self.ct_state is not None and self.ct_state <= REPLY_STATES

    @property
    def loopback_only(self) -> bool:
        return (self.iif is not None and self.iif <= {"lo"}) or (self.oif is not None and self.oif <= {"lo"})

    def describe(self) -> str:
        parts = []
        if self.l4proto:
            parts.append("/".join(sorted(self.l4proto)))
        if self.saddr is not None:
            parts.append("saddr " + ",".join(map(str, self.saddr)))
        if self.daddr is not None:
            parts.append("daddr " + ",".join(map(str, self.daddr)))
        if self.dports is not None:
            parts.append("dport " + _ports_text(self.dports))
        if self.iif:
            parts.append("iif " + ",".join(sorted(self.iif)))
        if self.ct_state:
            parts.append("ct " + ",".join(sorted(self.ct_state)))
        if self.icmp_types:
            parts.append("type " + ",".join(sorted(self.icmp_types)))
        return f"{self.chain}: accept " + (" ".join(parts) or "everything")


def _ports_text(ports: set[int]) -> str:
    s = sorted(ports)
    return ",".join(map(str, s[:12])) + ("..." if len(s) > 12 else "")


@dataclass
class BaseChain:
    family: str
    table: str
    name: str
    hook: str
    policy: str
    paths: list[Path]


class Ruleset:
    """A parsed `nft -j list ruleset`."""

    def __init__(self, items: list[dict[str, Any]]) -> None:
        self.chains: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.rules: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
        self.sets: dict[tuple[str, str, str], list[Any]] = {}
        for item in items:
            if "chain" in item:
                c = item["chain"]
                self.chains[(c["family"], c["table"], c["name"])] = c
            elif "rule" in item:
                r = item["rule"]
                self.rules.setdefault((r["family"], r["table"], r["chain"]), []).append(r)
            elif "set" in item or "map" in item:
                s = item.get("set") or item["map"]
                self.sets[(s["family"], s["table"], s["name"])] = list(s.get("elem", []))

    @property
    def empty(self) -> bool:
        return not self.chains

    def base_chains(self, hook: str) -> list[BaseChain]:
        out = []
        for key, c in self.chains.items():
            if c.get("hook") == hook and c.get("type", "filter") == "filter":
                paths = self._walk(key, Path(chain=c["name"]), depth=0)
                out.append(BaseChain(key[0], key[1], key[2], hook, str(c.get("policy", "accept")), paths))
        return out

    # ----------------------------------------------------------------------------------------- walking
    def _walk(self, key: tuple[str, str, str], base: Path, depth: int) -> list[Path]:
        if depth > 16:
            return []
        paths: list[Path] = []
        for rule in self.rules.get(key, []):
            p = Path(**{**base.__dict__, "text": list(base.text)})
            verdict: tuple[str, str | None] | None = None
            for expr in rule.get("expr", []):
                if "match" in expr:
                    self._apply_match(p, expr["match"], key)
                elif "accept" in expr:
                    verdict = ("accept", None)
                elif "jump" in expr or "goto" in expr:
                    verdict = ("jump", (expr.get("jump") or expr.get("goto"))["target"])
                elif "drop" in expr or "reject" in expr:
                    verdict = ("drop", None)
            if verdict is None:
                continue
            if verdict[0] == "accept":
                paths.append(p)
            elif verdict[0] == "jump" and verdict[1]:
                paths += self._walk((key[0], key[1], verdict[1]), p, depth + 1)
        return paths

    def _values(self, right: Any, key: tuple[str, str, str]) -> list[Any]:
        if isinstance(right, str) and right.startswith("@"):
            return [self._elem(e) for e in self.sets.get((key[0], key[1], right[1:]), [])]
        if isinstance(right, dict) and "set" in right:
            return [self._elem(e) for e in right["set"]]
        if isinstance(right, list):
            return [self._elem(e) for e in right]
        return [self._elem(right)]

    @staticmethod
    def _elem(e: Any) -> Any:
        if isinstance(e, dict) and "elem" in e:
            return e["elem"].get("val")
        return e

    def _apply_match(self, p: Path, m: dict[str, Any], key: tuple[str, str, str]) -> None:
        op = m.get("op", "==")
        left, right = m.get("left"), m.get("right")
        if op not in ("==", "in"):
            p.negated = True  # "!=" and friends: leave the path unconstrained on that field
            return
        values = self._values(right, key)
        if isinstance(left, dict) and "payload" in left:
            field_ = left["payload"].get("field")
            proto = left["payload"].get("protocol")
            if proto in L4 and field_ != "dport":
                p.l4proto = {proto} if p.l4proto is None else p.l4proto & {proto}
            if proto in ("icmp", "icmpv6") and field_ == "type":
                p.icmp_types = {str(v) for v in values}
            if field_ in ("saddr", "daddr"):
                nets = [n for v in values for n in _nets(v)]
                current = p.saddr if field_ == "saddr" else p.daddr
                nets = nets if current is None else [n for n in nets if any(_within(n, c) for c in current)]
                if field_ == "saddr":
                    p.saddr = nets
                else:
                    p.daddr = nets
            elif field_ == "dport":
                ports = {x for v in values for x in _ports(v)}
                p.dports = ports if p.dports is None else p.dports & ports
                if proto in ("tcp", "udp", "sctp"):
                    p.l4proto = {proto} if p.l4proto is None else p.l4proto & {proto}
        elif isinstance(left, dict) and "meta" in left:
            mk = left["meta"].get("key")
            strs = {str(v) for v in values}
            if mk in ("iifname", "iif"):
                p.iif = strs
            elif mk in ("oifname", "oif"):
                p.oif = strs
            elif mk in ("l4proto", "protocol"):
                p.l4proto = strs
        elif isinstance(left, dict) and "ct" in left and left["ct"].get("key") == "state":
            states: set[str] = set()
            for v in values:
                states |= set(v) if isinstance(v, list) else {str(v)}
            p.ct_state = states


def _nets(v: Any) -> list[Net]:
    try:
        if isinstance(v, dict) and "prefix" in v:
            return [ipaddress.ip_network(f"{v['prefix']['addr']}/{v['prefix']['len']}", strict=False)]
        if isinstance(v, dict) and "range" in v:
            lo, hi = (ipaddress.ip_address(x) for x in v["range"])
            return list(ipaddress.summarize_address_range(lo, hi))
        if isinstance(v, str):
            return [ipaddress.ip_network(v, strict=False)]
    except ValueError:
        pass
    return [ipaddress.ip_network("0.0.0.0/0")]  # unknown: assume anything


def _ports(v: Any) -> set[int]:
    if isinstance(v, int):
        return {v}
    if isinstance(v, dict) and "range" in v:
        lo, hi = int(v["range"][0]), int(v["range"][1])
        return set(range(lo, hi + 1))
    if isinstance(v, str) and v.isdigit():
        return {int(v)}
    if isinstance(v, str) and re_range(v):
        lo, hi = (int(x) for x in v.split("-"))
        return set(range(lo, hi + 1))
    return set(range(0, 65536))


def re_range(v: str) -> bool:
    a, sep, b = v.partition("-")
    return bool(sep) and a.isdigit() and b.isdigit()


def _within(inner: Net, outer: Net) -> bool:
    return inner.version == outer.version and inner.subnet_of(outer)  # type: ignore[arg-type]


# ICMP messages that carry no payload of their own choosing: errors and neighbour discovery.
ICMP_CONTROL = {
    "destination-unreachable",
    "time-exceeded",
    "parameter-problem",
    "packet-too-big",
    "nd-neighbor-solicit",
    "nd-neighbor-advert",
    "nd-router-solicit",
    "nd-router-advert",
}


def control_icmp_only(p: Path) -> bool:
    """Whether a path only admits ICMP error and neighbour-discovery messages."""
    return (
        p.l4proto is not None
        and p.l4proto <= {"icmp", "icmpv6"}
        and p.icmp_types is not None
        and (p.icmp_types <= ICMP_CONTROL)
    )


def overlaps_any(nets: list[Net] | None, networks: list[str]) -> bool:
    """Whether any address of `nets` (None: any address) lies in one of `networks`."""
    if nets is None:
        return True
    allow = [ipaddress.ip_network(a, strict=False) for a in networks]
    return any(n.version == a.version and n.overlaps(a) for n in nets for a in allow)


def within_any(nets: list[Net] | None, allowed: list[str]) -> bool:
    """Whether every network of `nets` lies inside one of `allowed` (None means any address: False)."""
    if nets is None:
        return False
    allow = [ipaddress.ip_network(a, strict=False) for a in allowed]
    return all(any(_within(n, a) for a in allow) for n in nets)


def new_connection_paths(chain: BaseChain, port: int | None = None, proto: str | None = None) -> list[Path]:
    """Accept paths of `chain` that admit a new (not reply, not loopback) connection (to `port`)."""
    out = []
    for p in chain.paths:
        if p.reply_only or p.loopback_only:
            continue
        if port is not None and p.dports is not None and port not in p.dports:
            continue
        if proto is not None and p.l4proto is not None and proto not in p.l4proto:
            continue
        out.append(p)
    return out
