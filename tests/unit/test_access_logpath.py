"""The access map's log path: the demo country's hosts send their records to its collector (sites/ee.yaml
`logging.collector: ee-cp-1`, default port 6514) over mutual TLS, and a spec without a `logging:` section
has no log path at all. The map reaches both through the rendered inventory and the firewall and logging
roles' variables; the spec-side cases render a changed copy of the fleet, as `sitekit render` would.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from access_inputs import REPO, demo_inputs, hostvars, variant

from sitekit.access import AccessInputs, AccessMap, derive_map
from sitekit.access.derive import rendered_inventory
from sitekit.access.logpath import PROTOCOL
from sitekit.access.report import render
from sitekit.access.schema import to_json
from sitekit.cli import main
from sitekit.errors import UserError
from sitekit.pki.hierarchy import Hierarchy
from sitekit.spec import load_fleet

LOGGING = "logging:\n  collector: ee-cp-1\n"


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> AccessInputs:
    return demo_inputs("ee", tmp_path_factory.mktemp("empty-state"))


@pytest.fixture(scope="module")
def amap(inputs: AccessInputs) -> AccessMap:
    return derive_map(inputs)


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


def test_the_active_logging_generation_is_named_from_the_key_state(
    inputs: AccessInputs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SITEKIT_STATE", str(tmp_path / "state"))
    monkeypatch.setenv("SITEKIT_KEY_PASSPHRASE", "unit-test-passphrase")
    site = inputs.site.model_copy(update={"keys": inputs.site.keys.model_copy(update={"backend": "file"})})
    with Hierarchy.open(site) as h:
        h.init()
        active = h.cert(h.active_intermediate("logging"))
        keys_dir = h.layout.base
    path = derive_map(variant(inputs, keys_dir=keys_dir)).log_path
    assert path is not None
    assert f"active generation {active.subject.rfc4514_string()} until " in path.issuing_ca
    assert "OU=logging" in active.subject.rfc4514_string()


def test_a_collector_outside_the_country_is_flagged(inputs: AccessInputs) -> None:
    bad = variant(inputs)
    for host in ("ee-cp-1", "ee-gpu-1", "ee-gpu-2"):
        collector = dict(hostvars(bad, host)["sitekit_log_collector"])
        hostvars(bad, host)["sitekit_log_collector"] = {**collector, "address": "192.0.2.10"}
    found = derive_map(bad).findings
    assert [(f.id, f.subject) for f in found] == [("ACCESS-NET-002", "hosts gpu_workers")]
    assert "192.0.2.10/32 (tcp/6514" in found[0].detail


def test_hosts_that_disagree_on_the_collector_are_a_clear_error(inputs: AccessInputs) -> None:
    bad = variant(inputs)
    collector = dict(hostvars(bad, "ee-gpu-2")["sitekit_log_collector"])
    hostvars(bad, "ee-gpu-2")["sitekit_log_collector"] = {**collector, "port": 1514}
    with pytest.raises(UserError, match=r"different log collectors: .*1514 \(named by ee-gpu-2\)"):
        derive_map(bad)
