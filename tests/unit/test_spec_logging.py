"""The spec's `logging` section: the collector must be one of the country's own hosts, inside its ranges,
and a bad value is an error naming the file and the field; the inventory carries what the roles need."""

from __future__ import annotations

from pathlib import Path

import pytest
from spec_edits import edit, problems

from sitekit.render.inventory import all_vars
from sitekit.spec import load_fleet

ROOT = Path(__file__).resolve().parents[2]


def test_demo_countries_name_their_collector_and_the_default_port() -> None:
    fleet = load_fleet(ROOT / "sites")
    ee = fleet.site("ee")
    assert ee.logging is not None and ee.logging.collector == "ee-cp-1" and ee.logging.port == 6514
    for cc in fleet.codes():
        site = fleet.site(cc)
        collector = site.log_collector()
        assert collector is not None and any(collector.address in r for r in site.residency.address_ranges)


def test_a_collector_that_is_not_a_host_of_the_site_is_refused(fleet_copy: Path) -> None:
    edit(fleet_copy, "ee.yaml", "collector: ee-cp-1", "collector: ke-cp-1")
    found = problems(fleet_copy)
    assert any(
        p.endswith(
            "ee.yaml: logging.collector: 'ke-cp-1' is not a host of this site (hosts: ee-cp-1, ee-gpu-1,"
            " ee-gpu-2): the collector must be one of the country's own hosts"
        )
        for p in found
    ), found


def test_a_collector_outside_the_country_ranges_is_refused(fleet_copy: Path) -> None:
    # The node network (and so the collector's address) moved outside EE's 10.20/16.
    for old, new in (
        ("node_cidr: 10.20.0.0/24", "node_cidr: 10.99.0.0/24"),
        ("10.20.0.11", "10.99.0.11"),
        ("10.20.0.21", "10.99.0.21"),
        ("10.20.0.22", "10.99.0.22"),
    ):
        edit(fleet_copy, "ee.yaml", old, new)
    found = problems(fleet_copy)
    assert any(
        "ee.yaml: logging.collector: collector ee-cp-1 has address 10.99.0.11, outside the country's address"
        " ranges (10.20.0.0/16): logs must stay in the country" in p
        for p in found
    ), found


@pytest.mark.parametrize(
    ("snippet", "field", "reason"),
    [
        ("  port: 0\n", "logging.port", "Input should be greater than or equal to 1"),
        ("  port: 70000\n", "logging.port", "Input should be less than or equal to 65535"),
        ("  protocol: udp\n", "logging.protocol", "Extra inputs are not permitted"),
    ],
)
def test_bad_logging_fields_name_file_and_field(fleet_copy: Path, snippet: str, field: str, reason: str) -> None:
    edit(fleet_copy, "ee.yaml", "  collector: ee-cp-1\n", "  collector: ee-cp-1\n" + snippet)
    found = problems(fleet_copy)
    assert any(p.endswith(f"ee.yaml: {field}: {reason}") for p in found), found


def test_a_collector_name_that_is_no_host_name_is_refused(fleet_copy: Path) -> None:
    edit(fleet_copy, "ee.yaml", "collector: ee-cp-1", "collector: EE_CP_1")
    found = problems(fleet_copy)
    assert any("ee.yaml: logging.collector: String should match pattern" in p for p in found), found


def test_without_a_logging_section_there_is_no_collector(fleet_copy: Path) -> None:
    edit(fleet_copy, "ee.yaml", "logging:\n  collector: ee-cp-1\n", "")
    ee = load_fleet(fleet_copy).site("ee")
    assert ee.logging is None and ee.log_collector() is None
    variables = all_vars(ee)
    assert variables["sitekit_log_collector"] == {} and variables["sitekit_log_clients"] == []


def test_inventory_names_the_collector_and_its_clients() -> None:
    variables = all_vars(load_fleet(ROOT / "sites").site("ee"))
    assert variables["sitekit_log_collector"] == {
        "name": "ee-cp-1",
        "address": "10.20.0.11",
        "port": 6514,
        "dns_name": "ee-cp-1.ee.sovereign.example",
    }
    assert variables["sitekit_log_clients"] == [
        {"name": "ee-gpu-1", "address": "10.20.0.21", "dns_name": "ee-gpu-1.ee.sovereign.example"},
        {"name": "ee-gpu-2", "address": "10.20.0.22", "dns_name": "ee-gpu-2.ee.sovereign.example"},
    ]
