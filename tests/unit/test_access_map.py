"""The demo country's access map: concrete subjects, verbs, principals, custodians, M-of-N, paths and the log path.

Every expected value below is what the demo spec (sites/ee.yaml over sites/baseline.yaml) declares; the map
must reach it through the rendered inventory and the planned objects, not from the spec directly.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from access_inputs import REPO, demo_inputs, hostvars, variant

from sitekit.access import AccessInputs, AccessMap, derive_map
from sitekit.access.derive import rendered_inventory
from sitekit.access.hosts import sudoers_rules
from sitekit.access.logpath import PROTOCOL
from sitekit.access.model import CLUSTER
from sitekit.access.report import render
from sitekit.access.schema import SCHEMA_ID, to_json
from sitekit.cli import main
from sitekit.pki.hierarchy import Hierarchy
from sitekit.spec import load_fleet


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> AccessInputs:
    return demo_inputs("ee", tmp_path_factory.mktemp("empty-state"))


@pytest.fixture(scope="module")
def amap(inputs: AccessInputs) -> AccessMap:
    return derive_map(inputs)


def test_tenant_groups_hold_the_tenant_role_in_their_namespace_only(amap: AccessMap) -> None:
    by_subject = {(g.subject.kind, g.subject.name): g for g in amap.grants}
    assert set(by_subject) == {("Group", "ria-ml"), ("Group", "tartu-nlp-devs")}
    ria = by_subject[("Group", "ria-ml")]
    assert (ria.scope, ria.role_kind, ria.role_name) == ("tenant-ria", "Role", "tenant-developer")
    assert ria.binding == "RoleBinding tenant-ria/tenant-developer-ria-ml"
    assert not ria.cluster_admin
    core = next(r for r in ria.rules if r.api_groups == ("",) and "pods" in r.resources)
    assert {"create", "delete", "get", "list", "patch", "update", "watch"} == set(core.verbs)
    assert "secrets" in core.resources
    policies = next(r for r in ria.rules if "networkpolicies" in r.resources)
    assert set(policies.verbs) == {"get", "list", "watch"}  # may read, not rewrite, its isolation
    assert by_subject[("Group", "tartu-nlp-devs")].scope == "tenant-tartu-nlp"
    assert not any(g.scope == CLUSTER for g in amap.grants)


def test_no_cluster_admin_in_the_plan_and_charts_are_named_as_unseen(amap: AccessMap) -> None:
    assert amap.cluster_admins() == []
    assert amap.masters_certificates == []
    unseen = " ".join(amap.not_expanded)
    for chart in ("gpu-operator", "ingress-nginx", "metrics-server"):
        assert f"chart {chart}" in unseen


def test_ssh_principals_and_sudo_per_host_group(amap: AccessMap) -> None:
    groups = {g.group: g for g in amap.host_groups}
    assert set(groups) == {"control_plane", "gpu_workers"}  # storage has no host in ee
    cp, gpu = groups["control_plane"], groups["gpu_workers"]
    assert cp.hosts == ("ee-cp-1",) and gpu.hosts == ("ee-gpu-1", "ee-gpu-2")
    assert cp.principals == ("sre-admin", "platform")
    assert gpu.principals == ("sre-admin", "platform", "gpu-oncall")
    assert cp.login_group == gpu.login_group == "sk-operators"
    assert cp.ssh_sources == ("10.20.250.0/24",)
    assert "sudo -n true" in cp.sudo and "grants no user rule" in cp.sudo
    assert any("EncryptionConfiguration" in h for h in cp.holds)
    assert any("/srv/models" in h for h in gpu.holds)
    assert not any("EncryptionConfiguration" in h for h in gpu.holds)


def test_a_lab_style_inventory_names_the_login_account(inputs: AccessInputs) -> None:
    lab = variant(inputs)
    for host in ("ee-cp-1", "ee-gpu-1", "ee-gpu-2"):
        hostvars(lab, host)["ansible_user"] = "sitekit"
    groups = derive_map(lab).host_groups
    assert {g.login_accounts for g in groups} == {("sitekit",)}
    assert all("passwordless" not in g.sudo and "without a password for sitekit" in g.sudo for g in groups)


def test_a_sudoers_user_rule_in_the_role_is_reported(tmp_path: Path, inputs: AccessInputs) -> None:
    template = tmp_path / "baseline" / "templates" / "sudoers-sitekit.j2"
    template.parent.mkdir(parents=True)
    shipped = (inputs.roles_dir / "baseline" / "templates" / "sudoers-sitekit.j2").read_text()
    template.write_text(shipped + "{% if true %}\n%sk-operators ALL=(ALL:ALL) NOPASSWD: ALL\n{% endif %}\n")
    assert sudoers_rules(inputs.roles_dir) == []  # the shipped drop-in: Defaults only
    assert sudoers_rules(tmp_path) == ["%sk-operators ALL=(ALL:ALL) NOPASSWD: ALL"]


def test_custodians_and_m_of_n(amap: AccessMap) -> None:
    custody = amap.custody
    assert custody is not None
    assert custody.backend == "pkcs11"
    assert custody.custodians == (
        ("Mari Tamm", "security-officer"),
        ("Jaan Kask", "platform-lead"),
        ("Liis Saar", "legal"),
    )
    assert custody.threshold == 2
    assert "2 of the 3 custodians" in custody.root_rebuild
    powers = {p.power.split(" (")[0]: p.routes for p in custody.powers}
    assert any("token sitekit-ee" in r for r in powers["a model volume's recovery key"])
    data_key = powers["the Kubernetes Secrets data key"]
    assert any("control_plane hosts (ee-cp-1)" in r and "sre-admin, platform" in r for r in data_key)
    readers = powers["read Secrets through the API"]
    assert "Group ria-ml (namespace tenant-ria)" in readers


def test_network_paths_stay_in_the_country(amap: AccessMap) -> None:
    paths = {(p.source_kind, p.source, p.destination, p.ports) for p in amap.paths}
    assert ("hosts", "gpu_workers", "10.20.1.20/32", "tcp/443") in paths  # container registry
    assert ("hosts", "control_plane", "10.20.1.53/32", "udp/53") in paths
    assert ("pods", "sitekit-metrics", "10.20.0.0/24", "tcp/10250") in paths
    assert ("pods", "gpu-operator", "10.20.0.11/32", "tcp/6443") in paths
    assert not any(p.source.startswith("tenant-") for p in amap.paths)  # tenants: DNS only, in-cluster
    assert all(p.inside_country for p in amap.paths)
    assert amap.contained == ["sitekit-serving", "tenant-ria", "tenant-tartu-nlp"]
    assert amap.findings == []


def test_json_is_the_documented_schema_and_stable(amap: AccessMap, inputs: AccessInputs) -> None:
    doc = to_json(amap)
    assert doc["schema"] == SCHEMA_ID
    assert set(doc) == {"schema", "country", "spec_digest", "sources", "kubernetes", "hosts", "keys", "network"} | {
        "findings",
        "ok",
    }
    assert doc["ok"] is True and doc["keys"]["threshold"] == 2 and doc["keys"]["shares"] == 3
    assert doc["kubernetes"]["grants"][0]["subject"] == {"kind": "Group", "name": "ria-ml", "namespace": None}
    assert json.dumps(doc, sort_keys=True) == json.dumps(to_json(derive_map(inputs)), sort_keys=True)
    text = render(amap)
    assert "Findings: none" in text and "SSH principals (AuthorizedPrincipalsFile): sre-admin, platform" in text


def test_cli_prints_the_map_and_exits_0(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SITEKIT_STATE", str(tmp_path))
    rc = main(["--root", str(REPO), "access", "EE", "--json"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert json.loads(out)["country"] == "ee"


def test_cli_refuses_a_bad_country_code(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["access", "../etc"])
    assert info.value.code == 2


# ------------------------------------------------------------------------------ the log path

LOGGING = "logging:\n  collector: ee-cp-1\n"


def _rendered(tmp_path: Path, base: AccessInputs, old: str, new: str) -> AccessInputs:
    """The inputs of a fleet copy whose ee.yaml has `old` replaced by `new`, rendered into a fresh root."""
    sites = tmp_path / "sites"
    shutil.copytree(REPO / "sites", sites)
    path = sites / "ee.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    root = tmp_path / "root"
    assert main(["--sites", str(sites), "--root", str(root), "render", "ee"]) == 0
    site = load_fleet(sites).site("ee")
    return variant(base, site=site, inventory=rendered_inventory(site, root / "inventories" / "ee"))


def test_the_demo_hosts_send_to_the_collector_over_mutual_tls(amap: AccessMap) -> None:
    path = amap.log_path
    assert path is not None
    assert (path.collector, path.address, path.port) == ("ee-cp-1", "10.20.0.11", 6514)
    assert path.protocol == PROTOCOL and path.protocol.startswith("tcp, syslog over TLS")
    assert path.senders == ("ee-gpu-1", "ee-gpu-2")  # every host but the collector
    assert path.accepted_sources == ("10.20.0.21", "10.20.0.22")  # the senders' addresses, nothing wider
    assert path.authentication.startswith("mutual TLS (x509/name)")
    assert path.issuing_ca.startswith("the EE logging intermediate (OU=logging)")
    assert "no key state on this machine" in path.issuing_ca  # the demo inputs read an empty state
    assert path.ca_file == "/etc/sitekit/logging/ca.pem"
    assert path.collector_accepts == ("ee-gpu-1.ee.sovereign.example", "ee-gpu-2.ee.sovereign.example")
    assert path.senders_require == ("ee-cp-1.ee.sovereign.example",)


def test_each_sender_has_the_network_path_and_the_collector_none(amap: AccessMap) -> None:
    to_collector = {(p.source, p.destination, p.ports, p.inside_country) for p in amap.paths if "6514" in p.ports}
    assert to_collector == {("gpu_workers", "10.20.0.11/32", "tcp/6514", True)}
    assert amap.findings == []


def test_json_and_text_show_the_log_path(amap: AccessMap) -> None:
    doc = json.loads(json.dumps(to_json(amap)))
    log = doc["network"]["log_path"]
    assert log["collector"] == "ee-cp-1" and log["port"] == 6514 and log["senders"] == ["ee-gpu-1", "ee-gpu-2"]
    assert log["accepted_sources"] == ["10.20.0.21", "10.20.0.22"]
    assert set(log) == {
        "collector",
        "address",
        "port",
        "protocol",
        "senders",
        "accepted_sources",
        "authentication",
        "issuing_ca",
        "ca_file",
        "collector_accepts",
        "senders_require",
    }
    text = render(amap)
    assert "  hosts ee-gpu-1, ee-gpu-2 -> ee-cp-1 10.20.0.11 port 6514" in text
    assert "the collector's firewall accepts it from: 10.20.0.21, 10.20.0.22" in text
    assert "-> 10.20.0.11/32 tcp/6514 (log path to the collector ee-cp-1)" in text


def test_a_site_without_a_logging_section_has_no_log_path(inputs: AccessInputs, tmp_path: Path) -> None:
    bare = _rendered(tmp_path, inputs, LOGGING, "")
    assert bare.site.logging is None
    amap = derive_map(bare)
    assert amap.log_path is None
    assert not any("6514" in p.ports or "log path" in p.via for p in amap.paths)
    assert to_json(amap)["network"]["log_path"] is None
    assert "Log path: none (the spec has no logging section" in render(amap)
    assert amap.findings == []


def test_the_collector_and_port_come_from_the_spec(inputs: AccessInputs, tmp_path: Path) -> None:
    moved = _rendered(tmp_path, inputs, LOGGING, "logging:\n  collector: ee-gpu-2\n  port: 7514\n")
    path = derive_map(moved).log_path
    assert path is not None
    assert (path.collector, path.address, path.port) == ("ee-gpu-2", "10.20.0.22", 7514)
    assert path.senders == ("ee-cp-1", "ee-gpu-1")
    assert path.accepted_sources == ("10.20.0.11", "10.20.0.21")
    assert path.senders_require == ("ee-gpu-2.ee.sovereign.example",)


def test_the_active_logging_generation_is_named_from_the_key_state(inputs: AccessInputs, state: Path) -> None:
    site = inputs.site.model_copy(update={"keys": inputs.site.keys.model_copy(update={"backend": "file"})})
    with Hierarchy.open(site) as h:
        h.init()
        active = h.cert(h.active_intermediate("logging"))
        keys_dir = h.layout.base
    path = derive_map(variant(inputs, keys_dir=keys_dir)).log_path
    assert path is not None
    assert f"active generation {active.subject.rfc4514_string()} until " in path.issuing_ca
    assert "OU=logging" in active.subject.rfc4514_string()
