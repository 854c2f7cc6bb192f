"""Reachability (`sitekit.plan.reachability`) against an independent oracle, and on its edges (issue 15).

The oracle below is written from the Kubernetes NetworkPolicy semantics, not from the product's code: label
selectors evaluated by hand, `policyTypes` defaulted as the API server defaults it, the allowed set of a
direction as the union of the rules of every policy that selects the pod (a pod no policy selects for a
direction is unrestricted in it; a rule without peers allows every peer), and ipBlocks as integer address
intervals minus their `except` intervals (never `ipaddress`'s own arithmetic). Where the product documents a
choice beyond Kubernetes the oracle follows that document (the module docstring): a pod of unknown labels is
the worst case, an ipBlock that overlaps the pod network reaches every pod, and ports do not decide
reachability. The last is checked the other way round: whenever the port-aware Kubernetes answer allows a
connection on some port (named ports, ranges with endPort), the product must allow it too.

The explicit tests pin the boundaries (first and last address of a block, one outside, partial overlap,
supernet, a second peer, rule and policy) and the exact texts of the plan output and its failures.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sitekit.plan.reachability import (
    EVERYWHERE,
    Network,
    Peer,
    Pod,
    Reach,
    _show,
    analyse,
    parse_policy,
    subtract,
)

NAME_LABEL = "kubernetes.io/metadata.name"
NAMESPACES = ["tenant-a", "tenant-b", "sys"]
POD_CIDR = IPv4Network("10.20.64.0/18")
COUNTRY = [IPv4Network("10.20.0.0/16"), IPv4Network("100.64.0.0/10")]
METADATA = ["169.254.169.254", "169.254.170.2", "100.100.100.200"]
FULL = 2**32 - 1
Intervals = list[tuple[int, int]]

PROPS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --- the oracle ----------------------------------------------------------------------------------------------


def o_matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """Kubernetes label selector: every matchLabels pair and every matchExpression holds."""
    if selector is None:
        return True
    for key, value in (selector.get("matchLabels") or {}).items():
        if key not in labels or labels[key] != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, values = expr["key"], list(expr.get("values") or [])
        holds = {
            "In": key in labels and labels[key] in values,
            "NotIn": key not in labels or labels[key] not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }[expr["operator"]]
        if not holds:
            return False
    return True


def o_empty(selector: Mapping[str, Any] | None) -> bool:
    return selector is None or (len(selector.get("matchLabels") or {}) == 0
                                and len(selector.get("matchExpressions") or []) == 0)


def o_types(spec: Mapping[str, Any]) -> set[str]:
    """policyTypes as the API server defaults it: Ingress always, Egress when there are egress rules."""
    if spec.get("policyTypes"):
        return set(spec["policyTypes"])
    return {"Ingress", "Egress"} if len(spec.get("egress") or []) > 0 else {"Ingress"}


def o_cidr(text: Any) -> tuple[int, int] | None:
    """An IPv4 CIDR's first and last address as integers (host bits ignored); None if not IPv4 CIDR text."""
    parts = str(text).split("/")
    if len(parts) != 2:
        return None
    octets, bits = parts[0].split("."), parts[1]
    if len(octets) != 4 or not all(o.isdigit() and int(o) < 256 for o in octets) or not bits.isdigit():
        return None
    prefix = int(bits)
    if prefix > 32:
        return None
    value = 0
    for o in octets:
        value = value * 256 + int(o)
    size = 2 ** (32 - prefix)
    lo = value - value % size
    return lo, lo + size - 1


def o_norm(intervals: Iterable[tuple[int, int]]) -> Intervals:
    out: Intervals = []
    for lo, hi in sorted(intervals):
        if out and lo <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def o_minus(keep: Intervals, cut: Iterable[tuple[int, int]]) -> Intervals:
    out = o_norm(keep)
    for clo, chi in cut:
        nxt: Intervals = []
        for lo, hi in out:
            if hi < clo or lo > chi:
                nxt.append((lo, hi))
                continue
            if lo < clo:
                nxt.append((lo, clo - 1))
            if hi > chi:
                nxt.append((chi + 1, hi))
        out = nxt
    return o_norm(out)


def o_block(block: Mapping[str, Any]) -> Intervals:
    whole = o_cidr(block.get("cidr"))
    if whole is None:
        return []
    return o_minus([whole], [iv for iv in map(o_cidr, block.get("except") or []) if iv is not None])


def intervals_of(nets: Iterable[IPv4Network]) -> Intervals:
    return o_norm((int(n.network_address), int(n.broadcast_address)) for n in nets)


POD_IV = intervals_of([POD_CIDR])


@dataclass(frozen=True)
class OPod:
    namespace: str
    labels: Mapping[str, str] | None  # None: unknown labels, the worst case


Covers = Callable[[str, Mapping[str, Any]], bool]  # (policy namespace, peer) -> whether the peer includes it
PortOk = Callable[[Mapping[str, Any]], bool]  # rule -> whether its ports allow the connection


