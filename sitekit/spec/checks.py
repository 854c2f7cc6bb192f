"""Checks across fields and across countries: residency, address plans, capacity, custody.

Field validators in `models` can only see one field; these see a whole site (or the whole fleet) and
return every problem they find rather than raising at the first, so an operator fixes a file in one go.
Each check returns `(field path, reason)` pairs; the loader attaches the file name.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from ipaddress import IPv4Address, IPv4Network

from sitekit.spec.models import Site

Problem = tuple[str, str]


def _inside(net: IPv4Network | IPv4Address, ranges: Iterable[IPv4Network]) -> bool:
    if isinstance(net, IPv4Address):
        return any(net in r for r in ranges)
    return any(net.subnet_of(r) for r in ranges)


def _under(host: str, domains: Iterable[str]) -> bool:
    host = host.lower().rstrip(".")
    return any(host == d or host.endswith("." + d) for d in domains)


def residency(site: Site) -> Iterator[Problem]:
    """Every network and destination inside the country's ranges; every service name under its domains."""
    ranges = site.residency.address_ranges
    domains = site.identity.domains
    res = site.residency
    named: list[tuple[str, IPv4Network | IPv4Address]] = [
        ("network.node_cidr", site.network.node_cidr),
        ("network.pod_cidr", site.network.pod_cidr),
        ("network.service_cidr", site.network.service_cidr),
    ]
    named += [(f"residency.operator_networks[{i}]", n) for i, n in enumerate(res.operator_networks)]
    named += [(f"residency.dns_servers[{i}]", a) for i, a in enumerate(res.dns_servers)]
    named += [(f"residency.ntp_servers[{i}]", a) for i, a in enumerate(res.ntp_servers)]
    named += [(f"residency.extra_egress[{i}].cidr", e.cidr) for i, e in enumerate(res.extra_egress)]
    for field in ("package_mirror", "container_registry", "chart_repository"):
        endpoint = getattr(res, field)
        named += [(f"residency.{field}.addresses[{i}]", a) for i, a in enumerate(endpoint.addresses)]
        if not _under(endpoint.host, domains):
            yield (
                f"residency.{field}.url",
                f"host {endpoint.host!r} is outside the country's domains ({', '.join(domains)}): "
                "residency requires an in-country service",
            )
    for path, value in named:
        if not _inside(value, ranges):
            yield (
                path,
                f"{value} is outside the country's address ranges ({', '.join(map(str, ranges))}): "
                "residency requires in-country networks and destinations",
            )
    if not _under(site.network.ingress_domain, domains):
        yield ("network.ingress_domain", f"{site.network.ingress_domain!r} is outside the country's domains")


def overlaps(site: Site) -> Iterator[Problem]:
    """No two of the site's own networks overlap (ranges with ranges, cluster networks with each other)."""
    ranges = site.residency.address_ranges
    for i, a in enumerate(ranges):
        for j in range(i + 1, len(ranges)):
            if a.overlaps(ranges[j]):
                yield (f"residency.address_ranges[{j}]", f"{ranges[j]} overlaps address_ranges[{i}] {a}")
    nets: list[tuple[str, IPv4Network]] = [
        ("network.node_cidr", site.network.node_cidr),
        ("network.pod_cidr", site.network.pod_cidr),
        ("network.service_cidr", site.network.service_cidr),
    ]
    nets += [(f"residency.operator_networks[{i}]", n) for i, n in enumerate(site.residency.operator_networks)]
    for i, (pa, a) in enumerate(nets):
        for pb, b in nets[i + 1 :]:
            if a.overlaps(b):
                yield (pb, f"{b} overlaps {pa} {a}")


def hosts(site: Site) -> Iterator[Problem]:
    """Hosts on the node network, with unique names and addresses, and a control plane."""
    node = site.network.node_cidr
    names = Counter(h.name for h in site.hosts)
    addresses = Counter(h.address for h in site.hosts)
    for i, h in enumerate(site.hosts):
        if h.address not in node or h.address in (node.network_address, node.broadcast_address):
            yield (f"hosts[{i}].address", f"{h.address} is not a usable address of network.node_cidr {node}")
        if names[h.name] > 1:
            yield (f"hosts[{i}].name", f"host name {h.name!r} is used more than once")
        if addresses[h.address] > 1:
            yield (f"hosts[{i}].address", f"address {h.address} is used by more than one host")
        if not h.name.startswith(site.cc + "-"):
            yield (f"hosts[{i}].name", f"host name {h.name!r} must start with the country code '{site.cc}-'")
    if not site.hosts_by_role("control-plane"):
        yield ("hosts", "at least one control-plane host is required")


