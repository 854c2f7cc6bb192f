"""The NetworkPolicy semantics the reachability analysis relies on, one rule per test."""

from __future__ import annotations

from ipaddress import IPv4Network, collapse_addresses
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sitekit.plan.reachability import EVERYWHERE, Network, Pod, analyse, parse_policy, subtract
from sitekit.plan.selectors import selector_matches

RANGES = [IPv4Network("10.20.0.0/16")]
POD_CIDR = IPv4Network("10.20.64.0/18")


def ns(name: str, **labels: str) -> dict[str, Any]:
    return {"kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def netpol(namespace: str, name: str, **spec: Any) -> dict[str, Any]:
    return {"kind": "NetworkPolicy", "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def deny(namespace: str) -> dict[str, Any]:
    return netpol(namespace, "deny", podSelector={}, policyTypes=["Ingress", "Egress"])


def network(*manifests: dict[str, Any]) -> Network:
    namespaces = {m["metadata"]["name"]: m["metadata"].get("labels", {}) for m in manifests if m["kind"] == "Namespace"}
    return Network(namespaces, [parse_policy(m) for m in manifests if m["kind"] == "NetworkPolicy"], POD_CIDR)


def any_pod(namespace: str) -> Pod:
    return Pod(namespace, None, namespace)


def test_selector_semantics() -> None:
    assert selector_matches({}, {"a": "b"}) and selector_matches(None, {})
    assert selector_matches({"matchLabels": {"a": "b"}}, {"a": "b", "c": "d"})
    assert not selector_matches({"matchLabels": {"a": "b"}}, {"a": "c"})
    exprs = {
        "matchExpressions": [
            {"key": "t", "operator": "In", "values": ["x", "y"]},
            {"key": "z", "operator": "DoesNotExist"},
        ]
    }
    assert selector_matches(exprs, {"t": "x"}) and not selector_matches(exprs, {"t": "x", "z": "1"})
    assert selector_matches({"matchExpressions": [{"key": "t", "operator": "NotIn", "values": ["x"]}]}, {})
    assert not selector_matches({"matchExpressions": [{"key": "t", "operator": "Exists"}]}, {})


def test_no_policy_means_not_isolated() -> None:
    reach = network(ns("a")).egress(any_pod("a"))
    assert not reach.isolated and reach.external == [EVERYWHERE]


def test_default_deny_isolates_and_allows_nothing() -> None:
    net = network(ns("a"), ns("b"), deny("a"), deny("b"))
    reach = net.egress(any_pod("a"))
    assert reach.isolated and reach.external == [] and not net.can_reach(any_pod("a"), any_pod("b"))


def test_policy_types_default_to_ingress_only_without_egress_rules() -> None:
    only_ingress = parse_policy(netpol("a", "p", podSelector={}))
    assert only_ingress.types == {"Ingress"}
    both = parse_policy(netpol("a", "p", podSelector={}, egress=[{"to": [{"podSelector": {}}]}]))
    assert both.types == {"Ingress", "Egress"}


def test_non_empty_pod_selector_leaves_other_pods_unisolated_in_the_worst_case() -> None:
    net = network(ns("a"), netpol("a", "p", podSelector={"matchLabels": {"app": "x"}}, policyTypes=["Egress"]))
    assert not net.isolated(any_pod("a"), "Egress")
    assert net.isolated(Pod("a", {"app": "x"}, "x"), "Egress")
    assert not net.isolated(Pod("a", {"app": "y"}, "y"), "Egress")


def test_rule_without_to_allows_everything() -> None:
    net = network(
        ns("a"),
        deny("a"),
        netpol("a", "p", podSelector={}, policyTypes=["Egress"], egress=[{"ports": [{"port": 443}]}]),
    )
    assert net.egress(any_pod("a")).external == [EVERYWHERE]


def test_ip_block_except_is_subtracted() -> None:
    block = {"ipBlock": {"cidr": "10.20.0.0/24", "except": ["10.20.0.128/25"]}}
    net = network(
        ns("a"), deny("a"), netpol("a", "p", podSelector={}, policyTypes=["Egress"], egress=[{"to": [block]}])
    )
    assert net.egress(any_pod("a")).external == [IPv4Network("10.20.0.0/25")]
    assert subtract([IPv4Network("0.0.0.0/0")], RANGES)[0] == IPv4Network("0.0.0.0/5")


def test_pod_selector_alone_means_same_namespace() -> None:
    net = network(
        ns("a"),
        ns("b"),
        deny("a"),
        deny("b"),
        netpol("a", "out", podSelector={}, policyTypes=["Egress"], egress=[{"to": [{"podSelector": {}}]}]),
        netpol("a", "in", podSelector={}, policyTypes=["Ingress"], ingress=[{"from": [{"podSelector": {}}]}]),
        netpol("b", "in", podSelector={}, policyTypes=["Ingress"], ingress=[{"from": [{"namespaceSelector": {}}]}]),
    )
    assert net.can_reach(any_pod("a"), any_pod("a"))
    assert not net.can_reach(any_pod("a"), any_pod("b"))


def test_empty_namespace_selector_means_every_namespace_and_both_sides_must_allow() -> None:
    everywhere = {"to": [{"namespaceSelector": {}}]}
    net = network(
        ns("a"),
        ns("b"),
        deny("a"),
        deny("b"),
        netpol("a", "out", podSelector={}, policyTypes=["Egress"], egress=[everywhere]),
    )
    assert not net.can_reach(any_pod("a"), any_pod("b")), "b's ingress is still denied"
    net = network(
        ns("a"),
        ns("b"),
        deny("a"),
        deny("b"),
        netpol("a", "out", podSelector={}, policyTypes=["Egress"], egress=[everywhere]),
        netpol(
            "b",
            "in",
            podSelector={},
            policyTypes=["Ingress"],
            ingress=[{"from": [{"namespaceSelector": {"matchLabels": {"team": "a"}}}]}],
        ),
    )
    assert not net.can_reach(any_pod("a"), any_pod("b")), "a's namespace lacks the label"
    net.namespace_labels["a"] = {"team": "a"}
    assert net.can_reach(any_pod("a"), any_pod("b"))


def test_namespace_and_pod_selector_in_one_peer_are_anded() -> None:
    peer = {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
        "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
    }
    net = network(
        ns("a"), deny("a"), netpol("a", "dns", podSelector={}, policyTypes=["Egress"], egress=[{"to": [peer]}])
    )
    out = net.egress(any_pod("a"))
    assert any(net.peer_covers(p, Pod("kube-system", {"k8s-app": "kube-dns"}, "dns")) for p in out.peers)
    assert not any(net.peer_covers(p, Pod("kube-system", {"k8s-app": "etcd"}, "etcd")) for p in out.peers)
    assert not any(net.peer_covers(p, Pod("b", {"k8s-app": "kube-dns"}, "fake")) for p in out.peers)


def test_ip_block_over_the_pod_network_is_taken_to_reach_pods() -> None:
    net = network(
        ns("tenant-a"),
        ns("tenant-b"),
        deny("tenant-a"),
        netpol(
            "tenant-a",
            "p",
            podSelector={},
            policyTypes=["Egress"],
            egress=[{"to": [{"ipBlock": {"cidr": str(POD_CIDR)}}]}],
        ),
    )
    assert net.can_reach(any_pod("tenant-a"), any_pod("tenant-b"))


@pytest.mark.parametrize("cidr", ["8.8.8.8/32", "169.254.169.254/32"])
def test_analyse_fails_egress_outside_the_country(cidr: str) -> None:
    report = analyse(
        [
            ns("tenant-a"),
            deny("tenant-a"),
            netpol(
                "tenant-a", "p", podSelector={}, policyTypes=["Egress"], egress=[{"to": [{"ipBlock": {"cidr": cidr}}]}]
            ),
        ],
        RANGES,
        POD_CIDR,
    )
    assert any("outside the country" in f and cidr in f for f in report.failures)


def test_analyse_fails_tenant_to_tenant_and_unisolated_namespaces() -> None:
    report = analyse([ns("tenant-a"), ns("tenant-b"), deny("tenant-a")], RANGES, POD_CIDR)
    assert any(
        f.startswith("any pod in tenant-b can reach addresses outside the country: 0.0.0.0/5") for f in report.failures
    )
    assert (
        "any pod in tenant-b can reach cloud metadata 169.254.169.254/32, 169.254.170.2/32, 100.100.100.200/32"
        in report.failures
    )
    assert "tenant namespace tenant-b can reach another tenant: tenant-a" not in report.failures  # a denies ingress
    report = analyse([ns("tenant-a"), ns("tenant-b")], RANGES, POD_CIDR)
    assert "tenant namespace tenant-b can reach another tenant: tenant-a" in report.failures


def test_workload_labels_select_exactly() -> None:
    deployment = {
        "kind": "Deployment",
        "metadata": {"name": "w", "namespace": "a"},
        "spec": {"template": {"metadata": {"labels": {"app": "w"}}, "spec": {"containers": []}}},
    }
    report = analyse(
        [
            ns("a"),
            deny("a"),
            deployment,
            netpol(
                "a",
                "p",
                podSelector={"matchLabels": {"app": "other"}},
                policyTypes=["Egress"],
                egress=[{"to": [{"ipBlock": {"cidr": "9.9.9.9/32"}}]}],
            ),
        ],
        RANGES,
        POD_CIDR,
    )
    assert "any pod in a can reach addresses outside the country: 9.9.9.9/32" in report.failures
    assert not any(f.startswith("Deployment w") for f in report.failures)


@given(
    st.lists(st.tuples(st.integers(0, 2**32 - 1), st.integers(8, 32)), min_size=1, max_size=4),
    st.lists(st.tuples(st.integers(0, 2**32 - 1), st.integers(8, 32)), max_size=4),
)
@settings(max_examples=60, deadline=None)
def test_subtract_removes_exactly_the_excluded_addresses(
    keep: list[tuple[int, int]], minus: list[tuple[int, int]]
) -> None:
    nets = [IPv4Network((addr, bits), strict=False) for addr, bits in keep]
    cut = [IPv4Network((addr, bits), strict=False) for addr, bits in minus]
    rest = subtract(nets, cut)
    assert not any(r.overlaps(c) for r in rest for c in cut)
    size = sum(n.num_addresses for n in collapse_addresses(nets))
    removed = sum(n.num_addresses for n in collapse_addresses(subtract(nets, rest)))
    assert sum(r.num_addresses for r in rest) + removed == size
    # subtract collapses its result, so one block may span two adjacent inputs (0/8 and 1/8 give 0/7):
    # each block lies inside the inputs' collapsed union, not necessarily inside one input
    union = list(collapse_addresses(nets))
    assert all(any(r.subnet_of(n) for n in union) for r in rest)
