"""What each pod can reach, from the declared NetworkPolicies alone, and the two rules it must obey.

Semantics relied on (each covered by tests/stacks/test_reachability.py):
- A pod is isolated for a direction once any policy that selects it lists that direction in
  `policyTypes`; an isolated pod may only use what the union of those policies' rules allows.
  A pod no policy isolates may reach, and be reached from, anything.
- A rule without `to`/`from` allows every peer; a peer with only `podSelector` means pods of the policy's
  own namespace; with `namespaceSelector` pods of the matching namespaces (an empty selector: all of
  them); both together: the intersection; `ipBlock` means its CIDR minus its `except` list.
- Traffic between two pods needs the sender's egress AND the receiver's ingress to allow it.

Where labels are not known the analysis assumes the worst: a "pod" of a namespace carries whatever labels
make it selected by every policy and match every selector there, which is exactly what a tenant who
controls its own pod labels can do. An `ipBlock` that overlaps the pod network is taken to reach any pod
there (what ipBlock does with pod addresses is up to the network plugin). Ports are reported, not used to
decide reachability, and Service virtual IPs are not modelled (kube-proxy rewrites them to pod addresses
before policy applies).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Network, collapse_addresses
from typing import Any, Literal

from sitekit.plan.selectors import is_empty, selector_matches
from sitekit.policy.conventions import METADATA_NETWORKS, NAMESPACE_NAME_LABEL, TENANT_PREFIX
from sitekit.policy.model import Resource
from sitekit.policy.workloads import pod_labels, pod_spec

Direction = Literal["Ingress", "Egress"]
EVERYWHERE = IPv4Network("0.0.0.0/0")


@dataclass(frozen=True)
class Peer:
    """One allowed peer: pods (namespace and pod selectors; None = the policy's own namespace) or an ipBlock."""

    policy_namespace: str
    namespace_selector: Mapping[str, Any] | None = None
    pod_selector: Mapping[str, Any] | None = None
    networks: tuple[IPv4Network, ...] = ()
    is_ip: bool = False
    ports: str = "any port"
    anything: bool = False

    def describe(self) -> str:
        """A short human-readable form for the plan output."""
        if self.anything:
            return f"anywhere ({self.ports})"
        if self.is_ip:
            return f"{', '.join(map(str, self.networks)) or 'nothing'} ({self.ports})"
        if self.namespace_selector is None:
            where = f"namespace {self.policy_namespace}"
        elif is_empty(self.namespace_selector):
            where = "every namespace"
        else:
            where = f"namespaces {_show(self.namespace_selector)}"
        pods = "all pods" if is_empty(self.pod_selector) else f"pods {_show(self.pod_selector)}"
        return f"{where}, {pods} ({self.ports})"


def _show(selector: Mapping[str, Any] | None) -> str:
    labels = (selector or {}).get("matchLabels") or {}
    parts = [f"{k}={v}" for k, v in sorted(labels.items())]
    parts += [
        f"{e.get('key')} {e.get('operator')} {e.get('values') or ''}".strip()
        for e in (selector or {}).get("matchExpressions") or []
    ]
    return ",".join(parts) or "{}"


def rule_ports(rule: Mapping[str, Any]) -> str:
    """A rule's ports as `proto/port` (`proto/first-last` for an endPort range), or "any port"."""
    ports = rule.get("ports") or []
    if not ports:
        return "any port"
    return " ".join(
        f"{str(p.get('protocol', 'TCP')).lower()}/{p.get('port', '*')}"
        + (f"-{p['endPort']}" if p.get("endPort") is not None else "")
        for p in ports
    )


def _block_networks(block: Mapping[str, Any]) -> tuple[IPv4Network, ...]:
    """CIDR minus excepts, as a minimal list of networks (IPv6 blocks are ignored: the site is IPv4)."""
    try:
        net = IPv4Network(str(block.get("cidr")), strict=False)
    except ValueError:
        return ()
    remaining = [net]
    for item in block.get("except") or []:
        try:
            ex = IPv4Network(str(item), strict=False)
        except ValueError:
            continue
        remaining = list(subtract(remaining, [ex]))
    return tuple(collapse_addresses(remaining))


def subtract(nets: Iterable[IPv4Network], minus: Iterable[IPv4Network]) -> list[IPv4Network]:
    """The addresses of `nets` that are in none of `minus`, as networks."""
    out = list(nets)
    for m in minus:
        nxt: list[IPv4Network] = []
        for n in out:
            if n.subnet_of(m):
                continue
            if m.subnet_of(n):
                nxt.extend(n.address_exclude(m))
            else:
                nxt.append(n)
        out = nxt
    return list(collapse_addresses(out))


@dataclass(frozen=True)
class Policy:
    """A NetworkPolicy reduced to what reachability needs."""

    namespace: str
    name: str
    pod_selector: Mapping[str, Any]
    types: frozenset[str]
    ingress: tuple[tuple[Peer, ...], ...]
    egress: tuple[tuple[Peer, ...], ...]


def parse_policy(manifest: Mapping[str, Any]) -> Policy:
    """Read a NetworkPolicy manifest; `policyTypes` defaults as the API server defaults it."""
    meta = manifest.get("metadata") or {}
    spec = manifest.get("spec") or {}
    ns = str(meta.get("namespace") or "default")
    types = set(spec.get("policyTypes") or [])
    if not types:
        types = {"Ingress"} | ({"Egress"} if spec.get("egress") else set())

    def rules(key: str, peer_key: str) -> tuple[tuple[Peer, ...], ...]:
        out: list[tuple[Peer, ...]] = []
        for rule in spec.get(key) or []:
            ports = rule_ports(rule or {})
            peers = (rule or {}).get(peer_key) or []
            if not peers:
                out.append((Peer(ns, ports=ports, anything=True),))
                continue
            parsed = []
            for peer in peers:
                if peer.get("ipBlock"):
                    parsed.append(Peer(ns, networks=_block_networks(peer["ipBlock"]), is_ip=True, ports=ports))
                else:
                    parsed.append(Peer(ns, peer.get("namespaceSelector"), peer.get("podSelector"), ports=ports))
            out.append(tuple(parsed))
        return tuple(out)

    return Policy(
        ns,
        str(meta.get("name")),
        spec.get("podSelector") or {},
        frozenset(types),
        rules("ingress", "from"),
        rules("egress", "to"),
    )


@dataclass(frozen=True)
class Pod:
    """A pod to analyse: its namespace and labels (None: any labels, the worst case)."""

    namespace: str
    labels: Mapping[str, str] | None
    name: str


@dataclass
class Reach:
    """Where one pod may send traffic."""

    pod: Pod
    isolated: bool
    peers: list[Peer] = field(default_factory=list)

    @property
    def external(self) -> list[IPv4Network]:
        """Every address outside the cluster the pod may reach."""
        if not self.isolated or any(p.anything for p in self.peers):
            return [EVERYWHERE]
        return list(collapse_addresses(n for p in self.peers if p.is_ip for n in p.networks))


@dataclass
class Network:
    """The cluster as the manifests declare it: namespaces with labels, policies, and the pod network."""

    namespace_labels: dict[str, dict[str, str]]
    policies: list[Policy]
    pod_cidr: IPv4Network

    def labels_of(self, namespace: str) -> dict[str, str]:
        """A namespace's labels, with the name label the API server adds to every namespace."""
        return {**self.namespace_labels.get(namespace, {}), NAMESPACE_NAME_LABEL: namespace}

    def selecting(self, pod: Pod, direction: Direction) -> list[Policy]:
        """Policies of the pod's namespace that select it for `direction` (all of them if labels are unknown)."""
        return [
            p
            for p in self.policies
            if p.namespace == pod.namespace
            and direction in p.types
            and (pod.labels is None or selector_matches(p.pod_selector, pod.labels))
        ]

    def isolated(self, pod: Pod, direction: Direction) -> bool:
        """Whether the pod is isolated for `direction` (unknown labels: only an empty selector is sure to)."""
        policies = self.selecting(pod, direction)
        if pod.labels is None:
            return any(is_empty(p.pod_selector) for p in policies)
        return bool(policies)

    def egress(self, pod: Pod) -> Reach:
        """Where `pod` may send traffic."""
        reach = Reach(pod, self.isolated(pod, "Egress"))
        for policy in self.selecting(pod, "Egress"):
            for rule in policy.egress:
                reach.peers.extend(rule)
        return reach

    def peer_covers(self, peer: Peer, target: Pod) -> bool:
        """Whether a pod peer (or an ipBlock over the pod network) includes `target`."""
        if peer.anything:
            return True
        if peer.is_ip:
            return any(n.overlaps(self.pod_cidr) for n in peer.networks)
        if peer.namespace_selector is None:
            if target.namespace != peer.policy_namespace:
                return False
        elif not selector_matches(peer.namespace_selector, self.labels_of(target.namespace)):
            return False
        return target.labels is None or selector_matches(peer.pod_selector, target.labels)

    def can_reach(self, source: Pod, target: Pod) -> bool:
        """Source's egress and target's ingress both allow the connection."""
        out = self.egress(source)
        if out.isolated and not any(self.peer_covers(p, target) for p in out.peers):
            return False
        if not self.isolated(target, "Ingress"):
            return True
        return any(
            self.peer_covers(peer, source)
            for policy in self.selecting(target, "Ingress")
            for rule in policy.ingress
            for peer in rule
        )


@dataclass
class ReachabilityReport:
    """Per pod, its egress; and the rule breaches found."""

    reaches: list[Reach]
    failures: list[str]


def analyse(
    manifests: Sequence[Mapping[str, Any]],
    country_ranges: Sequence[IPv4Network],
    pod_cidr: IPv4Network,
) -> ReachabilityReport:
    """Build the network from manifests and check residency and tenant isolation for every pod."""
    namespaces: dict[str, dict[str, str]] = {}
    workloads: list[Pod] = []
    policies: list[Policy] = []
    for m in manifests:
        kind = m.get("kind")
        meta = m.get("metadata") or {}
        if kind == "Namespace":
            namespaces[str(meta.get("name"))] = dict(meta.get("labels") or {})
        elif kind == "NetworkPolicy":
            policies.append(parse_policy(m))
        else:
            res = Resource(type="", name=str(meta.get("name")), urn="", props=m)
            if pod_spec(res) is not None:
                workloads.append(Pod(res.namespace or "default", pod_labels(res), f"{kind} {meta.get('name')}"))
    net = Network(namespaces, policies, pod_cidr)
    pods = [Pod(ns, None, f"any pod in {ns}") for ns in sorted(namespaces)] + sorted(
        workloads, key=lambda p: (p.namespace, p.name)
    )
    reaches = [net.egress(p) for p in pods]
    failures: list[str] = []
    for reach in reaches:
        outside = subtract(reach.external, [*country_ranges])
        if outside:
            failures.append(
                f"{reach.pod.name} can reach addresses outside the country: "
                f"{', '.join(map(str, outside[:4]))}{' …' if len(outside) > 4 else ''}"
            )
        metadata = [m for m in METADATA_NETWORKS if any(m.subnet_of(n) for n in reach.external)]
        if metadata:
            failures.append(f"{reach.pod.name} can reach cloud metadata {', '.join(map(str, metadata))}")
    tenants = [ns for ns in sorted(namespaces) if ns.startswith(TENANT_PREFIX)]
    for src in tenants:
        for dst in sorted(namespaces):
            if dst == src:
                continue
            if net.can_reach(Pod(src, None, src), Pod(dst, None, dst)):
                what = "another tenant" if dst.startswith(TENANT_PREFIX) else "a system namespace"
                failures.append(f"tenant namespace {src} can reach {what}: {dst}")
    return ReachabilityReport(reaches, failures)
