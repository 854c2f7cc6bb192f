"""The command: exit codes (0 ok, 1 failed check, 2 bad input) and no traceback for bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sitekit.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_validate_demo_fleet(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--sites", str(ROOT / "sites"), "validate"]) == 0
    out = capsys.readouterr().out
    assert "3 countries" in out and "ok  ee  Estonia" in out


def test_invalid_spec_exits_2_without_traceback(fleet_copy: Path) -> None:
    ee = fleet_copy / "ee.yaml"
    ee.write_text(ee.read_text().replace("node_cidr: 10.20.0.0/24", "node_cidr: 10.20.0.0/33"))
    proc = subprocess.run(
        [sys.executable, "-m", "sitekit.cli", "--sites", str(fleet_copy), "validate"],
        capture_output=True, text=True,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "ee.yaml: network.node_cidr: Input is not a valid IPv4 network" in proc.stderr


def test_missing_sites_folder_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--sites", str(tmp_path / "nope"), "validate"]) == 2
    assert "not a folder with a fleet spec" in capsys.readouterr().err


def test_unknown_country_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--sites", str(ROOT / "sites"), "show", "zz"]) == 2
    assert "no site 'zz' in the fleet (known: cl, ee, ke)" in capsys.readouterr().err


def test_usage_error_exits_2() -> None:
    with pytest.raises(SystemExit) as info:
        main(["no-such-command"])
    assert info.value.code == 2


def test_show_prints_the_resolved_site(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--sites", str(ROOT / "sites"), "show", "cl", "--format", "json"]) == 0
    site = json.loads(capsys.readouterr().out)
    assert site["keys"]["backend"] == "file" and site["cluster"]["kubernetes_version"] == "1.30"


def test_schema_is_json_schema_with_descriptions(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert "identity" in schema["required"]
    host = schema["$defs"]["Host"]
    assert host["additionalProperties"] is False
    assert all("description" in prop for prop in host["properties"].values())
    assert main(["schema", "--overlay"]) == 0
    overlay = json.loads(capsys.readouterr().out)

    def keys(node: object) -> set[str]:
        if isinstance(node, dict):
            return set(node) | {k for v in node.values() for k in keys(v)}
        if isinstance(node, list):
            return {k for v in node for k in keys(v)}
        return set()

    assert "required" not in keys(overlay) and "required" in keys(schema)


def test_every_field_has_a_description() -> None:
    from pydantic import BaseModel

    from sitekit.spec import models

    for obj in vars(models).values():
        if isinstance(obj, type) and issubclass(obj, BaseModel) and obj.__module__ == models.__name__:
            for name, field in obj.model_fields.items():
                assert field.description, f"{obj.__name__}.{name} has no description"
            assert obj.model_config.get("extra") == "forbid" and obj.model_config.get("frozen")