def o_allows(policies: Sequence[Mapping[str, Any]], pod: OPod, direction: str, covers: Covers,
             port_ok: PortOk = lambda rule: True) -> bool:
    """Whether `pod`'s policies for `direction` allow what `covers` describes."""
    selecting = [
        p for p in policies
        if (p["metadata"].get("namespace") or "default") == pod.namespace
        and direction in o_types(p["spec"])
        and (pod.labels is None or o_matches(p["spec"].get("podSelector") or {}, pod.labels))
    ]
    if pod.labels is None:
        isolated = any(o_empty(p["spec"].get("podSelector")) for p in selecting)
    else:
        isolated = len(selecting) > 0
    if not isolated:
        return True
    key, peer_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
    for p in selecting:
        ns = p["metadata"].get("namespace") or "default"
        for rule in p["spec"].get(key) or []:
            peers = rule.get(peer_key) or []
            if port_ok(rule) and (not peers or any(covers(ns, peer) for peer in peers)):
                return True
    return False


def o_covers_pod(namespace_labels: Mapping[str, Mapping[str, str]], target: OPod) -> Covers:
    def covers(policy_ns: str, peer: Mapping[str, Any]) -> bool:
        if "ipBlock" in peer:
            return bool(o_minus(POD_IV, o_minus([(0, FULL)], o_block(peer["ipBlock"]))))
        ns_sel = peer.get("namespaceSelector")
        if ns_sel is None:
            if target.namespace != policy_ns:
                return False
        elif not o_matches(ns_sel, {**namespace_labels.get(target.namespace, {}), NAME_LABEL: target.namespace}):
            return False
        return target.labels is None or o_matches(peer.get("podSelector"), target.labels)

    return covers


def o_can_reach(policies: Sequence[Mapping[str, Any]], namespace_labels: Mapping[str, Mapping[str, str]],
                src: OPod, dst: OPod, port_ok: PortOk = lambda rule: True) -> bool:
    return o_allows(policies, src, "Egress", o_covers_pod(namespace_labels, dst), port_ok) and o_allows(
        policies, dst, "Ingress", o_covers_pod(namespace_labels, src), port_ok
    )


def o_external(policies: Sequence[Mapping[str, Any]], pod: OPod) -> Intervals:
    """Every address the pod's egress allows, as intervals (pod peers allow no external address)."""
    everything = [(0, FULL)]

    def only(interval: tuple[int, int]) -> Covers:
        def covers(_: str, peer: Mapping[str, Any]) -> bool:
            return "ipBlock" in peer and not o_minus([interval], o_block(peer["ipBlock"]))

        return covers

    if o_allows(policies, pod, "Egress", lambda ns, peer: False):
        return everything
    blocks: Intervals = []
    for p in policies:
        if (p["metadata"].get("namespace") or "default") != pod.namespace or "Egress" not in o_types(p["spec"]):
            continue
        if pod.labels is not None and not o_matches(p["spec"].get("podSelector") or {}, pod.labels):
            continue
        for rule in p["spec"].get("egress") or []:
            for peer in rule.get("to") or []:
                if "ipBlock" in peer:
                    blocks += o_block(peer["ipBlock"])
    allowed = o_norm(blocks)
    # cross-check the union against the generic evaluator on each interval's first and last address
    for lo, hi in allowed:
        assert o_allows(policies, pod, "Egress", only((lo, lo))) and o_allows(policies, pod, "Egress", only((hi, hi)))
    return allowed


def o_port_ok(proto: str, port: int, named: Mapping[str, int]) -> PortOk:
    """Kubernetes port matching: no ports = all; protocol defaults to TCP; named ports resolve on the target."""

    def ok(rule: Mapping[str, Any]) -> bool:
        entries = rule.get("ports") or []
        if not entries:
            return True
        for entry in entries:
            if entry.get("protocol", "TCP") != proto:
                continue
            if "port" not in entry:
                return True
            value = entry["port"]
            if isinstance(value, str):
                if named.get(value) == port:
                    return True
            elif value <= port <= entry.get("endPort", value):
                return True
        return False

    return ok


# --- generators ------------------------------------------------------------------------------------------------

POD_KEYS, POD_VALUES = ["app", "tier"], ["x", "y"]
NS_KEYS, NS_VALUES = ["team", NAME_LABEL], ["red", "blue", *NAMESPACES]
BASES = [0x0A144000, 0x0A140000, 0x0A147F00, 0x08080800, 0xA9FEA9FE, 0x64646400, 0x00000000, 0xC0A80000]


def dotted(value: int) -> str:
    return ".".join(str((value >> shift) & 255) for shift in (24, 16, 8, 0))


