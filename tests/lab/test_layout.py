"""The lab's derived layout and inventory, without starting anything (no root needed)."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
import yaml
from labkit import REPO, SITES

from sitekit.errors import UserError
from sitekit.lab import inventory
from sitekit.lab.layout import check_cc, layout_for
from sitekit.spec import Site, load_fleet


@pytest.fixture(scope="module")
def ee_site() -> Site:
    return load_fleet(SITES).site("ee")


def test_layout_comes_from_the_spec(ee_site: Site) -> None:
    layout = layout_for("ee", ee_site)
    assert [h.name for h in layout.hosts] == ["ee-cp-1", "ee-gpu-1", "ee-gpu-2"]
    assert layout.gateway == ipaddress.IPv4Interface("10.20.0.254/24")
    assert layout.operator == ipaddress.IPv4Interface("10.20.250.10/24")
    assert layout.mirror_url == "http://10.20.1.10/debian"
    assert layout.mirror_host == "mirror.ee.sovereign.example"
    addresses = {str(a.ip) for a in layout.bridge_addresses()}
    assert {"10.20.0.254", "10.20.250.10", "10.20.1.10", "10.20.1.123", "10.20.1.53"} <= addresses


def test_bad_input_is_a_user_error(ee_site: Site) -> None:
    with pytest.raises(UserError, match="two letters"):
        check_cc("est")
    with pytest.raises(UserError, match="no host ee-nope"):
        layout_for("ee", ee_site, ("ee-nope",))


def test_inventory_keeps_rendered_groups_and_adds_connection(ee_site: Site, tmp_path: Path) -> None:
    layout = layout_for("ee", ee_site, ("ee-gpu-1",))
    rendered = tmp_path / "rendered"
    (rendered / "group_vars" / "all").mkdir(parents=True)
    (rendered / "group_vars" / "all" / "sitekit.yml").write_text("sitekit_package_mirror_url: http://x/debian\n")
    tree = {
        "all": {
            "children": {
                h: {"hosts": {n: {"ansible_host": a}}}
                for h, n, a in [("control_plane", "ee-cp-1", "10.20.0.11"), ("gpu_workers", "ee-gpu-1", "10.20.0.21")]
            }
        }
    }
    (rendered / "hosts.yml").write_text(yaml.safe_dump(tree))
    inv = tmp_path / "inv"
    inventory.write(layout, "container", inv, rendered, tmp_path / "key", tmp_path / "ssh_config")
    hosts = yaml.safe_load((inv / "hosts.yml").read_text())
    assert hosts["all"]["children"]["control_plane"]["hosts"] == {}
    gpu = hosts["all"]["children"]["gpu_workers"]["hosts"]["ee-gpu-1"]
    assert gpu["ansible_user"] == "ansible"
    assert gpu["ansible_ssh_common_args"] == f"-F {tmp_path / 'ssh_config'}"
    assert (inv / "group_vars" / "all" / "sitekit.yml").exists()
    # The lab's overrides load after the rendered file, so they win.
    assert sorted(p.name for p in (inv / "group_vars" / "all").iterdir()) == ["sitekit.yml", "sitekit_lab.yml"]
    config = inventory.ssh_config(layout, tmp_path / "key", tmp_path / "known_hosts")
    assert "nc -s 10.20.250.10 %h %p" in config
    assert "StrictHostKeyChecking yes" in config
    assert str(REPO) not in config