def capacity(site: Site) -> Iterator[Problem]:
    """Quotas and model placement fit the GPUs the country has."""
    total = site.gpu_capacity
    quota = sum(t.gpu_quota for t in site.tenants)
    if quota > total:
        yield ("tenants", f"tenant GPU quotas add up to {quota}, above the {total} GPUs the site's hosts provide")
    tenants = Counter(t.name for t in site.tenants)
    holders: dict[str, list[str]] = {}
    for t in site.tenants:
        for group in t.groups:
            holders.setdefault(group, []).append(t.name)
    for i, t in enumerate(site.tenants):
        if tenants[t.name] > 1:
            yield (f"tenants[{i}].name", f"tenant {t.name!r} is declared more than once")
        for j, group in enumerate(t.groups):
            others = [name for name in holders[group] if name != t.name]
            if others:
                # Each tenant binds its groups in its own namespace: a shared group would give its members
                # the rights of every tenant that names it, across the tenants' isolation.
                yield (
                    f"tenants[{i}].groups[{j}]",
                    f"group {group!r} is bound to tenant {t.name!r} and to {', '.join(repr(o) for o in others)}: "
                    "a group may belong to one tenant only",
                )
        if t.load_balancers and not site.network.allow_public_load_balancer:
            yield (
                f"tenants[{i}].load_balancers",
                f"{t.load_balancers} LoadBalancer Service(s) for tenant {t.name!r}, but "
                "network.allow_public_load_balancer is false",
            )
    models = Counter(m.name for m in site.models)
    registry = site.residency.container_registry.host
    for i, m in enumerate(site.models):
        if models[m.name] > 1:
            yield (f"models[{i}].name", f"model {m.name!r} is declared more than once")
        if m.image_registry != registry:
            yield (
                f"models[{i}].image",
                f"image registry {m.image_registry!r} is not the in-country registry {registry!r}",
            )
        fitting = [
            h.gpu.schedulable
            for h in site.hosts
            if h.gpu and (m.gpu_model is None or h.gpu.model == m.gpu_model)
        ]
        if not fitting:
            want = f"GPU model {m.gpu_model!r}" if m.gpu_model else "GPUs"
            yield (f"models[{i}].gpu_model", f"no host has {want}")
        elif m.gpus_per_replica > max(fitting):
            yield (
                f"models[{i}].gpus_per_replica",
                f"{m.gpus_per_replica} GPUs per replica, but the largest fitting host offers {max(fitting)}",
            )
    need = sum(m.min_replicas * m.gpus_per_replica for m in site.models)
    if need > total:
        yield ("models", f"models need {need} GPUs at their minimum replicas, above the site's {total}")


def names(site: Site) -> Iterator[Problem]:
    """Names built from two fields fit DNS: a model's public host `<model>.<ingress_domain>` is at most 253."""
    for i, m in enumerate(site.models):
        host = f"{m.name}.{site.network.ingress_domain}"
        if len(host) > 253:
            yield (
                f"models[{i}].name",
                f"its ingress host {host[:40]}... is {len(host)} characters, above the 253 of a DNS name",
            )


def custody(site: Site) -> Iterator[Problem]:
    """M-of-N is possible and the custodians are distinct people."""
    keys = site.keys
    n = len(keys.custodians)
    if keys.threshold > n:
        yield ("keys.threshold", f"threshold M={keys.threshold} is above the number of custodians N={n}")
    names = Counter(c.name for c in keys.custodians)
    for i, c in enumerate(keys.custodians):
        if names[c.name] > 1:
            yield (f"keys.custodians[{i}].name", f"custodian {c.name!r} is listed more than once")
    if keys.backend == "pkcs11" and keys.threshold < 2 and n > 1:
        yield ("keys.threshold", "with more than one custodian, M must be at least 2 so no one person can restore")