def selectors(keys: list[str], values: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    expression = st.fixed_dictionaries(
        {"key": st.sampled_from(keys), "operator": st.sampled_from(["In", "NotIn", "Exists", "DoesNotExist"])},
        optional={"values": st.lists(st.sampled_from(values), min_size=1, max_size=2)},
    )
    return st.fixed_dictionaries(
        {},
        optional={
            "matchLabels": st.dictionaries(st.sampled_from(keys), st.sampled_from(values), max_size=2),
            "matchExpressions": st.lists(expression, max_size=2),
        },
    )


@st.composite
def cidr_text(draw: st.DrawFn, inside: tuple[int, int] | None = None) -> str:
    """CIDR text near a few interesting blocks; inside a block, or overlapping/around it (supernet)."""
    if inside is not None and draw(st.booleans()):
        lo, hi = inside
        prefix = draw(st.integers(max(0, 32 - (hi - lo + 1).bit_length() + 1), 32))
        return f"{dotted(draw(st.integers(lo, hi)))}/{prefix}"
    if draw(st.integers(0, 15)) == 0:
        return draw(st.sampled_from(["bogus", "fd00::/8", "10.0.0.0/33", "0.0.0.0/0"]))
    prefix = draw(st.sampled_from([8, 16, 17, 18, 19, 24, 28, 31, 32]))
    base = draw(st.sampled_from(BASES)) + draw(st.integers(0, 3)) * 2 ** (32 - prefix) * draw(st.integers(0, 1))
    return f"{dotted(base % 2**32)}/{prefix}"


@st.composite
def ip_blocks(draw: st.DrawFn) -> dict[str, Any]:
    cidr = draw(cidr_text())
    block: dict[str, Any] = {"cidr": cidr}
    whole = o_cidr(cidr)
    if draw(st.booleans()):
        block["except"] = draw(st.lists(cidr_text(whole), max_size=3))
    return block


def peers() -> st.SearchStrategy[dict[str, Any]]:
    pod_sel, ns_sel = selectors(POD_KEYS, POD_VALUES), selectors(NS_KEYS, NS_VALUES)
    return st.one_of(
        ip_blocks().map(lambda b: {"ipBlock": b}),
        pod_sel.map(lambda s: {"podSelector": s}),
        ns_sel.map(lambda s: {"namespaceSelector": s}),
        st.tuples(ns_sel, pod_sel).map(lambda t: {"namespaceSelector": t[0], "podSelector": t[1]}),
    )


port_entries = st.one_of(
    st.fixed_dictionaries({}, optional={"protocol": st.sampled_from(["TCP", "UDP"])}),
    st.fixed_dictionaries({"port": st.sampled_from(["http", "dns", "metrics"])},
                          optional={"protocol": st.sampled_from(["TCP", "UDP"])}),
    st.tuples(st.sampled_from([53, 80, 443]), st.sampled_from([None, 0, 1, 2]), st.sampled_from([None, "TCP", "UDP"]))
    .map(lambda t: {"port": t[0], **({"endPort": t[0] + t[1]} if t[1] is not None else {}),
                    **({"protocol": t[2]} if t[2] else {})}),
)


def rules(peer_key: str) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {}, optional={peer_key: st.lists(peers(), max_size=3), "ports": st.lists(port_entries, max_size=2)}
    )


policies = st.builds(
    lambda ns, name, sel, types, ingress, egress: {
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "podSelector": sel,
            **({"policyTypes": types} if types is not None else {}),
            **({"ingress": ingress} if ingress is not None else {}),
            **({"egress": egress} if egress is not None else {}),
        },
    },
    st.sampled_from(NAMESPACES),
    st.sampled_from(["p", "q"]),
    selectors(POD_KEYS, POD_VALUES),
    st.sampled_from([None, [], ["Ingress"], ["Egress"], ["Ingress", "Egress"], ["Egress", "Ingress"]]),
    st.none() | st.lists(rules("from"), max_size=3),
    st.none() | st.lists(rules("to"), max_size=3),
)
namespace_labels = st.fixed_dictionaries(
    {}, optional={ns: st.dictionaries(st.just("team"), st.sampled_from(["red", "blue"])) for ns in NAMESPACES}
)
pod_labels = st.dictionaries(st.sampled_from(POD_KEYS), st.sampled_from(POD_VALUES))
concrete_pods = st.lists(st.builds(OPod, st.sampled_from(NAMESPACES), pod_labels), max_size=4)
NAMED = {"http": 8080, "dns": 53}
PORTS = [("TCP", 53), ("UDP", 53), ("TCP", 54), ("TCP", 80), ("TCP", 81), ("TCP", 82), ("TCP", 443), ("TCP", 8080)]


def product_network(labels: Mapping[str, Mapping[str, str]], manifests: list[dict[str, Any]]) -> Network:
    return Network({k: dict(v) for k, v in labels.items()}, [parse_policy(m) for m in manifests], POD_CIDR)


def as_pod(pod: OPod) -> Pod:
    return Pod(pod.namespace, pod.labels, "p")


# --- property tests --------------------------------------------------------------------------------------------


