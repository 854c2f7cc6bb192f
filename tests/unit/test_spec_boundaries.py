"""The site checks at their boundaries, with the exact field and message of every problem (issue 15).

Each case sits on the edge a weakened check would move: a quota equal to the capacity and one above it, a
name used exactly twice, a threshold equal to the number of custodians, the last character a DNS name may
have. Checks are called on the demo site with fields replaced, so a case costs microseconds.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Any

import pytest

from sitekit.spec import load_fleet
from sitekit.spec.checks import capacity, compliance, custody, deployment, hosts, names, overlaps, residency
from sitekit.spec.models import Site

ROOT = Path(__file__).resolve().parents[2]
FLEET = load_fleet(ROOT / "sites")
EE = FLEET.site("ee")  # 10 schedulable GPUs (L40S: 8 + 2), pkcs11, 3 custodians, domain ee.sovereign.example


def with_(site: Site, **parts: dict[str, Any]) -> Site:
    """The site with some fields of its sections replaced (no re-validation: the checks are under test)."""
    update = {section: getattr(site, section).model_copy(update=fields) for section, fields in parts.items()}
    return site.model_copy(update=update)


def tenants(*quotas: int, lbs: int = 0, same_name: bool = False) -> tuple[Any, ...]:
    base = EE.tenants[0]
    return tuple(
        base.model_copy(
            update={"name": "t" if same_name else f"t{i}", "gpu_quota": q, "load_balancers": lbs, "groups": (f"g{i}",)}
        )
        for i, q in enumerate(quotas)
    )


def models(*specs: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(EE.models[0].model_copy(update=s) for s in specs)


def test_quotas_equal_to_capacity_pass_and_one_more_fails() -> None:
    assert list(capacity(EE.model_copy(update={"tenants": tenants(5, 5)}))) == []
    assert list(capacity(EE.model_copy(update={"tenants": tenants(5, 6)}))) == [
        ("tenants", "tenant GPU quotas add up to 11, above the 10 GPUs the site's hosts provide")
    ]


def test_a_tenant_declared_exactly_twice_is_flagged_at_both() -> None:
    found = list(capacity(EE.model_copy(update={"tenants": tenants(1, 1, same_name=True)})))
    assert found == [(f"tenants[{i}].name", "tenant 't' is declared more than once") for i in (0, 1)]


def test_load_balancers_need_the_site_to_allow_them() -> None:
    site = EE.model_copy(update={"tenants": tenants(1, lbs=1)})
    assert list(capacity(site)) == [(
        "tenants[0].load_balancers",
        "1 LoadBalancer Service(s) for tenant 't0', but network.allow_public_load_balancer is false",
    )]
    assert list(capacity(with_(site, network={"allow_public_load_balancer": True}))) == []


def test_models_declared_twice_foreign_registry_and_fit() -> None:
    twice = models({"name": "m"}, {"name": "m"})
    assert list(capacity(EE.model_copy(update={"models": twice}))) == [
        (f"models[{i}].name", "model 'm' is declared more than once") for i in (0, 1)
    ]
    foreign = models({"image": "docker.io/x/y@sha256:" + "0" * 64})
    assert list(capacity(EE.model_copy(update={"models": foreign}))) == [
        ("models[0].image", "image registry 'docker.io' is not the in-country registry 'registry.ee.sovereign.example'")
    ]


def test_gpu_model_none_fits_any_gpu_host_and_a_missing_model_is_named() -> None:
    assert list(capacity(EE.model_copy(update={"models": models({"gpu_model": None})}))) == []
    assert list(capacity(EE.model_copy(update={"models": models({"gpu_model": "H100"})}))) == [
        ("models[0].gpu_model", "no host has GPU model 'H100'")
    ]
    no_gpus = EE.model_copy(update={"hosts": EE.hosts[:1], "models": models({"gpu_model": None}), "tenants": ()})
    assert ("models[0].gpu_model", "no host has GPUs") in list(capacity(no_gpus))


def test_gpus_per_replica_up_to_the_largest_fitting_host() -> None:
    assert list(capacity(EE.model_copy(update={"models": models({"gpus_per_replica": 8})}))) == []
    assert list(capacity(EE.model_copy(update={"models": models({"gpus_per_replica": 9})}))) == [
        ("models[0].gpus_per_replica", "9 GPUs per replica, but the largest fitting host offers 8")
    ]


def test_minimum_replicas_times_gpus_up_to_capacity() -> None:
    fits = models({"min_replicas": 5, "gpus_per_replica": 2})
    assert list(capacity(EE.model_copy(update={"models": fits}))) == []
    over = models({"min_replicas": 6, "gpus_per_replica": 2})
    assert list(capacity(EE.model_copy(update={"models": over}))) == [
        ("models", "models need 12 GPUs at their minimum replicas, above the site's 10")
    ]


def test_custody_threshold_equal_to_custodians_passes() -> None:
    assert list(custody(with_(EE, keys={"threshold": 3}))) == []
    assert list(custody(with_(EE, keys={"threshold": 4}))) == [
        ("keys.threshold", "threshold M=4 is above the number of custodians N=3")
    ]


def test_custodian_listed_exactly_twice() -> None:
    first = EE.keys.custodians[0]
    site = with_(EE, keys={"custodians": (first, first, EE.keys.custodians[1])})
    assert list(custody(site)) == [
        (f"keys.custodians[{i}].name", f"custodian {first.name!r} is listed more than once") for i in (0, 1)
    ]


def test_an_hsm_with_several_custodians_needs_two_of_them() -> None:
    two = EE.keys.custodians[:2]
    assert list(custody(with_(EE, keys={"threshold": 1, "custodians": two}))) == [
        ("keys.threshold", "with more than one custodian, M must be at least 2 so no one person can restore")
    ]
    assert list(custody(with_(EE, keys={"threshold": 1, "custodians": two[:1]}))) == []
    assert list(custody(with_(EE, keys={"threshold": 1, "custodians": two, "backend": "file"}))) == []


def test_a_deviation_declared_exactly_twice() -> None:
    dev = EE.compliance.deviations[0]
    found = list(compliance(with_(EE, compliance={"deviations": (dev, dev)})))
    want = f"{dev.control} has more than one deviation"
    assert found == [(f"compliance.deviations[{i}].control", want) for i in (0, 1)]


def test_hosts_off_the_node_network_and_without_a_control_plane() -> None:
    off = EE.hosts[0].model_copy(update={"address": IPv4Address("10.20.9.9")})
    assert list(hosts(EE.model_copy(update={"hosts": (off, *EE.hosts[1:])}))) == [
        ("hosts[0].address", "10.20.9.9 is not a usable address of network.node_cidr 10.20.0.0/24")
    ]
    for edge in ("10.20.0.0", "10.20.0.255"):
        h = EE.hosts[0].model_copy(update={"address": IPv4Address(edge)})
        assert [p for p, _ in hosts(EE.model_copy(update={"hosts": (h, *EE.hosts[1:])}))] == ["hosts[0].address"]
    assert list(hosts(EE.model_copy(update={"hosts": EE.hosts[1:]}))) == [
        ("hosts", "at least one control-plane host is required")
    ]


def test_model_host_name_of_exactly_253_characters_is_allowed() -> None:
    domain = EE.network.ingress_domain
    for length, flagged in ((253, False), (254, True)):
        name = "m" * (length - len(domain) - 1)
        found = list(names(EE.model_copy(update={"models": models({"name": name})})))
        assert bool(found) == flagged, length
        if flagged:
            assert found == [("models[0].name", f"its ingress host {name[:40]}... is 254 characters, above the 253 "
                              "of a DNS name")]


def test_residency_messages_name_the_field_the_value_and_the_ranges() -> None:
    mirror = EE.residency.package_mirror.model_copy(update={"url": "http://deb.debian.org/debian"})
    site = with_(
        EE,
        network={"node_cidr": IPv4Network("10.99.0.0/24"), "pod_cidr": IPv4Network("10.98.0.0/16"),
                 "service_cidr": IPv4Network("10.97.0.0/16"), "ingress_domain": "models.example.org"},
        residency={"package_mirror": mirror},
    )
    ranges = ", ".join(map(str, EE.residency.address_ranges))
    found = list(residency(site))
    assert found == [
        ("residency.package_mirror.url", "host 'deb.debian.org' is outside the country's domains "
         "(ee.sovereign.example): residency requires an in-country service"),
        *[(f"network.{f}", f"{n} is outside the country's address ranges ({ranges}): residency requires in-country "
           "networks and destinations")
          for f, n in (("node_cidr", "10.99.0.0/24"), ("pod_cidr", "10.98.0.0/16"), ("service_cidr", "10.97.0.0/16"))],
        ("network.ingress_domain", "'models.example.org' is outside the country's domains"),
    ]


def test_two_ranges_apart_in_the_list_still_overlap() -> None:
    ranges = (IPv4Network("10.20.0.0/16"), IPv4Network("172.16.0.0/12"), IPv4Network("10.20.5.0/24"))
    assert list(overlaps(with_(EE, residency={"address_ranges": ranges}))) == [
        ("residency.address_ranges[2]", "10.20.5.0/24 overlaps address_ranges[0] 10.20.0.0/16")
    ]
    site = with_(EE, network={"pod_cidr": IPv4Network("10.20.0.0/25")})
    assert list(overlaps(site)) == [("network.pod_cidr", "10.20.0.0/25 overlaps network.node_cidr 10.20.0.0/24")]


IN = "ee.sovereign.example"


@pytest.mark.parametrize(
    ("backend", "problem"),
    [
        ("s3://state", "S3 backend without an in-country endpoint (none): without ?endpoint=<host under "
         f"{IN}> the state would go to a cloud's S3 abroad"),
        ("s3://state?endpoint=s3.amazonaws.com", "S3 backend without an in-country endpoint (s3.amazonaws.com): "
         f"without ?endpoint=<host under {IN}> the state would go to a cloud's S3 abroad"),
        (f"s3://state?endpoint=https://s3.{IN}", None),
        (f"s3://state?endpoint=s3.{IN}:9000", None),
        ("file://relative/path", "a file backend needs an absolute path: file:///var/lib/..."),
        ("http://api.pulumi.com", "the Pulumi Cloud SaaS keeps state outside the country: refused"),
        ("https://app.pulumi.com", "the Pulumi Cloud SaaS keeps state outside the country: refused"),
        (f"https://pulumi.{IN}", None),
        (f"http://pulumi.{IN}", f"'http://pulumi.{IN}' is not an in-country self-managed backend (s3:// with an "
         "in-country endpoint, file:///path, or https:// under the country's domains)"),
    ],
)
def test_state_backends(backend: str, problem: str | None) -> None:
    found = list(deployment(with_(EE, deployment={"state_backend": backend})))
    assert found == ([("deployment.state_backend", problem)] if problem else [])


def test_an_https_url_without_a_host_is_never_in_country() -> None:
    """Even for a country whose domain is a bare label: an empty host must not be replaced by any name."""
    site = with_(EE, identity={"domains": ("xxxx",)})
    assert [p for p, _ in deployment(with_(site, deployment={"state_backend": "https:///state"}))] == [
        "deployment.state_backend"
    ]
    s3 = with_(site, deployment={"state_backend": "s3://state?endpoint=https:///x"})
    assert [p for p, _ in deployment(s3)] == ["deployment.state_backend"]
    vault = with_(site, deployment={"secrets_provider": "hashivault://sitekit", "vault_address": "https:///v1"})
    assert [p for p, _ in deployment(vault)] == ["deployment.vault_address"]


@pytest.mark.parametrize(
    ("provider", "vault", "problem"),
    [
        ("passphrase", None, None),
        ("awskms://alias/x", None, ("deployment.secrets_provider", "awskms is a foreign cloud KMS: refused")),
        ("hashivault://sitekit", f"https://vault.{IN}", None),
        ("hashivault://sitekit", None, ("deployment.secrets_provider", "a hashivault secrets provider needs "
         f"deployment.vault_address, the https address of the country's own Vault, under {IN}")),
        ("hashivault://sitekit", "https://vault.example.org", ("deployment.vault_address", "https://vault.example.org:"
         f" a hashivault secrets provider needs the https address of the country's own Vault, under {IN}")),
        ("hashivault://sitekit", f"http://vault.{IN}", ("deployment.vault_address", f"http://vault.{IN}: a "
         f"hashivault secrets provider needs the https address of the country's own Vault, under {IN}")),
        ("hashivault:", f"https://vault.{IN}", ("deployment.secrets_provider", "'hashivault:': use "
         "hashivault://<transit key> (in-country Vault) or passphrase (lab)")),
        ("vault://sitekit", f"https://vault.{IN}", ("deployment.secrets_provider", "'vault://sitekit': use "
         "hashivault://<transit key> (in-country Vault) or passphrase (lab)")),
    ],
)
def test_secrets_providers(provider: str, vault: str | None, problem: tuple[str, str] | None) -> None:
    site = with_(EE, deployment={"secrets_provider": provider, "vault_address": vault})
    assert list(deployment(site)) == ([problem] if problem else [])


def test_domains_are_joined_with_a_comma_in_messages() -> None:
    site = with_(EE, identity={"domains": ("ee.sovereign.example", "gov.ee")})
    found = dict(deployment(with_(site, deployment={"state_backend": "s3://state"})))
    assert "<host under ee.sovereign.example, gov.ee>" in found["deployment.state_backend"]
    found = dict(deployment(with_(site, deployment={"secrets_provider": "hashivault://k", "vault_address": None})))
    assert found["deployment.secrets_provider"].endswith("under ee.sovereign.example, gov.ee")
    found = dict(deployment(with_(site, deployment={"secrets_provider": "hashivault://k",
                                                    "vault_address": "https://v.example.org"})))
    assert found["deployment.vault_address"].endswith("under ee.sovereign.example, gov.ee")
    mirror = EE.residency.package_mirror.model_copy(update={"url": "http://deb.debian.org/debian"})
    found = dict(residency(with_(site, residency={"package_mirror": mirror})))
    assert "(ee.sovereign.example, gov.ee)" in found["residency.package_mirror.url"]
    site = with_(site, residency={"address_ranges": (IPv4Network("10.20.0.0/16"), IPv4Network("10.40.0.0/16"))})
    node = with_(site, network={"node_cidr": IPv4Network("10.99.0.0/24")})
    assert "(10.20.0.0/16, 10.40.0.0/16)" in dict(residency(node))["network.node_cidr"]
