"""The egress residency rule against an independent oracle, over generated NetworkPolicies (issue 15).

Every rule and every peer is judged, not only the first: rules with and without `to`, in-cluster peers,
ipBlocks inside, partly inside, around (supernets of) and outside the country's ranges, with and without
`except`s that cover the cloud metadata addresses. The oracle works on integer address intervals; the
metadata addresses are written out here rather than imported from the code under test.
"""

from __future__ import annotations

import contextlib
from ipaddress import IPv4Network
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sitekit.policy import Resource
from sitekit.policy.residency import check_egress
from sitekit.spec import load_fleet

ROOT = Path(__file__).resolve().parents[2]
EE = load_fleet(ROOT / "sites").site("ee")
METADATA = ["169.254.169.254/32", "169.254.170.2/32", "100.100.100.200/32"]
PROPS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def span(cidr: str) -> tuple[int, int]:
    net = IPv4Network(cidr, strict=False)
    return int(net.network_address), int(net.network_address) + 2 ** (32 - net.prefixlen) - 1


def inside(inner: str, outer: str) -> bool:
    (ilo, ihi), (olo, ohi) = span(inner), span(outer)
    return olo <= ilo and ihi <= ohi


@st.composite
def cidrs(draw: st.DrawFn) -> str:
    """A CIDR near the country's ranges or the metadata addresses, sometimes with host bits set."""
    base = draw(st.sampled_from(
        ["10.20.0.0", "10.20.5.7", "10.21.0.0", "172.20.0.1", "169.254.169.254", "169.254.170.2",
         "100.100.100.200", "0.0.0.0", "10.0.0.0", "52.95.0.0"]
    ))
    return f"{base}/{draw(st.integers(0, 32))}"


peers = st.one_of(
    st.just({"namespaceSelector": {}}),
    st.just({"podSelector": {"matchLabels": {"a": "b"}}}),
    st.builds(lambda c, ex: {"ipBlock": {"cidr": c, **({"except": ex} if ex else {})}},
              cidrs(), st.lists(cidrs() | st.sampled_from(["nope", "fd00::/8"]), max_size=2)),
    st.sampled_from([{"ipBlock": {"cidr": "fd00::/8"}}, {"ipBlock": {"cidr": "not-a-cidr"}}, {"ipBlock": {}}]),
)
rules = st.one_of(
    st.builds(lambda p: {"to": p, "ports": [{"port": 443}]}, st.lists(peers, min_size=1, max_size=4)),
    st.just({"ports": [{"port": 53}]}),
    st.just({"to": []}),
)


def expected(rules: list[dict[str, Any]]) -> list[tuple[str, str]]:
    ranges = [str(r) for r in EE.residency.address_ranges]
    out: list[tuple[str, str]] = []
    for i, rule in enumerate(rules):
        if not rule.get("to"):
            out.append((f"egress[{i}]", "no to"))
            continue
        for j, peer in enumerate(rule["to"]):
            block = peer.get("ipBlock")
            if not block:
                continue
            where = f"egress[{i}].to[{j}]"
            cidr = str(block.get("cidr"))
            try:
                IPv4Network(cidr, strict=False)
            except ValueError:
                out.append((where, "not ipv4"))
                continue
            if not any(inside(cidr, r) for r in ranges):
                out.append((where, "outside"))
            excepts = []
            for ex in block.get("except", []):
                with contextlib.suppress(ValueError):
                    excepts.append(str(IPv4Network(ex, strict=False)))
            for meta in METADATA:
                if inside(meta, cidr) and not any(inside(meta, ex) for ex in excepts):
                    out.append((where, f"metadata {meta}"))
    return out


def kind(message: str) -> tuple[str, str]:
    where, _, text = message.partition(": ") if "]: " in message else message.partition(" has ")
    if "has no `to`" in message:
        return message.split(" ", 1)[0], "no to"
    if "is not an IPv4 network in the country" in text:
        return where, "not ipv4"
    if "is outside the country's address ranges" in text:
        return where, "outside"
    if "includes the metadata address" in text:
        return where, "metadata " + text.split("metadata address ")[1].split(" ")[0]
    raise AssertionError(f"unexpected message {message!r}")


def netpol(egress: list[dict[str, Any]]) -> Resource:
    props = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "np"},
             "spec": {"podSelector": {}, "policyTypes": ["Egress"], "egress": egress}}
    return Resource("kubernetes:networking.k8s.io/v1:NetworkPolicy", "np", "urn:np", props)


@PROPS
@given(egress=st.lists(rules, min_size=1, max_size=4))
def test_every_rule_and_peer_is_judged_like_the_oracle(egress: list[dict[str, Any]]) -> None:
    assert [kind(m) for m in check_egress(EE, netpol(egress))] == expected(egress)


def test_egress_messages_in_full() -> None:
    ranges = ", ".join(map(str, EE.residency.address_ranges))
    egress = [
        {"to": [{"namespaceSelector": {}}, {"ipBlock": {"cidr": "10.20.0.0/8"}}]},
        {"ports": [{"port": 53}]},
        {"to": [{"ipBlock": {"cidr": "fd00::/8"}}, {"ipBlock": {"cidr": "169.254.0.0/16", "except": ["bad"]}}]},
    ]
    assert list(check_egress(EE, netpol(egress))) == [
        f"egress[0].to[1]: ipBlock 10.0.0.0/8 is outside the country's address ranges ({ranges})",
        "egress[1] has no `to`: it allows every destination, including outside the country",
        "egress[2].to[0]: ipBlock 'fd00::/8' is not an IPv4 network in the country",
        f"egress[2].to[1]: ipBlock 169.254.0.0/16 is outside the country's address ranges ({ranges})",
        "egress[2].to[1]: ipBlock 169.254.0.0/16 includes the metadata address 169.254.169.254/32 without an except",
        "egress[2].to[1]: ipBlock 169.254.0.0/16 includes the metadata address 169.254.170.2/32 without an except",
    ]


def test_only_network_policies_are_judged() -> None:
    other = Resource("kubernetes:core/v1:ConfigMap", "c", "urn:c",
                     {"kind": "ConfigMap", "spec": {"egress": [{"ports": []}]}})
    assert list(check_egress(EE, other)) == []