@given(st.lists(policies, max_size=4), namespace_labels, concrete_pods)
@PROPS
def test_pod_to_pod_reachability_agrees_with_the_oracle(
    manifests: list[dict[str, Any]], labels: dict[str, dict[str, str]], concrete: list[OPod]
) -> None:
    net = product_network(labels, manifests)
    pods = [OPod(ns, None) for ns in NAMESPACES] + concrete
    for src in pods:
        for dst in pods:
            expected = o_can_reach(manifests, labels, src, dst)
            assert net.can_reach(as_pod(src), as_pod(dst)) is expected, (src, dst)
            if src.labels is None or dst.labels is None:
                continue
            for proto, port in PORTS:  # port-aware Kubernetes answer: the product may only over-approximate it
                if o_can_reach(manifests, labels, src, dst, o_port_ok(proto, port, NAMED)):
                    assert expected, (src, dst, proto, port)


@given(st.lists(policies, max_size=4), concrete_pods)
@PROPS
def test_isolation_and_external_addresses_agree_with_the_oracle(
    manifests: list[dict[str, Any]], concrete: list[OPod]
) -> None:
    net = product_network({}, manifests)
    for pod in [OPod(ns, None) for ns in NAMESPACES] + concrete:
        for direction in ("Ingress", "Egress"):
            expected = not o_allows(manifests, pod, direction, lambda ns, peer: False) or any(
                (p["metadata"]["namespace"] == pod.namespace and direction in o_types(p["spec"])
                 and (o_empty(p["spec"].get("podSelector")) if pod.labels is None
                      else o_matches(p["spec"].get("podSelector") or {}, pod.labels)))
                for p in manifests
            )
            assert net.isolated(as_pod(pod), direction) is expected, (pod, direction)
        reach = net.egress(as_pod(pod))
        assert intervals_of(reach.external) == o_external(manifests, pod), pod


@given(st.lists(policies, max_size=4), namespace_labels)
@PROPS
def test_analyse_reports_exactly_the_oracles_breaches(
    manifests: list[dict[str, Any]], labels: dict[str, dict[str, str]]
) -> None:
    namespaces = [{"kind": "Namespace", "metadata": {"name": ns, "labels": labels.get(ns, {})}} for ns in NAMESPACES]
    report = analyse([*namespaces, *manifests], COUNTRY, POD_CIDR)
    expected_count = 0
    country = intervals_of(COUNTRY)
    for ns in NAMESPACES:
        name = f"any pod in {ns}"
        allowed = o_external(manifests, OPod(ns, None))
        outside = o_minus(allowed, country)
        found = [f for f in report.failures if f.startswith(f"{name} can reach addresses outside the country: ")]
        assert len(found) == (1 if outside else 0), (ns, report.failures)
        if outside:
            expected_count += 1
            listed = found[0].split(": ", 1)[1]
            nets = [IPv4Network(t) for t in listed.removesuffix(" …").split(", ")]
            if listed.endswith(" …"):
                assert len(nets) == 4
                assert all(not o_minus(intervals_of([n]), outside) for n in nets)
            else:
                assert intervals_of(nets) == outside
        metadata = [m for m in METADATA if not o_minus([(int(IPv4Address(m)),) * 2], allowed)]
        if metadata:
            expected_count += 1
            assert f"{name} can reach cloud metadata {', '.join(m + '/32' for m in metadata)}" in report.failures
    for src in NAMESPACES[:2]:
        for dst in NAMESPACES:
            what = "another tenant" if dst.startswith("tenant-") else "a system namespace"
            message = f"tenant namespace {src} can reach {what}: {dst}"
            reaches = dst != src and o_can_reach(manifests, labels, OPod(src, None), OPod(dst, None))
            assert (message in report.failures) is reaches, message
            expected_count += reaches
    assert len(report.failures) == expected_count, report.failures


@given(
    st.lists(st.tuples(st.integers(0, FULL), st.integers(0, 32)), min_size=1, max_size=4),
    st.lists(st.tuples(st.integers(0, FULL), st.integers(0, 32)), max_size=4),
)
@PROPS
def test_subtract_agrees_with_interval_arithmetic(keep: list[tuple[int, int]], cut: list[tuple[int, int]]) -> None:
    nets = [IPv4Network((a, b), strict=False) for a, b in keep]
    minus = [IPv4Network((a, b), strict=False) for a, b in cut]
    assert intervals_of(subtract(nets, minus)) == o_minus(intervals_of(nets), intervals_of(minus))


# --- explicit cases: boundaries, every element, exact texts ----------------------------------------------------


