"""Negative cases the access map must flag, each by its stable id.

Where the spec validator already refuses a case (an egress CIDR outside the country), the test shows that
and then feeds the same breach into the derived data (inventory variables, planned objects), so the map's
own detection is proven too: either check alone catches it. Where the spec cannot express a case at all
(it names no cluster-admin), the map learns it from the planned bindings and from system:masters
certificates the country's CA signed, and both routes are tested here.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Any

import pytest
from access_inputs import REPO, demo_inputs, hostvars, variant
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from sitekit.access import AccessInputs, derive_map
from sitekit.access.derive import rendered_inventory
from sitekit.access.findings import identity
from sitekit.access.keys import masters_certificates
from sitekit.access.rbac import ALL_VERBS, grants
from sitekit.errors import CheckFailed, UserError
from sitekit.pki.hierarchy import Hierarchy
from sitekit.spec import SpecError, load_fleet


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> AccessInputs:
    return demo_inputs("ee", tmp_path_factory.mktemp("empty-state"))


def ids(inputs: AccessInputs) -> list[str]:
    return [f.id for f in derive_map(inputs).findings]


def binding(kind: str, name: str, role_kind: str, role: str, subject: dict[str, str], ns: str = "") -> dict[str, Any]:
    meta = {"name": name, **({"namespace": ns} if ns else {})}
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": kind,
        "metadata": meta,
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role},
        "subjects": [subject],
    }


def edit(folder: Path, old: str, new: str) -> None:
    path = folder / "ee.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


# ------------------------------------------------------------------------------ separation of duties


def test_spec_cannot_name_a_cluster_admin(tmp_path: Path) -> None:
    sites = tmp_path / "sites"
    shutil.copytree(REPO / "sites", sites)
    edit(
        sites,
        "    - {name: Mari Tamm, role: security-officer}",
        "    - {name: Mari Tamm, role: x, cluster_admin: true}",
    )
    with pytest.raises(SpecError):
        load_fleet(sites)


def test_custodian_bound_to_cluster_admin_is_flagged(base: AccessInputs) -> None:
    crb = binding("ClusterRoleBinding", "ops", "ClusterRole", "cluster-admin", {"kind": "User", "name": "mari.tamm"})
    amap = derive_map(variant(base, manifests=[*base.manifests, crb]))
    assert amap.cluster_admins() == ["User mari.tamm"]
    sod = [f for f in amap.findings if f.id == "ACCESS-SOD-001"]
    assert [f.subject for f in sod] == ["Mari Tamm"]
    assert "ClusterRoleBinding ops" in sod[0].detail


def test_custodian_function_as_an_admin_group_is_flagged(base: AccessInputs) -> None:
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": "everything"},
        "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}],
    }
    crb = binding(
        "ClusterRoleBinding", "leads", "ClusterRole", "everything", {"kind": "Group", "name": "platform-lead"}
    )
    amap = derive_map(variant(base, manifests=[*base.manifests, role, crb]))
    assert [f.subject for f in amap.findings if f.id == "ACCESS-SOD-001"] == ["Jaan Kask"]
    grant = next(g for g in amap.grants if g.subject.name == "platform-lead")
    assert grant.cluster_admin and set(grant.rules[0].verbs) == set(ALL_VERBS)


@pytest.mark.parametrize(
    ("custodian", "account"),
    [("Mari Tamm", "mari.tamm"), ("Valentina Muñoz", "valentina_munoz"), ("Jaan Kask", "JAAN-KASK")],
)
def test_identities_compare_in_one_normal_form(custodian: str, account: str) -> None:
    assert identity(custodian) == identity(account)
    assert identity("Mari Tamm") != identity("Mari Tamme")


def test_cluster_admin_inside_one_namespace_is_not_cluster_wide(base: AccessInputs) -> None:
    rb = binding(
        "RoleBinding", "x", "ClusterRole", "cluster-admin", {"kind": "User", "name": "mari.tamm"}, "sitekit-serving"
    )
    amap = derive_map(variant(base, manifests=[*base.manifests, rb]))
    assert amap.cluster_admins() == []
    assert "ACCESS-SOD-001" not in [f.id for f in amap.findings]
    assert "cluster-admin" in amap.built_in_roles


def _foreign_masters_cert(folder: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:masters"),
            x509.NameAttribute(NameOID.COMMON_NAME, "liis.saar"),
        ]
    )
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    (folder / "foreign.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def test_custodian_with_a_system_masters_certificate_is_flagged(
    base: AccessInputs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SITEKIT_STATE", str(tmp_path / "state"))
    monkeypatch.setenv("SITEKIT_KEY_PASSPHRASE", "unit-test-passphrase")
    site = base.site.model_copy(update={"keys": base.site.keys.model_copy(update={"backend": "file"})})
    h = Hierarchy.open(site)
    h.init()
    h.store_leaf("kubernetes", "ops", h.issue("kubernetes", [], "client", "jaan.kask", "system:masters"))
    h.store_leaf("kubernetes", "dev", h.issue("kubernetes", [], "client", "liis.saar", "developers"))
    _foreign_masters_cert(h.layout.leaves / "kubernetes")  # not signed by the country: the API server refuses it
    amap = derive_map(variant(base, keys_dir=h.layout.base, cert_folders=(h.layout.leaves,)))
    assert [c.common_name for c in amap.masters_certificates] == ["jaan.kask"]
    assert amap.cluster_admins() == ["User jaan.kask"]
    assert [f.subject for f in amap.findings if f.id == "ACCESS-SOD-001"] == ["Jaan Kask"]
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=site.keys.validity.leaf_days + 1)
    assert masters_certificates(h.layout.base, [h.layout.leaves], at=later) == []  # expired: refused by the API


# ------------------------------------------------------------------------------ tenant scope


def test_tenants_sharing_a_group_are_refused_by_the_spec_and_flagged_by_the_map(
    base: AccessInputs, tmp_path: Path
) -> None:
    """Either check alone catches it: the spec refuses the shared group, the map flags the binding it makes."""
    sites = tmp_path / "sites"
    shutil.copytree(REPO / "sites", sites)
    edit(sites, "groups: [ria-ml]}", "groups: [ria-ml, tartu-nlp-devs]}")
    with pytest.raises(SpecError) as refused:
        load_fleet(sites)
    assert "group 'tartu-nlp-devs' is bound to tenant" in str(refused.value.issues), refused.value
    # What the stack would have planned for it: ria's developer Role bound to tartu-nlp's group too.
    shared = binding(
        "RoleBinding",
        "tenant-developer-tartu-nlp-devs",
        "Role",
        "tenant-developer",
        {"kind": "Group", "name": "tartu-nlp-devs"},
        "tenant-ria",
    )
    found = derive_map(variant(base, manifests=[*base.manifests, shared])).findings
    outside = [f for f in found if f.id == "ACCESS-TENANT-001"]
    assert {f.subject for f in outside} == {"Group tartu-nlp-devs"}
    assert any("acts for tenant-tartu-nlp" in f.detail and "namespace tenant-ria" in f.detail for f in outside)


def test_tenant_group_bound_cluster_wide_is_flagged(base: AccessInputs) -> None:
    crb = binding("ClusterRoleBinding", "peek", "ClusterRole", "view", {"kind": "Group", "name": "ria-ml"})
    found = derive_map(variant(base, manifests=[*base.manifests, crb])).findings
    assert [(f.id, f.subject) for f in found] == [("ACCESS-TENANT-001", "Group ria-ml")]
    assert "every namespace (cluster-wide)" in found[0].detail


@pytest.mark.parametrize(
    "group", ["system:authenticated", "system:serviceaccounts", "system:serviceaccounts:tenant-ria"]
)
def test_a_binding_to_a_group_every_tenant_is_in_is_flagged(base: AccessInputs, group: str) -> None:
    crb = binding("ClusterRoleBinding", "all", "ClusterRole", "view", {"kind": "Group", "name": group})
    found = derive_map(variant(base, manifests=[*base.manifests, crb])).findings
    assert {f.id for f in found} == {"ACCESS-TENANT-001"}
    acting = {d for f in found for d in ("tenant-ria", "tenant-tartu-nlp") if f"acts for {d}" in f.detail}
    assert acting == ({"tenant-ria"} if group.endswith("tenant-ria") else {"tenant-ria", "tenant-tartu-nlp"})


def test_tenant_service_account_bound_in_another_namespace_is_flagged(base: AccessInputs) -> None:
    sa = {"kind": "ServiceAccount", "name": "ci", "namespace": "tenant-ria"}
    rb = binding("RoleBinding", "ci", "ClusterRole", "edit", sa, "sitekit-serving")
    assert ids(variant(base, manifests=[*base.manifests, rb])) == ["ACCESS-TENANT-001"]


def test_tenant_able_to_rewrite_its_isolation_is_flagged(base: AccessInputs) -> None:
    rb = binding("RoleBinding", "own", "ClusterRole", "admin", {"kind": "Group", "name": "ria-ml"}, "tenant-ria")
    assert ids(variant(base, manifests=[*base.manifests, rb])) == ["ACCESS-TENANT-002"]
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": "netadmin", "namespace": "tenant-ria"},
        "rules": [{"apiGroups": ["networking.k8s.io"], "resources": ["networkpolicies"], "verbs": ["*"]}],
    }
    rb2 = binding("RoleBinding", "net", "Role", "netadmin", {"kind": "Group", "name": "ria-ml"}, "tenant-ria")
    found = derive_map(variant(base, manifests=[*base.manifests, role, rb2])).findings
    assert [f.id for f in found] == ["ACCESS-TENANT-002"] and "delete networkpolicies" in found[0].detail


# ------------------------------------------------------------------------------ paths out of the country


def test_spec_refuses_out_of_country_egress(tmp_path: Path) -> None:
    sites = tmp_path / "sites"
    shutil.copytree(REPO / "sites", sites)
    edit(
        sites,
        "  operator_networks: [10.20.250.0/24]",
        "  operator_networks: [10.20.250.0/24]\n  extra_egress: [{name: s3, cidr: 52.95.0.0/16, ports: [443]}]",
    )
    with pytest.raises(SpecError) as info:
        load_fleet(sites)
    assert "residency.extra_egress[0].cidr" in str(info.value)


def test_host_egress_outside_the_country_is_flagged(base: AccessInputs) -> None:
    bad = variant(base)
    hostvars(bad, "ee-gpu-1")["sitekit_egress"] = [
        {"name": "s3", "cidr": "52.95.0.0/16", "proto": "tcp", "ports": [443]}
    ]
    found = derive_map(bad).findings
    assert [(f.id, f.subject) for f in found] == [("ACCESS-NET-002", "hosts gpu_workers")]
    assert "52.95.0.0/16" in found[0].detail
    groups = {g.group for g in derive_map(bad).host_groups}
    assert groups == {"control_plane", "gpu_workers"}  # principals are the same, so the group stays one


@pytest.mark.parametrize(
    ("rule", "outside"),
    [
        ("ip daddr 1.1.1.1 tcp dport 443 accept", ": 1.1.1.1/32 ("),
        ("ip daddr { 10.20.9.0/24, 9.9.9.9 } accept", ": 9.9.9.9/32 ("),
        ("tcp dport 443 accept", ": 0.0.0.0/0 ("),  # no destination: anywhere
        ("ip daddr @somewhere accept", ": 0.0.0.0/0 ("),  # a named set the map cannot read: anywhere
    ],
)
def test_raw_firewall_output_rules_are_read_worst_case(base: AccessInputs, rule: str, outside: str) -> None:
    bad = variant(base)
    hostvars(bad, "ee-cp-1")["firewall_extra_output_rules"] = [rule]
    found = derive_map(bad).findings
    assert [f.id for f in found] == ["ACCESS-NET-002"]
    assert outside in found[0].detail


@pytest.mark.parametrize("cidr", ["not-a-network", "10.20.1.300/32", ""])
def test_a_hostile_inventory_destination_is_a_clear_error(base: AccessInputs, cidr: str) -> None:
    bad = variant(base)
    hostvars(bad, "ee-gpu-2")["sitekit_egress"] = [{"name": "odd", "cidr": cidr, "proto": "tcp", "ports": [1]}]
    with pytest.raises(UserError, match=r"inventory host ee-gpu-2: firewall_egress odd: .* is not an IPv4 network"):
        derive_map(bad)


def test_unrestricted_host_output_is_flagged(base: AccessInputs) -> None:
    bad = variant(base)
    hostvars(bad, "ee-cp-1")["firewall_egress_restricted"] = False
    assert ids(bad) == ["ACCESS-NET-002"]


def test_a_collector_outside_the_country_is_flagged(base: AccessInputs) -> None:
    bad = variant(base)
    for host in ("ee-cp-1", "ee-gpu-1", "ee-gpu-2"):
        collector = dict(hostvars(bad, host)["sitekit_log_collector"])
        hostvars(bad, host)["sitekit_log_collector"] = {**collector, "address": "192.0.2.10"}
    found = derive_map(bad).findings
    assert [(f.id, f.subject) for f in found] == [("ACCESS-NET-002", "hosts gpu_workers")]
    assert "192.0.2.10/32 (tcp/6514" in found[0].detail


def test_hosts_that_disagree_on_the_collector_are_a_clear_error(base: AccessInputs) -> None:
    bad = variant(base)
    collector = dict(hostvars(bad, "ee-gpu-2")["sitekit_log_collector"])
    hostvars(bad, "ee-gpu-2")["sitekit_log_collector"] = {**collector, "port": 1514}
    with pytest.raises(UserError, match=r"different log collectors: .*1514 \(named by ee-gpu-2\)"):
        derive_map(bad)


def _policy(ns: str, to: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "leak", "namespace": ns},
        "spec": {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"to": to}]},
    }


@pytest.mark.parametrize(
    "to",
    [
        [{"ipBlock": {"cidr": "8.8.8.8/32"}}],
        [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8"]}}],
        [{"ipBlock": {"cidr": "::/0"}}],  # IPv6: outside the country's IPv4 ranges by definition
        [{"ipBlock": {"cidr": "garbage"}}],  # unreadable: reported, never dropped
    ],
)
def test_pod_egress_outside_the_country_is_flagged(base: AccessInputs, to: list[dict[str, Any]]) -> None:
    found = derive_map(variant(base, manifests=[*base.manifests, _policy("tenant-ria", to)])).findings
    assert [(f.id, f.subject) for f in found] == [("ACCESS-NET-001", "pods tenant-ria")]


def test_an_ipv6_path_shows_its_port_range(base: AccessInputs) -> None:
    policy = _policy("tenant-ria", [{"ipBlock": {"cidr": "2001:db8::/32"}}])
    policy["spec"]["egress"][0]["ports"] = [{"protocol": "TCP", "port": 8000, "endPort": 8100}]
    paths = derive_map(variant(base, manifests=[*base.manifests, policy])).paths
    assert [(p.destination, p.ports) for p in paths if p.destination == "2001:db8::/32"] == [
        ("2001:db8::/32", "tcp/8000-8100")
    ]


def test_a_namespace_without_egress_isolation_reaches_anywhere(base: AccessInputs) -> None:
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "loose"}}
    found = derive_map(variant(base, manifests=[*base.manifests, ns])).findings
    assert [(f.id, f.subject) for f in found] == [("ACCESS-NET-001", "pods loose")]
    assert "no egress NetworkPolicy" in found[0].detail


# ------------------------------------------------------------------------------ RBAC reading


def test_unknown_role_reference_is_flagged(base: AccessInputs) -> None:
    rb = binding("RoleBinding", "ghost", "Role", "not-planned", {"kind": "User", "name": "x"}, "sitekit-serving")
    assert ids(variant(base, manifests=[*base.manifests, rb])) == ["ACCESS-RBAC-001"]


def test_aggregated_cluster_role_and_wildcards_are_expanded() -> None:
    def cluster_role(
        name: str, labels: dict[str, str], rules: list[dict[str, Any]], agg: bool = False
    ) -> dict[str, Any]:
        role: dict[str, Any] = {"kind": "ClusterRole", "metadata": {"name": name, "labels": labels}, "rules": rules}
        if agg:
            role["aggregationRule"] = {"clusterRoleSelectors": [{"matchLabels": {"agg": "yes"}}]}
            role["rules"] = []
        return role

    manifests = [
        cluster_role("top", {}, [], agg=True),
        cluster_role("a", {"agg": "yes"}, [{"apiGroups": [""], "resources": ["pods"], "verbs": ["*"]}]),
        cluster_role("b", {"agg": "yes"}, [{"apiGroups": ["apps"], "resources": ["*"], "verbs": ["get"]}]),
        cluster_role("c", {"agg": "no"}, [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["delete"]}]),
        binding("ClusterRoleBinding", "t", "ClusterRole", "top", {"kind": "User", "name": "u"}),
    ]
    (grant,), unresolved = grants(manifests)
    assert unresolved == [] and grant.cluster_wide and not grant.cluster_admin
    by_group = {r.api_groups: r for r in grant.rules}
    assert set(by_group) == {("",), ("apps",)}
    assert by_group[("",)].verbs == ALL_VERBS and by_group[("",)].wildcard_verbs
    assert by_group[("apps",)].wildcard_resources and by_group[("apps",)].verbs == ("get",)


@pytest.mark.parametrize(
    "obj",
    [
        {"kind": "RoleBinding", "metadata": {"name": "x", "namespace": "n"}, "subjects": "not-a-list"},
        {"kind": "ClusterRoleBinding", "metadata": None, "roleRef": None, "subjects": [None, 3]},
        {"kind": "ClusterRole", "metadata": {"name": "r"}, "rules": [None, {"verbs": "*"}], "aggregationRule": {}},
    ],
)
def test_hostile_rbac_objects_do_not_crash_the_reader(obj: dict[str, Any]) -> None:
    found, unresolved = grants([obj])
    assert all(g.subject.kind for g in found)
    assert isinstance(unresolved, list)


def test_a_stale_render_is_refused(base: AccessInputs, tmp_path: Path) -> None:
    root = tmp_path / "root"
    shutil.copytree(REPO / "inventories" / "ee", root / "inventories" / "ee")
    vars_file = root / "inventories" / "ee" / "group_vars" / "all" / "sitekit.yml"
    text = vars_file.read_text()
    vars_file.write_text(text.replace("sitekit_spec_digest: ", "sitekit_spec_digest: 00", 1))
    with pytest.raises(CheckFailed, match="sitekit render ee"):
        rendered_inventory(base.site, root / "inventories" / "ee")
