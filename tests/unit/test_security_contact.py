"""The spec's `identity.security_contact`: a plain e-mail address or absent, a bad value is an error naming
the file and the field, and the inventory carries it (or "") as `sitekit_security_contact`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from spec_edits import problems

from sitekit.render.inventory import all_vars
from sitekit.spec import load_fleet

ROOT = Path(__file__).resolve().parents[2]
LINE = "  security_contact: security@ee.sovereign.example"


def _set_contact(folder: Path, value: str) -> None:
    path = folder / "ee.yaml"
    text = path.read_text()
    assert LINE in text
    path.write_text(text.replace(LINE, f"  security_contact: {json.dumps(value)}", 1))


def test_demo_contacts_render_into_the_inventory_and_cl_names_none() -> None:
    fleet = load_fleet(ROOT / "sites")
    assert fleet.site("ee").identity.security_contact == "security@ee.sovereign.example"
    assert all_vars(fleet.site("ee"))["sitekit_security_contact"] == "security@ee.sovereign.example"
    assert all_vars(fleet.site("ke"))["sitekit_security_contact"] == "security@ke.sovereign.example"
    assert fleet.site("cl").identity.security_contact is None
    assert all_vars(fleet.site("cl"))["sitekit_security_contact"] == ""
    # The committed render says the same (render --check guards the rest of the file).
    for cc, want in (("ee", "security@ee.sovereign.example"), ("cl", "")):
        rendered = yaml.safe_load((ROOT / "inventories" / cc / "group_vars" / "all" / "sitekit.yml").read_text())
        assert rendered["sitekit_security_contact"] == want


@pytest.mark.parametrize(
    "value",
    ["cert@ria.ee", "Security.Team+root@ee.sovereign.example", "soc_24-7%ops@a-b.example.org"],
)
def test_plain_addresses_are_accepted(fleet_copy: Path, value: str) -> None:
    _set_contact(fleet_copy, value)
    assert load_fleet(fleet_copy).site("ee").identity.security_contact == value


@pytest.mark.parametrize(
    "value",
    [
        "security",  # no domain
        "root@localhost",  # not a DNS domain
        "security@EE.example",  # upper-case domain
        "a..b@ee.example",
        ".a@ee.example",
        "a@-ee.example",
        "x" * 65 + "@ee.example",  # local part over 64
        # each of these would add a recipient, a command or a file in /etc/aliases
        "a@ee.example, attacker@evil.example",
        "a@ee.example attacker@evil.example",
        "|/bin/sh -c 'id'@ee.example",
        ":include:/etc/shadow",
        '"a b"@ee.example',
        "a@ee.example\nroot: |/tmp/x",
        "a@ee.example\\nroot",
    ],
)
def test_bad_addresses_name_the_file_and_the_field(fleet_copy: Path, value: str) -> None:
    _set_contact(fleet_copy, value)
    found = problems(fleet_copy)
    assert any("ee.yaml: identity.security_contact: " in p and "is not an e-mail address" in p for p in found), found


def test_a_non_string_contact_is_refused(fleet_copy: Path) -> None:
    path = fleet_copy / "ee.yaml"
    path.write_text(path.read_text().replace(LINE, "  security_contact: [a@ee.example]"))
    found = problems(fleet_copy)
    assert any("ee.yaml: identity.security_contact: " in p for p in found), found


def test_the_contact_is_optional(fleet_copy: Path) -> None:
    path = fleet_copy / "ee.yaml"
    path.write_text(path.read_text().replace(LINE + "\n", "").replace(LINE, ""))
    site = load_fleet(fleet_copy).site("ee")
    assert site.identity.security_contact is None
    assert all_vars(site)["sitekit_security_contact"] == ""
