"""The command: exit codes (0 ok, 1 failed check, 2 bad input) and no traceback for bad input."""

from __future__ import annotations

import itertools
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


_MEASURE = """
import json, resource, subprocess, sys, time
start = time.perf_counter()
proc = subprocess.run([sys.executable, "-m", "sitekit.cli", *sys.argv[1:]], capture_output=True, text=True)
wall = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"rc": proc.returncode, "stderr": proc.stderr, "wall": wall,
                  "cpu": usage.ru_utime + usage.ru_stime, "rss_mb": usage.ru_maxrss / 1024}))
"""


def measured(*argv: str) -> dict[str, object]:
    """Run `sitekit argv` from a fresh interpreter; its exit status, stderr, wall and CPU seconds, peak RSS."""
    out = subprocess.run([sys.executable, "-c", _MEASURE, *argv], capture_output=True, text=True, check=True)
    result: dict[str, object] = json.loads(out.stdout)
    return result


def test_alias_bomb_is_a_spec_error_fast_and_small(fleet_copy: Path) -> None:
    """Nine levels of nine aliases: exit 2 naming the file, in well under a second and 200 MB.

    Wall and CPU time are compared with validating the demo fleet the same way: the command's own start
    (interpreter, imports) is ~0.5 s idle but over 2 s on a loaded test machine, and must not fail the test,
    while a bomb that expands (tens of seconds, GBs) still does. `test_alias_bomb_is_refused_quickly`
    bounds the loading itself at 1 s absolute.
    """
    bomb_text = "a: &a [" + ", ".join(["x"] * 9) + "]\n"
    bomb_text += "".join(f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]\n" for p, n in itertools.pairwise("abcdefghi"))
    baseline = measured("--sites", str(ROOT / "sites"), "validate")
    ee = fleet_copy / "ee.yaml"
    first = len(ee.read_text().splitlines()) + 1  # the bomb's first line
    ee.write_text(ee.read_text() + bomb_text)
    bomb = measured("--sites", str(fleet_copy), "validate")
    assert bomb["rc"] == 2, bomb
    assert "Traceback" not in str(bomb["stderr"])
    assert f"{ee}: b[0]: an alias (*name) of the value anchored at line {first}, column 4" in str(bomb["stderr"])
    assert float(str(bomb["rss_mb"])) < 200, bomb
    assert float(str(bomb["cpu"])) < float(str(baseline["cpu"])) + 1.0, (bomb, baseline)
    assert float(str(bomb["wall"])) < float(str(baseline["wall"])) + 1.0, (bomb, baseline)


@pytest.mark.parametrize(
    "command", [["validate"], ["show", "ee"], ["render", "ee"], ["render", "--check"], ["plan", "ee"]]
)
def test_huge_integer_exits_2_naming_file_and_field(
    fleet_copy: Path, tmp_path: Path, command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    ee = fleet_copy / "ee.yaml"
    line = 1 + ee.read_text().split("gpu_quota: 2,")[0].count("\n")
    ee.write_text(ee.read_text().replace("gpu_quota: 2,", f"gpu_quota: {'9' * 5000},"))
    out = tmp_path / "root"
    assert main(["--sites", str(fleet_copy), "--root", str(out), *command]) == 2
    err = capsys.readouterr().err
    assert f"{ee}: tenants[1].gpu_quota: line {line}, column 42: an integer of 5000 characters is too large" in err
    assert not out.exists(), "nothing may be written for an invalid spec"


def _country_commands() -> list[list[str]]:
    """Every (sub)command with a country-code argument, found by walking the parser."""
    import argparse

    from sitekit.cli import build_parser, country_code

    found = []

    def walk(parser: argparse.ArgumentParser, path: list[str]) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, child in action.choices.items():
                    walk(child, [*path, name])
            elif action.dest == "cc":
                assert action.type is country_code, f"{' '.join(path)}: cc must use sitekit.cli.country_code"
                found.append(path)

    walk(build_parser(), [])
    return found


# What each command needs besides its country code to parse (positionals after it, required options).
_EXTRA = {
    "keys rotate": ["ingress"],
    "keys sign-user": ["-", "--identity", "x"],
    "keys sign-host": ["--host", "x"],
    "keys volume-key": ["--host", "x"],
    "keys boot-password": ["--host", "x"],
    "keys log-cert": ["--host", "x"],
    "keys sign-artifact": ["f"],
    "keys verify-artifact": ["f"],
}


def test_every_country_argument_uses_the_one_rule() -> None:
    commands = {" ".join(c) for c in _country_commands()}
    assert {"show", "render", "plan", "keys init", "keys status", "lab up", "lab status", "lab down"} <= commands
    assert {"verify", "scan", "keys sign-user", "keys token-init"} <= commands
    assert set(_EXTRA) <= commands


@pytest.mark.parametrize("command", _country_commands(), ids=" ".join)
@pytest.mark.parametrize("value", ["../etc", "e", "eee", "e1", "éé", "", "ee\n"])
def test_bad_country_code_is_a_usage_error(command: list[str], value: str, capsys: pytest.CaptureFixture[str]) -> None:
    from sitekit.cli import build_parser

    with pytest.raises(SystemExit) as info:
        build_parser().parse_args([*command, value, *_EXTRA.get(" ".join(command), [])])
    assert info.value.code == 2
    assert f"{value!r} is not a country code: give the two-letter ISO 3166-1 code, e.g. ee or EE" in (
        capsys.readouterr().err
    )


@pytest.mark.parametrize("command", _country_commands(), ids=" ".join)
@pytest.mark.parametrize("value", ["ee", "EE", "Ee"])
def test_country_code_in_either_case_is_accepted_as_lower_case(command: list[str], value: str) -> None:
    from sitekit.cli import build_parser

    args = build_parser().parse_args([*command, value, *_EXTRA.get(" ".join(command), [])])
    assert args.cc == ["ee"] if command == ["render"] else args.cc == "ee"


def test_upper_case_code_runs_end_to_end(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--sites", str(ROOT / "sites"), "show", "EE", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["identity"]["code"] == "EE"
    assert main(["--sites", str(ROOT / "sites"), "--root", str(ROOT), "render", "--check", "EE", "cl"]) == 0


def test_path_as_country_never_reaches_a_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`verify ../etc` and `lab down ../etc` used to build paths from the argument; now argparse stops them."""
    for argv in (["verify", "../etc", "--lab"], ["lab", "down", "../etc"], ["scan", "..", "--fetch-only"]):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 2
        assert "is not a country code" in capsys.readouterr().err
