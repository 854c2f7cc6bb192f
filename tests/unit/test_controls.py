"""Every catalogued control is applied by a tagged task and verified by a host check, and nothing else is.

A control cannot be applied without being checked, or checked (and reported) without being applied.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from sitekit.controls import load_controls

ROOT = Path(__file__).resolve().parents[2]
HOST_TESTS = ROOT / "tests" / "hosts"
ROLES = ROOT / "playbooks" / "roles"
CONTROLS = load_controls()


def _check_functions() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in sorted(HOST_TESTS.glob("test_*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                assert node.name not in found, f"{node.name} defined in {found[node.name]} and {path}"
                found[node.name] = path
    return found


def _tasks(node: Any) -> Iterator[dict[str, Any]]:
    """Every task and block of a task file, blocks included (their tags apply to their tasks)."""
    if isinstance(node, list):
        for item in node:
            yield from _tasks(item)
    elif isinstance(node, dict):
        yield node
        for key in ("block", "rescue", "always"):
            if key in node:
                yield from _tasks(node[key])


def _as_tags(value: Any) -> set[str]:
    if value is None:
        return set()
    if isinstance(value, str):
        return {t.strip() for t in value.split(",")}
    return {str(t) for t in value}


def _role_tags() -> dict[str, dict[str, list[str]]]:
    """role -> tag -> task names carrying it (tags of a block count for the block's tasks)."""
    out: dict[str, dict[str, list[str]]] = {}
    for path in sorted(ROLES.glob("*/tasks/**/*.y*ml")):
        role = path.relative_to(ROLES).parts[0]
        data = yaml.safe_load(path.read_text()) or []
        for task in _tasks(data):
            tags = _as_tags(task.get("tags"))
            for key in (
                "include_tasks",
                "import_tasks",
                "ansible.builtin.include_tasks",
                "ansible.builtin.import_tasks",
            ):
                if isinstance(task.get(key), dict):
                    tags |= _as_tags(task[key].get("apply", {}).get("tags"))
            for tag in tags:
                out.setdefault(role, {}).setdefault(tag, []).append(f"{path.name}: {task.get('name', '?')}")
    return out


CHECKS = _check_functions()
TAGS = _role_tags()


def test_catalogue_loads_and_ids_are_unique() -> None:
    ids = [c.id for c in CONTROLS]
    assert ids and len(ids) == len(set(ids))


@pytest.mark.parametrize("control", CONTROLS, ids=[c.id for c in CONTROLS])
def test_control_has_a_host_check(control: Any) -> None:
    assert control.check in CHECKS, f"{control.id}: no function {control.check} in {HOST_TESTS}"


@pytest.mark.parametrize("control", CONTROLS, ids=[c.id for c in CONTROLS])
def test_control_has_a_tagged_task_in_its_role(control: Any) -> None:
    if not ROLES.is_dir() or not any(ROLES.iterdir()):
        pytest.fail(f"no roles in {ROLES}")
    tagged = TAGS.get(control.role, {}).get(control.tag)
    elsewhere = [r for r, tags in TAGS.items() if control.tag in tags and r != control.role]
    assert tagged, f"{control.id}: no task tagged {control.tag} in playbooks/roles/{control.role}/tasks" + (
        f" (found in {elsewhere} instead)" if elsewhere else ""
    )


def test_every_host_check_verifies_a_catalogued_control() -> None:
    catalogued = {c.check for c in CONTROLS}
    orphans = sorted(name for name in CHECKS if name.startswith("test_sk_") and name not in catalogued)
    assert not orphans, f"host checks without a control in sitekit/controls.yaml: {orphans}"


def test_every_control_tag_in_the_roles_is_catalogued() -> None:
    ids = {c.id for c in CONTROLS}
    unknown = sorted({t for tags in TAGS.values() for t in tags if t.startswith("SK-") and t not in ids})
    assert not unknown, f"tasks tagged with control IDs that are not in the catalogue: {unknown}"
