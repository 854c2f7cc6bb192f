"""Property-based tests of the spec's mathematical rules, each against an independent oracle (issue 15).

Networks are generated close together (one /8, prefixes /8 to /30) so that containment, partial overlap,
supernets, equal networks and adjacent ones all occur; the oracle compares integer address intervals, not
`ipaddress`'s `subnet_of`/`overlaps` that the product uses. Every element of a list is checked, not only the
first. Example counts are modest (the `sitekit-props` profile) so the file costs a few seconds.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sitekit.spec import load_fleet
from sitekit.spec.checks import _under, overlaps, residency
from sitekit.spec.loader import _fleet_issues
from sitekit.spec.merge import key_paths, merge, replaced_paths
from sitekit.spec.models import EgressDestination, Site

ROOT = Path(__file__).resolve().parents[2]
EE = load_fleet(ROOT / "sites").site("ee")

settings.register_profile(
    "sitekit-props", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
PROPS = settings.get_profile("sitekit-props")


@st.composite
def networks(draw: st.DrawFn) -> IPv4Network:
    """A network inside 10.0.0.0/8, biased towards a few nearby blocks so relations between them are common."""
    prefix = draw(st.integers(8, 30))
    base = draw(st.sampled_from([0x0A000000, 0x0A140000, 0x0A144000, 0x0A148000, 0x0A14FF00, 0x0AFFFFFC]))
    jitter = draw(st.integers(0, 3)) << (32 - prefix) if prefix > 9 else 0
    value = (base + jitter) & (0xFFFFFFFF << (32 - prefix)) & 0xFFFFFFFF
    if value >> 24 != 10:
        value = 0x0A000000
    return IPv4Network((value, prefix))


addresses = st.integers(0x0A000000, 0x0AFFFFFF).map(IPv4Address) | st.sampled_from(
    [IPv4Address("10.20.0.0"), IPv4Address("10.20.255.255"), IPv4Address("10.21.0.0"), IPv4Address("9.255.255.255")]
)


def span(net: IPv4Network) -> tuple[int, int]:
    return int(net.network_address), int(net.network_address) + 2 ** (32 - net.prefixlen) - 1


def contains(outer: IPv4Network, inner: IPv4Network | IPv4Address) -> bool:
    lo, hi = span(outer)
    if isinstance(inner, IPv4Address):
        return lo <= int(inner) <= hi
    ilo, ihi = span(inner)
    return lo <= ilo and ihi <= hi


def intersect(a: IPv4Network, b: IPv4Network) -> bool:
    (alo, ahi), (blo, bhi) = span(a), span(b)
    return max(alo, blo) <= min(ahi, bhi)


def with_(site: Site, **parts: dict[str, Any]) -> Site:
    """The site with some fields of its sections replaced (no re-validation: the checks are under test)."""
    update = {section: getattr(site, section).model_copy(update=fields) for section, fields in parts.items()}
    return site.model_copy(update=update)


@PROPS
@given(
    ranges=st.lists(networks(), min_size=1, max_size=3),
    cluster=st.lists(networks(), min_size=3, max_size=3),
    operators=st.lists(networks(), min_size=1, max_size=4),
    dns=st.lists(addresses, min_size=1, max_size=4),
)
def test_residency_flags_exactly_the_networks_and_addresses_outside(
    ranges: list[IPv4Network], cluster: list[IPv4Network], operators: list[IPv4Network], dns: list[IPv4Address]
) -> None:
    site = with_(
        EE,
        network={"node_cidr": cluster[0], "pod_cidr": cluster[1], "service_cidr": cluster[2]},
        residency={"address_ranges": tuple(ranges), "operator_networks": tuple(operators), "dns_servers": tuple(dns)},
    )
    flagged = [path for path, _ in residency(site)]
    named: list[tuple[str, IPv4Network | IPv4Address]] = [
        ("network.node_cidr", cluster[0]), ("network.pod_cidr", cluster[1]), ("network.service_cidr", cluster[2]),
    ]
    named += [(f"residency.operator_networks[{i}]", n) for i, n in enumerate(operators)]
    named += [(f"residency.dns_servers[{i}]", a) for i, a in enumerate(dns)]
    for path, value in named:
        outside = not any(contains(r, value) for r in ranges)
        assert (path in flagged) == outside, (path, value, ranges, flagged)


@PROPS
@given(dests=st.lists(networks(), min_size=1, max_size=4), ntp=st.lists(addresses, min_size=1, max_size=3))
def test_residency_checks_every_egress_destination_and_ntp_server(
    dests: list[IPv4Network], ntp: list[IPv4Address]
) -> None:
    ranges = EE.residency.address_ranges
    egress = tuple(EgressDestination(name=f"d{i}", cidr=n, ports=(443,)) for i, n in enumerate(dests))
    site = with_(EE, residency={"extra_egress": egress, "ntp_servers": tuple(ntp)})
    flagged = {path for path, _ in residency(site)}
    for i, n in enumerate(dests):
        assert (f"residency.extra_egress[{i}].cidr" in flagged) == (not any(contains(r, n) for r in ranges))
    for i, a in enumerate(ntp):
        assert (f"residency.ntp_servers[{i}]" in flagged) == (not any(contains(r, a) for r in ranges))


labels = st.sampled_from(["ee", "sovereign", "example", "xee", "e", "mirror", "ex"])
names = st.lists(labels, min_size=1, max_size=4).map(".".join)


@PROPS
@given(host=names, domains=st.lists(names, min_size=1, max_size=3), dot=st.booleans(), upper=st.booleans())
def test_a_host_is_under_a_domain_by_whole_labels(host: str, domains: list[str], dot: bool, upper: bool) -> None:
    written = (host.upper() if upper else host) + ("." if dot else "")
    want = any(host.split(".")[-len(d.split(".")) :] == d.split(".") for d in domains)
    assert _under(written, domains) == want


@PROPS
@given(ranges=st.lists(networks(), min_size=1, max_size=4), operators=st.lists(networks(), min_size=1, max_size=3),
       cluster=st.lists(networks(), min_size=3, max_size=3))
def test_overlaps_reports_every_overlapping_pair(
    ranges: list[IPv4Network], operators: list[IPv4Network], cluster: list[IPv4Network]
) -> None:
    site = with_(
        EE,
        network={"node_cidr": cluster[0], "pod_cidr": cluster[1], "service_cidr": cluster[2]},
        residency={"address_ranges": tuple(ranges), "operator_networks": tuple(operators)},
    )
    found = [path for path, _ in overlaps(site)]
    want = [f"residency.address_ranges[{j}]" for i in range(len(ranges)) for j in range(i + 1, len(ranges))
            if intersect(ranges[i], ranges[j])]
    nets = [("network.node_cidr", cluster[0]), ("network.pod_cidr", cluster[1]),
            ("network.service_cidr", cluster[2])]
    nets += [(f"residency.operator_networks[{i}]", n) for i, n in enumerate(operators)]
    want += [nets[j][0] for i in range(len(nets)) for j in range(i + 1, len(nets)) if intersect(nets[i][1], nets[j][1])]
    assert found == want


@st.composite
def fleets(draw: st.DrawFn) -> dict[str, list[IPv4Network]]:
    """Two to four countries, each with ranges that do not overlap each other (as the site check demands)."""
    out: dict[str, list[IPv4Network]] = {}
    for cc in ["aa", "bb", "cc", "dd"][: draw(st.integers(2, 4))]:
        own: list[IPv4Network] = []
        for net in draw(st.lists(networks(), min_size=1, max_size=3)):
            if not any(intersect(net, o) for o in own):
                own.append(net)
        out[cc] = own
    return out


@PROPS
@given(fleet=fleets())
def test_fleet_overlap_reports_every_range_another_country_already_claims(fleet: dict[str, list[IPv4Network]]) -> None:
    sites = {cc: with_(EE, residency={"address_ranges": tuple(nets)}) for cc, nets in fleet.items()}
    files = {cc: Path(f"/sites/{cc}.yaml") for cc in fleet}
    issues = _fleet_issues(sites, files)
    claims = sorted((span(n), cc, i, n) for cc, nets in fleet.items() for i, n in enumerate(nets))
    claimed_twice = [
        (cc, i, n)
        for k, ((lo, hi), cc, i, n) in enumerate(claims)
        if any(occ != cc and olo <= hi and lo <= ohi for (olo, ohi), occ, _, _ in claims[:k])
    ]
    # One issue for each range that another country already claims (in address order), naming that range
    # either as the field reported or as the range it overlaps; none for ranges no one else claims.
    assert len(issues) == len(claimed_twice), (issues, claimed_twice)
    for cc, i, net in claimed_twice:
        path = f"residency.address_ranges[{i}]"
        assert any(
            (Path(x.file).stem, x.path) == (cc, path) or f"{net} of {cc.upper()} ({path});" in x.reason for x in issues
        ), (cc, path, issues)
    for x in issues:
        cc, i = Path(x.file).stem, int(x.path.split("[")[1].rstrip("]"))
        assert any(intersect(fleet[cc][i], o) for other in fleet if other != cc for o in fleet[other]), x
        assert x.reason.endswith("; countries never share space")
    if any(intersect(a, b) for x in fleet for y in fleet if x < y for a in fleet[x] for b in fleet[y]):
        assert issues, "an overlap between two countries must be reported"


json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.text(max_size=2))
trees = st.recursive(
    json_scalars,
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.sampled_from("abc"), kids, max_size=3),
    max_leaves=10,
)
maps = st.dictionaries(st.sampled_from("abcd"), trees, max_size=4)


def lookup(tree: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        tree = tree[part]
    return tree


@PROPS
@given(base=maps, overlay=maps)
def test_merge_follows_the_documented_rules_at_every_key(base: dict[str, Any], overlay: dict[str, Any]) -> None:
    before = (repr(base), repr(overlay))
    out = merge(base, overlay)
    assert (repr(base), repr(overlay)) == before, "merge must not modify its inputs"
    for key in set(base) | set(overlay):
        if key in overlay and overlay[key] is None:
            assert key not in out
        elif key not in overlay:
            assert out[key] == base[key]
        elif key in base and isinstance(base[key], dict) and isinstance(overlay[key], dict):
            assert out[key] == merge(base[key], overlay[key])
            assert set(out[key]) >= {k for k, v in overlay[key].items() if v is not None}
        else:
            assert out[key] == overlay[key]
    assert set(out) == {k for k in set(base) | set(overlay) if overlay.get(k, 0) is not None}


def test_merge_of_non_mappings_is_the_overlay() -> None:
    assert merge({"a": 1}, [1]) == [1]
    assert merge([1, 2], {"a": 1}) == {"a": 1}
    assert merge({"a": {"b": 1}}, {"a": {"b": None, "c": 2}}) == {"a": {"c": 2}}


@PROPS
@given(tree=trees)
def test_key_paths_and_replaced_paths_reach_every_node(tree: Any) -> None:
    paths = key_paths(tree)
    assert () in paths
    want = {()}
    stack: list[tuple[tuple[Any, ...], Any]] = [((), tree)]
    while stack:
        prefix, node = stack.pop()
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
        for key, value in items:
            want.add((*prefix, key))
            stack.append(((*prefix, key), value))
    assert paths == want
    leaves = replaced_paths(tree)
    assert leaves <= paths
    for path in paths:
        node = lookup(tree, path)
        under_maps_only = all(isinstance(lookup(tree, path[:k]), dict) for k in range(len(path)))
        assert (path in leaves) == (under_maps_only and not isinstance(node, dict)), path
        if isinstance(node, list) and node:
            assert (*path, len(node) - 1) in paths, "every element of a list, not only the first"


def test_key_paths_names_list_elements_and_prefixes() -> None:
    want = {("x",), ("x", "a"), ("x", "a", 0), ("x", "a", 0, "b"), ("x", "a", 1)}
    assert key_paths({"a": [{"b": 1}, 2]}, ("x",)) == want
    assert replaced_paths({"a": [1], "b": {"c": None}}, ("x",)) == {("x", "a"), ("x", "b", "c")}
    assert replaced_paths({}) == set()
