"""The control catalogue against the playbooks and the host checks (no lab needed).

Every control in sitekit/controls.yaml must be applied by a task tagged with its ID (Ansible's own
`--list-tags` over site.yml, hardening and keys, so imports and blocks count as Ansible sees them), and verified by the
testinfra function its `check` names in tests/hosts/; no task may carry an SK-* tag the catalogue does
not know; every deviation a site declares must be a catalogued deviation.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from sitekit.controls import load_controls

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def playbook_tags() -> set[str]:
    proc = subprocess.run(
        [
            str(Path(sys.executable).with_name("ansible-playbook")),
            "-i",
            str(REPO / "inventories" / "ee"),
            str(REPO / "playbooks" / "site.yml"),
            "--list-tags",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    tags: set[str] = set()
    for match in re.finditer(r"TASK TAGS: \[([^\]]*)\]", proc.stdout):
        tags.update(t.strip() for t in match.group(1).split(",") if t.strip())
    return tags


def test_every_control_is_applied_by_a_tagged_task(playbook_tags: set[str]) -> None:
    ids = {c.id for c in load_controls()}
    assert sorted(ids - playbook_tags) == []


def test_no_task_carries_an_unknown_control_tag(playbook_tags: set[str]) -> None:
    ids = {c.id for c in load_controls()}
    assert sorted(t for t in playbook_tags if t.startswith("SK-") and t not in ids) == []


def test_every_control_has_a_check() -> None:
    defined: set[str] = set()
    for path in (REPO / "tests" / "hosts").glob("test_*.py"):
        tree = ast.parse(path.read_text())
        defined.update(n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef))
    missing = sorted(c.check for c in load_controls() if c.check not in defined)
    assert missing == []


def test_declared_deviations_are_catalogued_deviations() -> None:
    spec = yaml.safe_load((REPO / "sites" / "baseline.yaml").read_text())
    declared = {d["control"] for d in spec["compliance"]["deviations"]}
    catalogued = {c.id for c in load_controls() if c.deviation is not None}
    assert sorted(declared - catalogued) == []