def compliance(site: Site) -> Iterator[Problem]:
    """Each deviation declared once."""
    seen = Counter(d.control for d in site.compliance.deviations)
    for i, d in enumerate(site.compliance.deviations):
        if seen[d.control] > 1:
            yield (f"compliance.deviations[{i}].control", f"{d.control} has more than one deviation")




_SAAS_BACKENDS = ("app.pulumi.com", "api.pulumi.com")
_FOREIGN_KMS = ("awskms", "azurekeyvault", "gcpkms")


def deployment(site: Site) -> Iterator[Problem]:
    """Pulumi state and secrets stay in the country: no SaaS backend, no foreign cloud store or KMS."""
    from urllib.parse import parse_qs, urlsplit

    domains = site.identity.domains
    dep = site.deployment
    backend = urlsplit(dep.state_backend)
    if backend.scheme == "s3":
        endpoint = (parse_qs(backend.query).get("endpoint") or [""])[0]
        host = urlsplit(endpoint if "://" in endpoint else f"https://{endpoint}").hostname or ""
        if not endpoint or not _under(host, domains):
            yield (
                "deployment.state_backend",
                f"S3 backend without an in-country endpoint ({endpoint or 'none'}): without "
                "?endpoint=<host under " + ", ".join(domains) + "> the state would go to a cloud's S3 abroad",
            )
    elif backend.scheme == "file":
        if not backend.path.startswith("/") or backend.netloc:
            yield ("deployment.state_backend", "a file backend needs an absolute path: file:///var/lib/...")
    elif backend.scheme in ("https", "http") and backend.hostname in _SAAS_BACKENDS:
        yield ("deployment.state_backend", "the Pulumi Cloud SaaS keeps state outside the country: refused")
    elif backend.scheme == "https" and _under(backend.hostname or "", domains):
        pass  # a self-hosted Pulumi service inside the country's domains
    else:
        yield (
            "deployment.state_backend",
            f"{dep.state_backend!r} is not an in-country self-managed backend (s3:// with an in-country endpoint, "
            "file:///path, or https:// under the country's domains)",
        )
    provider = urlsplit(dep.secrets_provider)
    if dep.secrets_provider == "passphrase":
        return
    if provider.scheme in _FOREIGN_KMS:
        yield ("deployment.secrets_provider", f"{provider.scheme} is a foreign cloud KMS: refused")
    elif provider.scheme == "hashivault" and provider.netloc:
        vault = urlsplit(dep.vault_address or "")
        if dep.vault_address is None:
            yield (
                "deployment.secrets_provider",
                "a hashivault secrets provider needs deployment.vault_address, the https address of the "
                "country's own Vault, under " + ", ".join(domains),
            )
        elif vault.scheme != "https" or not _under(vault.hostname or "", domains):
            yield (
                "deployment.vault_address",
                f"{dep.vault_address}: a hashivault secrets provider needs the https address of the country's "
                "own Vault, under " + ", ".join(domains),
            )
    else:
        yield (
            "deployment.secrets_provider",
            f"{dep.secrets_provider!r}: use hashivault://<transit key> (in-country Vault) or passphrase (lab)",
        )


def logging(site: Site) -> Iterator[Problem]:
    """The log collector is one of the site's own hosts, inside the country's ranges: logs stay in the country."""
    if site.logging is None:
        return
    collector = site.log_collector()
    if collector is None:
        known = ", ".join(h.name for h in site.hosts)
        yield (
            "logging.collector",
            f"{site.logging.collector!r} is not a host of this site (hosts: {known}): the collector must be one of"
            " the country's own hosts",
        )
        return
    if not _inside(collector.address, site.residency.address_ranges):
        yield (
            "logging.collector",
            f"collector {collector.name} has address {collector.address}, outside the country's address ranges"
            f" ({', '.join(map(str, site.residency.address_ranges))}): logs must stay in the country",
        )


SITE_CHECKS = (residency, overlaps, hosts, capacity, names, custody, compliance, deployment, logging)


def check_site(site: Site) -> list[Problem]:
    """All problems of one resolved site."""
    return [p for check in SITE_CHECKS for p in check(site)]


def site_networks(site: Site) -> list[tuple[str, IPv4Network]]:
    """The networks a country claims, for the fleet-wide overlap check."""
    return [(f"residency.address_ranges[{i}]", n) for i, n in enumerate(site.residency.address_ranges)]
