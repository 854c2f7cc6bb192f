"""Every variable a host check reads is defined by a role's defaults or the rendered inventory.

The checks in tests/hosts/ ask for their expectations by name (`expect.get("...")`, `expect.var("...")`,
`hostvars.get("...")`, `hostvars["..."]`). A name that nothing defines used to fall back silently to a
constant in the check (issue 11); now it is an error at verify time. This test finds the same mistake
before any host is touched: it parses the checks' sources for those accessor calls and looks each name
up in the roles' defaults and in the inventories `sitekit render` writes (and the lab's inventory
variables for the lab-only ones); then it renders each role variable a check reads for every host of
every rendered country, as `sitekit verify` would.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from sitekit.hostchecks.expect import ROLES, Expectations

REPO = Path(__file__).resolve().parents[2]
CHECKS = REPO / "tests" / "hosts"
ROLES_DIR = REPO / "playbooks" / "roles"
# Ansible's own per-host variables, and the variables only the lab's inventory sets (sitekit/lab/inventory.py).
MAGIC = {"group_names", "inventory_hostname"}


def _reads(path: Path) -> list[tuple[str, str, int, str | None]]:
    """(accessor, name or None if not a literal, line, rest) of every expectation read in one source file."""
    out: list[tuple[str, str, int, str | None]] = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            if not (isinstance(owner, ast.Name) and owner.id in ("expect", "hostvars")):
                continue
            if (owner.id, node.func.attr) not in {
                ("expect", "get"),
                ("expect", "var"),
                ("expect", "has"),
                ("hostvars", "get"),
            }:
                continue
            arg = node.args[0] if node.args else None
            name = arg.value if isinstance(arg, ast.Constant) and isinstance(arg.value, str) else None
            extra = "fallback" if owner.id == "expect" and (len(node.args) > 1 or node.keywords) else None
            out.append((f"{owner.id}.{node.func.attr}", name or "", node.lineno, extra if name else "not a literal"))
        elif isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id == "hostvars":
            key = node.slice
            name = key.value if isinstance(key, ast.Constant) and isinstance(key.value, str) else None
            out.append(("hostvars[]", name or "", node.lineno, None if name else "not a literal"))
    return out


def _check_files() -> list[Path]:
    return sorted(p for p in CHECKS.glob("*.py") if p.name != "conftest.py")


def _role_defaults() -> dict[str, Any]:
    names: dict[str, Any] = {}
    for role in ROLES:
        for rel in ("defaults/main.yml", "vars/main.yml"):
            path = ROLES_DIR / role / rel
            if path.is_file():
                names.update(yaml.safe_load(path.read_text()) or {})
    return names


def _inventory_names() -> set[str]:
    names: set[str] = set()
    for path in (REPO / "inventories").rglob("*.yml"):
        data = yaml.safe_load(path.read_text()) or {}
        if path.name == "hosts.yml":
            names |= set(re.findall(r"^\s+(sitekit_[a-z0-9_]+):", path.read_text(), re.M))
        elif isinstance(data, dict):
            names |= set(data)
    lab = (REPO / "sitekit" / "lab" / "inventory.py").read_text()
    return names | set(re.findall(r"\"(sitekit_lab_[a-z0-9_]+)\"", lab)) | MAGIC


def test_the_parser_finds_the_reads_it_must_judge(tmp_path: Path) -> None:
    """The scan itself: a literal read, a fallback and a computed name are all seen."""
    src = tmp_path / "test_x.py"
    src.write_text(
        "def test_a(expect, hostvars, n):\n"
        "    expect.get('a_var')\n    expect.get('b_var', 3)\n    expect.get(n)\n    hostvars['sitekit_x']\n"
    )
    reads = _reads(src)
    assert ("expect.get", "a_var", 2, None) in reads
    assert ("expect.get", "b_var", 3, "fallback") in reads
    assert ("expect.get", "", 4, "not a literal") in reads
    assert ("hostvars[]", "sitekit_x", 5, None) in reads


def test_checks_read_only_defined_variables_without_fallbacks() -> None:
    defaults = _role_defaults()
    inventory = _inventory_names()
    problems = []
    seen = 0
    for path in _check_files():
        for accessor, name, line, issue in _reads(path):
            seen += 1
            where = f"{path.relative_to(REPO)}:{line} {accessor}({name!r})"
            if issue:
                problems.append(f"{where}: {issue} (expectations are read by literal name, with no fallback)")
            elif accessor.startswith("expect") and name not in defaults and name not in inventory:
                problems.append(f"{where}: defined by no role's defaults and not in the rendered inventory")
            elif accessor.startswith("hostvars") and name not in inventory:
                problems.append(f"{where}: not an inventory variable (rendered or the lab's)")
    assert seen > 40, f"only {seen} reads found: is the scan still looking at the right calls?"
    assert not problems, "\n".join(problems)


def _hosts_vars(cc: str) -> dict[str, dict[str, Any]]:
    """Each host's inventory variables from the rendered files (all, then its groups, then the host)."""
    root = REPO / "inventories" / cc
    hosts_doc = yaml.safe_load((root / "hosts.yml").read_text())
    group_vars: dict[str, dict[str, Any]] = {}
    for path in (root / "group_vars").rglob("*.yml"):
        group = path.parent.name if path.parent.name != "group_vars" else path.stem
        group_vars.setdefault(group, {}).update(yaml.safe_load(path.read_text()) or {})
    out: dict[str, dict[str, Any]] = {}

    def walk(node: dict[str, Any], groups: list[str]) -> None:
        for group, body in (node or {}).items():
            body = body or {}
            for host, hvars in (body.get("hosts") or {}).items():
                merged: dict[str, Any] = dict(group_vars.get("all", {}))
                for g in [*groups, group]:
                    merged.update(group_vars.get(g, {}))
                merged.update(hvars or {})
                merged["group_names"] = sorted({*groups, group} - {"all"})
                merged["inventory_hostname"] = host
                out.setdefault(host, {}).update(merged)
            walk(body.get("children") or {}, [*groups, group])

    walk(hosts_doc, [])
    return out


@pytest.mark.parametrize("cc", sorted(p.name for p in (REPO / "inventories").iterdir() if p.is_dir()))
def test_every_role_variable_a_check_reads_renders_for_every_host(cc: str) -> None:
    names = sorted(
        {name for path in _check_files() for acc, name, _, issue in _reads(path) if acc.startswith("expect") and name}
    )
    hosts = _hosts_vars(cc)
    assert hosts, f"no hosts in inventories/{cc}"
    problems = []
    for host, hv in hosts.items():
        exp = Expectations(hv)
        for name in names:
            try:
                exp.get(name)
            except LookupError as exc:
                problems.append(f"{host}: {exc}")
    assert not problems, "\n".join(problems[:20])