def netpol(namespace: str, name: str, **spec: Any) -> dict[str, Any]:
    return {"kind": "NetworkPolicy", "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def egress_to(*peers: dict[str, Any], ns: str = "a", name: str = "p", **rule: Any) -> dict[str, Any]:
    return netpol(ns, name, podSelector={}, policyTypes=["Egress"], egress=[{"to": list(peers), **rule}])


def external(*manifests: dict[str, Any], labels: Mapping[str, str] | None = None) -> list[IPv4Network]:
    return Network({}, [parse_policy(m) for m in manifests], POD_CIDR).egress(Pod("a", labels, "x")).external


def allowed(nets: list[IPv4Network], address: str) -> bool:
    return any(IPv4Address(address) in n for n in nets)


def test_ip_block_edges_first_last_and_one_outside() -> None:
    nets = external(egress_to({"ipBlock": {"cidr": "192.168.4.0/23"}}))
    assert nets == [IPv4Network("192.168.4.0/23")]
    assert allowed(nets, "192.168.4.0") and allowed(nets, "192.168.5.255")
    assert not allowed(nets, "192.168.3.255") and not allowed(nets, "192.168.6.0")


def test_ip_block_host_bits_are_ignored() -> None:
    assert external(egress_to({"ipBlock": {"cidr": "192.168.4.77/23", "except": ["192.168.5.1/24"]}})) == [
        IPv4Network("192.168.4.0/24")
    ]


def test_except_edges_and_every_except_not_only_the_first() -> None:
    block = {"cidr": "10.1.0.0/24", "except": ["10.1.0.0/30", "10.1.0.252/30"]}
    nets = external(egress_to({"ipBlock": block}))
    assert not allowed(nets, "10.1.0.0") and not allowed(nets, "10.1.0.3")
    assert allowed(nets, "10.1.0.4") and allowed(nets, "10.1.0.251")
    assert not allowed(nets, "10.1.0.252") and not allowed(nets, "10.1.0.255")
    assert intervals_of(nets) == [(int(IPv4Address("10.1.0.4")), int(IPv4Address("10.1.0.251")))]


def test_invalid_excepts_are_skipped_and_later_ones_still_apply() -> None:
    block = {"cidr": "10.1.0.0/24", "except": ["bogus", "fd00::/64", "10.1.0.128/25"]}
    assert external(egress_to({"ipBlock": block})) == [IPv4Network("10.1.0.0/25")]


def test_except_partly_outside_or_a_supernet() -> None:
    partial = {"cidr": "10.1.0.0/24", "except": ["10.1.0.128/23"]}  # host bits: 10.1.0.0/23, the whole block
    assert external(egress_to({"ipBlock": partial})) == []
    outside = {"cidr": "10.1.0.0/24", "except": ["10.1.1.0/24"]}
    assert external(egress_to({"ipBlock": outside})) == [IPv4Network("10.1.0.0/24")]
    supernet = {"cidr": "10.1.0.0/24", "except": ["10.0.0.0/8"]}
    assert external(egress_to({"ipBlock": supernet})) == []


@pytest.mark.parametrize("cidr", ["bogus", "fd00::/8", "10.0.0.0/33", None])
def test_invalid_or_ipv6_cidr_allows_nothing(cidr: str | None) -> None:
    assert external(egress_to({"ipBlock": {"cidr": cidr}})) == []
    peer = parse_policy(egress_to({"ipBlock": {"cidr": cidr}})).egress[0][0]
    assert peer.is_ip and peer.networks == () and peer.describe() == "nothing (any port)"


def test_second_peer_second_rule_and_second_policy_count() -> None:
    first = {"ipBlock": {"cidr": "1.1.1.0/24"}}
    second = {"ipBlock": {"cidr": "2.2.2.0/24"}}
    assert external(egress_to(first, second)) == [IPv4Network("1.1.1.0/24"), IPv4Network("2.2.2.0/24")]
    two_rules = netpol("a", "p", podSelector={}, policyTypes=["Egress"], egress=[{"to": [first]}, {"to": [second]}])
    assert external(two_rules) == [IPv4Network("1.1.1.0/24"), IPv4Network("2.2.2.0/24")]
    assert external(egress_to(first, name="p1"), egress_to(second, name="p2")) == [
        IPv4Network("1.1.1.0/24"),
        IPv4Network("2.2.2.0/24"),
    ]


def test_adjacent_blocks_collapse() -> None:
    nets = external(egress_to({"ipBlock": {"cidr": "10.0.0.0/25"}}, {"ipBlock": {"cidr": "10.0.0.128/25"}}))
    assert nets == [IPv4Network("10.0.0.0/24")]


def test_a_rule_without_peers_anywhere_in_the_list_allows_everything() -> None:
    policy = netpol("a", "p", podSelector={}, policyTypes=["Egress"],
                    egress=[{"to": [{"ipBlock": {"cidr": "1.1.1.1/32"}}]}, {"to": []}])
    assert external(policy) == [EVERYWHERE]
    assert external(netpol("a", "p", podSelector={}, policyTypes=["Egress"], egress=[None])) == [EVERYWHERE]


def test_unisolated_pod_reaches_everywhere_even_with_policies_elsewhere() -> None:
    other_ns = egress_to({"ipBlock": {"cidr": "1.1.1.1/32"}}, ns="b")
    assert external(other_ns) == [EVERYWHERE]
    only_ingress = netpol("a", "p", podSelector={}, policyTypes=["Ingress"])
    assert external(only_ingress) == [EVERYWHERE]
    other_pods = netpol("a", "p", podSelector={"matchLabels": {"app": "db"}}, policyTypes=["Egress"])
    assert external(other_pods, labels={"app": "web"}) == [EVERYWHERE]
    assert external(other_pods, labels={"app": "db"}) == []


def test_pod_peers_allow_no_external_address() -> None:
    assert external(egress_to({"podSelector": {}}, {"namespaceSelector": {}})) == []


def test_ip_block_touching_the_pod_network_edges_reaches_pods() -> None:
    def reaches(cidr: str, *excepts: str) -> bool:
        policy = egress_to({"ipBlock": {"cidr": cidr, "except": list(excepts)}})
        net = Network({}, [parse_policy(policy)], POD_CIDR)
        return net.can_reach(Pod("a", None, "a"), Pod("b", {"app": "x"}, "b"))

    assert reaches("10.20.64.0/32") and reaches("10.20.127.255/32")  # first and last pod address
    assert not reaches("10.20.63.255/32") and not reaches("10.20.128.0/32")  # one outside each end
    assert reaches("10.20.0.0/16")  # supernet
    assert reaches("10.20.96.0/19")  # subnet
    assert not reaches("10.20.0.0/16", "10.20.64.0/18")  # supernet with the pod network excepted
    assert reaches("10.20.0.0/16", "10.20.64.0/19")  # partly excepted


def test_describe_texts() -> None:
    assert Peer("a", anything=True, ports="tcp/443").describe() == "anywhere (tcp/443)"
    ip = Peer("a", networks=(IPv4Network("1.1.1.0/24"), IPv4Network("2.2.2.2/32")), is_ip=True)
    assert ip.describe() == "1.1.1.0/24, 2.2.2.2/32 (any port)"
    assert Peer("a", is_ip=True).describe() == "nothing (any port)"
    assert Peer("a").describe() == "namespace a, all pods (any port)"
    assert Peer("a", {}, {}).describe() == "every namespace, all pods (any port)"
    sel = {"matchLabels": {"team": "red", "env": "prod"},
           "matchExpressions": [{"key": "tier", "operator": "In", "values": ["x", "y"]},
                                {"key": "gpu", "operator": "Exists"}]}
    assert Peer("a", sel, sel, ports="udp/53").describe() == (
        "namespaces env=prod,team=red,tier In ['x', 'y'],gpu Exists, "
        "pods env=prod,team=red,tier In ['x', 'y'],gpu Exists (udp/53)"
    )
    assert Peer("a", {"matchLabels": {"team": "red"}}, None).describe() == "namespaces team=red, all pods (any port)"
    assert Peer("a", None, {"matchExpressions": [{"key": "k", "operator": "DoesNotExist", "values": []}]}).describe() \
        == "namespace a, pods k DoesNotExist (any port)"


def test_parsed_peers_and_ports_texts() -> None:
    policy = parse_policy(netpol(
        "a", "p", podSelector={}, policyTypes=["Ingress", "Egress"],
        ingress=[{"from": [{"podSelector": {"matchLabels": {"app": "x"}}}],
                  "ports": [{"port": 80}, {"protocol": "UDP", "port": "dns"}, {"protocol": "SCTP"}]}],
        egress=[{"ports": [{"port": 443, "protocol": "TCP"}]},
                {"to": [{"ipBlock": {"cidr": "1.1.1.0/24"}}, {"namespaceSelector": {}}],
                 "ports": [{"port": 53, "protocol": "UDP"}]}],
    ))
    assert [p.describe() for rule in policy.ingress for p in rule] == [
        "namespace a, pods app=x (tcp/80 udp/dns sctp/*)"
    ]
    assert [p.describe() for rule in policy.egress for p in rule] == [
        "anywhere (tcp/443)",
        "1.1.1.0/24 (udp/53)",
        "every namespace, all pods (udp/53)",
    ]
    assert policy.egress == (
        (Peer("a", ports="tcp/443", anything=True),),
        (Peer("a", networks=(IPv4Network("1.1.1.0/24"),), is_ip=True, ports="udp/53"), Peer("a", {}, None,
                                                                                            ports="udp/53")),
    )
    assert policy.ingress[0][0].pod_selector == {"matchLabels": {"app": "x"}}
    assert policy.ingress[0][0].namespace_selector is None
    assert policy.egress[1][1].namespace_selector == {}


def test_port_ranges_are_shown_whole() -> None:
    def shown(*ports: dict[str, Any]) -> str:
        policy = parse_policy(netpol("a", "p", policyTypes=["Egress"], egress=[{"ports": list(ports)}]))
        return policy.egress[0][0].describe()

    assert shown({"port": 8000, "endPort": 8000}) == "anywhere (tcp/8000-8000)"  # port == endPort
    assert shown({"port": 8000, "endPort": 8001}) == "anywhere (tcp/8000-8001)"  # endPort one above
    assert shown({"port": 53, "protocol": "UDP"}, {"port": 8000, "endPort": 8100}) == "anywhere (udp/53 tcp/8000-8100)"


def test_parse_policy_defaults() -> None:
    policy = parse_policy({"kind": "NetworkPolicy", "metadata": {"name": "n"}, "spec": {}})
    assert (policy.namespace, policy.name, policy.pod_selector) == ("default", "n", {})
    assert policy.types == frozenset({"Ingress"})
    assert policy.ingress == () and policy.egress == ()
    bare = parse_policy({"kind": "NetworkPolicy"})
    assert (bare.namespace, bare.name, bare.types) == ("default", "None", frozenset({"Ingress"}))
    assert parse_policy(netpol("a", "p", policyTypes=[], egress=[])).types == {"Ingress"}
    assert parse_policy(netpol("a", "p", policyTypes=["Egress"], ingress=[{}])).types == {"Egress"}
    assert parse_policy(netpol("a", "p", egress=[{}])).types == {"Ingress", "Egress"}
    peer = parse_policy(netpol("b", "p", ingress=[{"from": [{"podSelector": {}}]}])).ingress[0][0]
    assert peer.policy_namespace == "b" and not peer.is_ip and not peer.anything


def test_reach_external_for_isolated_pod_with_only_pod_peers_and_unisolated() -> None:
    pod = Pod("a", None, "x")
    assert Reach(pod, isolated=False).external == [EVERYWHERE]
    assert Reach(pod, isolated=True, peers=[Peer("a")]).external == []
    assert Reach(pod, True, [Peer("a", networks=(IPv4Network("1.0.0.0/8"),), is_ip=True), Peer("a", anything=True)]
                 ).external == [EVERYWHERE]


def test_worst_case_pod_is_isolated_only_by_an_empty_selector() -> None:
    labelled = netpol("a", "p", podSelector={"matchExpressions": [{"key": "app", "operator": "Exists"}]},
                      policyTypes=["Egress"])
    net = Network({}, [parse_policy(labelled)], POD_CIDR)
    assert not net.isolated(Pod("a", None, "a"), "Egress")
    assert net.isolated(Pod("a", {"app": ""}, "a"), "Egress")
    assert not net.isolated(Pod("a", {}, "a"), "Egress")
    net = Network({}, [parse_policy(labelled), parse_policy(netpol("a", "q", podSelector={}, policyTypes=["Egress"]))],
                  POD_CIDR)
    assert net.isolated(Pod("a", None, "a"), "Egress")
    assert not net.isolated(Pod("a", None, "a"), "Ingress")


def test_empty_selector_text() -> None:
    assert _show({}) == "{}" and _show(None) == "{}"


@pytest.mark.parametrize(
    ("selector", "covered"),
    [
        ({"matchLabels": {NAME_LABEL: "b"}}, True),
        ({"matchLabels": {NAME_LABEL: "a"}}, False),
        ({"matchLabels": {"team": "red"}}, True),
        ({"matchLabels": {"team": "blue"}}, False),
        ({"matchExpressions": [{"key": "team", "operator": "Exists"}]}, True),
        ({"matchExpressions": [{"key": NAME_LABEL, "operator": "In", "values": ["c", "b"]}]}, True),
        ({}, True),
    ],
)
def test_namespace_selector_sees_the_target_namespaces_labels(selector: dict[str, Any], covered: bool) -> None:
    net = Network({"a": {"team": "blue"}, "b": {"team": "red"}}, [], POD_CIDR)
    peer = Peer("a", selector, None)
    assert net.peer_covers(peer, Pod("b", {"app": "x"}, "x")) is covered
    assert net.peer_covers(peer, Pod("b", None, "x")) is covered


def test_pod_peer_covers_its_own_namespace_and_matching_pods_only() -> None:
    net = Network({}, [], POD_CIDR)
    own = Peer("a", None, {"matchLabels": {"app": "x"}})
    assert net.peer_covers(own, Pod("a", {"app": "x", "tier": "y"}, "t")) is True
    assert net.peer_covers(own, Pod("a", {"app": "y"}, "t")) is False
    assert net.peer_covers(own, Pod("b", {"app": "x"}, "t")) is False
    assert net.peer_covers(own, Pod("a", None, "t")) is True
    assert net.peer_covers(own, Pod("b", None, "t")) is False
    anywhere = Peer("a", {}, {"matchLabels": {"app": "x"}})
    assert net.peer_covers(anywhere, Pod("b", {"app": "x"}, "t")) is True
    assert net.peer_covers(anywhere, Pod("b", {}, "t")) is False
    assert net.peer_covers(Peer("a", {}, None), Pod("b", {}, "t")) is True
    assert net.peer_covers(Peer("a", anything=True), Pod("b", {"app": "y"}, "t")) is True
    assert net.peer_covers(Peer("a", is_ip=True), Pod("a", {}, "t")) is False


def test_subtract_keeps_inputs_after_one_removed_whole() -> None:
    first, second = IPv4Network("10.0.0.0/24"), IPv4Network("10.1.0.0/24")
    assert subtract([first, second], [IPv4Network("10.0.0.0/16")]) == [second]
    assert subtract([second, first], [IPv4Network("10.0.0.0/24")]) == [second]
    assert subtract([first], [IPv4Network("10.0.0.128/25")]) == [IPv4Network("10.0.0.0/25")]
    assert subtract([first], []) == [first]


def test_namespace_name_label_is_added_and_wins() -> None:
    net = Network({"a": {"team": "red", NAME_LABEL: "spoofed"}}, [], POD_CIDR)
    assert net.labels_of("a") == {"team": "red", NAME_LABEL: "a"}
    assert net.labels_of("unknown") == {NAME_LABEL: "unknown"}


def ns_manifest(name: str, **labels: str) -> dict[str, Any]:
    return {"kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def deny(namespace: str) -> dict[str, Any]:
    return netpol(namespace, "deny", podSelector={}, policyTypes=["Ingress", "Egress"])


def test_analyse_exact_failures_in_order() -> None:
    workload = {"kind": "Deployment", "metadata": {"name": "w", "namespace": "tenant-a"},
                "spec": {"template": {"metadata": {"labels": {"app": "w"}}, "spec": {}}}}
    cron = {"kind": "CronJob", "metadata": {"name": "c"},
            "spec": {"jobTemplate": {"spec": {"template": {"metadata": {"labels": {"app": "c"}}, "spec": {}}}}}}
    web = egress_to({"ipBlock": {"cidr": "169.254.169.254/32"}}, ns="tenant-a", name="w")
    web["spec"]["podSelector"] = {"matchLabels": {"app": "w"}}
    report = analyse(
        [ns_manifest("tenant-b"), ns_manifest("tenant-a"), ns_manifest("monitoring"), ns_manifest("kube-system"),
         deny("tenant-a"), deny("kube-system"), web, workload, cron, {"kind": "ConfigMap", "metadata": {"name": "cm"}}],
        COUNTRY, POD_CIDR,
    )
    assert [r.pod.name for r in report.reaches] == [
        "any pod in kube-system", "any pod in monitoring", "any pod in tenant-a", "any pod in tenant-b", "CronJob c",
        "Deployment w",
    ]
    assert [r.pod.namespace for r in report.reaches][-2:] == ["default", "tenant-a"]
    assert [r.pod.labels for r in report.reaches] == [None, None, None, None, {"app": "c"}, {"app": "w"}]
    world = "0.0.0.0/5, 8.0.0.0/7, 10.0.0.0/12, 10.16.0.0/14 …"
    metadata = "169.254.169.254/32, 169.254.170.2/32, 100.100.100.200/32"
    assert report.failures == [
        f"any pod in monitoring can reach addresses outside the country: {world}",
        f"any pod in monitoring can reach cloud metadata {metadata}",
        "any pod in tenant-a can reach addresses outside the country: 169.254.169.254/32",
        "any pod in tenant-a can reach cloud metadata 169.254.169.254/32",
        f"any pod in tenant-b can reach addresses outside the country: {world}",
        f"any pod in tenant-b can reach cloud metadata {metadata}",
        f"CronJob c can reach addresses outside the country: {world}",
        f"CronJob c can reach cloud metadata {metadata}",
        "Deployment w can reach addresses outside the country: 169.254.169.254/32",
        "Deployment w can reach cloud metadata 169.254.169.254/32",
        "tenant namespace tenant-b can reach a system namespace: monitoring",
    ]


def test_analyse_lists_four_networks_whole_and_cuts_five() -> None:
    def failure(*hosts: str) -> list[str]:
        policy = egress_to(*({"ipBlock": {"cidr": f"{h}/32"}} for h in hosts), ns="tenant-a")
        return analyse([ns_manifest("tenant-a"), deny("tenant-a"), policy], COUNTRY, POD_CIDR).failures

    assert failure("1.0.0.1", "3.0.0.1", "5.0.0.1", "7.0.0.1") == [
        "any pod in tenant-a can reach addresses outside the country: 1.0.0.1/32, 3.0.0.1/32, 5.0.0.1/32, 7.0.0.1/32"
    ]
    assert failure("1.0.0.1", "3.0.0.1", "5.0.0.1", "7.0.0.1", "9.0.0.1") == [
        "any pod in tenant-a can reach addresses outside the country: 1.0.0.1/32, 3.0.0.1/32, 5.0.0.1/32, 7.0.0.1/32 …"
    ]
    assert failure("10.20.0.1", "100.64.0.1") == []  # inside the first and the second country range


def test_analyse_reads_namespace_labels() -> None:
    allow_red = netpol("tenant-b", "in", podSelector={}, policyTypes=["Ingress"],
                       ingress=[{"from": [{"namespaceSelector": {"matchLabels": {"team": "red"}}}]}])
    base = [deny("tenant-a"), deny("tenant-b"), allow_red,
            egress_to({"namespaceSelector": {}}, ns="tenant-a", name="out"),
            egress_to({"ipBlock": {"cidr": "10.20.1.0/24"}}, ns="tenant-b", name="out")]
    red = analyse([ns_manifest("tenant-a", team="red"), ns_manifest("tenant-b"), *base], COUNTRY, POD_CIDR)
    assert red.failures == ["tenant namespace tenant-a can reach another tenant: tenant-b"]
    blue = analyse([ns_manifest("tenant-a", team="blue"), ns_manifest("tenant-b"), *base], COUNTRY, POD_CIDR)
    assert blue.failures == []
