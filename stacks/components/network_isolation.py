"""NetworkIsolation: default-deny in one namespace, then only the traffic the site needs.

Kubernetes NetworkPolicies are allow-lists that add up, so the shape is: one policy that selects every pod
and allows nothing (ingress and egress), then one small policy per reason to talk. Every destination
outside the cluster is an `ipBlock` taken from the spec's in-country destinations, with cloud metadata
addresses carved out, so nothing here can send a byte outside the country.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Network
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.labels import NamespaceRole
from sitekit.policy.conventions import (
    DNS_NAMESPACE,
    DNS_POD_LABELS,
    INGRESS_NAMESPACE,
    METADATA_NETWORKS,
    NAMESPACE_NAME_LABEL,
    SERVING_NAMESPACE,
)
from sitekit.spec import Site

API_SERVER_PORT = 6443


@dataclass(frozen=True)
class Destination:
    """An in-country network a namespace may reach on some TCP ports."""

    name: str
    cidr: IPv4Network
    ports: tuple[int, ...]


@dataclass(frozen=True)
class NetworkIsolationArgs:
    """What one namespace may talk to; the role decides the extra allows on top of default-deny."""

    namespace: str
    role: NamespaceRole
    site: Site
    serving_ports: tuple[int, ...] = ()
    destinations: tuple[Destination, ...] = field(default=())
    needs_api_server: bool = False
    ingress_from: tuple[Destination, ...] = field(default=())
    depends_on: tuple[pulumi.Resource, ...] = ()


def workload_destinations(site: Site) -> tuple[Destination, ...]:
    """The spec's extra in-country destinations (object storage, identity) as workloads see them."""
    return tuple(Destination(d.name, d.cidr, tuple(d.ports)) for d in site.residency.extra_egress)


def api_server_destinations(site: Site) -> tuple[Destination, ...]:
    """The control-plane hosts' API server, for operators (GPU operator, ingress controller) that watch it."""
    return tuple(
        Destination(f"api-{h.name}", IPv4Network(f"{h.address}/32"), (API_SERVER_PORT,))
        for h in site.hosts_by_role("control-plane")
    )


def control_plane_sources(site: Site, ports: tuple[int, ...]) -> tuple[Destination, ...]:
    """The control-plane hosts as sources: the API server calls webhooks and aggregated APIs from there."""
    return tuple(
        Destination(f"cp-{h.name}", IPv4Network(f"{h.address}/32"), ports) for h in site.hosts_by_role("control-plane")
    )


def ip_block(cidr: IPv4Network) -> dict[str, Any]:
    """An ipBlock for one network, excepting any metadata address inside it."""
    block: dict[str, Any] = {"cidr": str(cidr)}
    carved = [str(m) for m in METADATA_NETWORKS if m.subnet_of(cidr) and m != cidr]
    if carved:
        block["except"] = carved
    return block


def _namespace_peer(namespace: str, pod_labels: dict[str, str] | None = None) -> dict[str, Any]:
    peer: dict[str, Any] = {"namespace_selector": {"match_labels": {NAMESPACE_NAME_LABEL: namespace}}}
    if pod_labels is not None:
        peer["pod_selector"] = {"match_labels": dict(pod_labels)}
    return peer


def _tcp(ports: tuple[int, ...]) -> list[dict[str, Any]]:
    return [{"protocol": "TCP", "port": p} for p in sorted(set(ports))]


class NetworkIsolation(pulumi.ComponentResource):
    """Default-deny plus the namespace's allows; see the module docstring for the reasoning."""

    policies: list[k8s.networking.v1.NetworkPolicy]

    def __init__(self, name: str, args: NetworkIsolationArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("sitekit:network:NetworkIsolation", name, None, opts)
        self.policies = []
        self._depends_on = list(args.depends_on)
        ns = args.namespace
        self._policy(name, ns, "default-deny", {"pod_selector": {}, "policy_types": ["Ingress", "Egress"]})
        self._policy(
            name,
            ns,
            "allow-dns",
            {
                "pod_selector": {},
                "policy_types": ["Egress"],
                "egress": [
                    {
                        "to": [_namespace_peer(DNS_NAMESPACE, DNS_POD_LABELS)],
                        "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
                    }
                ],
            },
        )
        self._policy(
            name,
            ns,
            "allow-same-namespace",
            {
                "pod_selector": {},
                "policy_types": ["Ingress", "Egress"],
                "ingress": [{"from": [{"pod_selector": {}}]}],
                "egress": [{"to": [{"pod_selector": {}}]}],
            },
        )
        if args.role == "ingress":
            self._policy(
                name,
                ns,
                "allow-clients-in-country",
                {
                    "pod_selector": {},
                    "policy_types": ["Ingress"],
                    "ingress": [
                        {
                            "from": [{"ip_block": ip_block(r)} for r in args.site.residency.address_ranges],
                            "ports": _tcp((80, 443)),
                        }
                    ],
                },
            )
            if args.serving_ports:
                self._policy(
                    name,
                    ns,
                    "allow-to-serving",
                    {
                        "pod_selector": {},
                        "policy_types": ["Egress"],
                        "egress": [{"to": [_namespace_peer(SERVING_NAMESPACE)], "ports": _tcp(args.serving_ports)}],
                    },
                )
        if args.role == "serving" and args.serving_ports:
            self._policy(
                name,
                ns,
                "allow-from-ingress",
                {
                    "pod_selector": {},
                    "policy_types": ["Ingress"],
                    "ingress": [{"from": [_namespace_peer(INGRESS_NAMESPACE)], "ports": _tcp(args.serving_ports)}],
                },
            )
        if args.ingress_from:
            self._policy(
                name,
                ns,
                "allow-from-control-plane",
                {
                    "pod_selector": {},
                    "policy_types": ["Ingress"],
                    "ingress": [
                        {"from": [{"ip_block": ip_block(d.cidr)}], "ports": _tcp(d.ports)} for d in args.ingress_from
                    ],
                },
            )
        destinations = list(args.destinations)
        if args.needs_api_server:
            destinations += api_server_destinations(args.site)
        if destinations:
            self._policy(
                name,
                ns,
                "allow-in-country-egress",
                {
                    "pod_selector": {},
                    "policy_types": ["Egress"],
                    "egress": [{"to": [{"ip_block": ip_block(d.cidr)}], "ports": _tcp(d.ports)} for d in destinations],
                },
            )
        self.register_outputs({"namespace": ns, "policies": len(self.policies)})

    def _policy(self, name: str, namespace: str, policy: str, spec: dict[str, Any]) -> None:
        self.policies.append(
            k8s.networking.v1.NetworkPolicy(
                f"{name}-{policy}",
                metadata={"name": policy, "namespace": namespace},
                spec=spec,
                opts=pulumi.ResourceOptions(parent=self, depends_on=self._depends_on),
            )
        )
