"""Running a play with the repository's roles on the controller (connection local), for the unit tests that
judge a role's own logic (a preflight, a refusal) without a lab host."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
PLAYBOOK = Path(sys.executable).with_name("ansible-playbook")
needs_ansible = pytest.mark.skipif(not PLAYBOOK.exists(), reason="ansible-playbook is not installed")


def run_playbook(
    tmp_path: Path,
    args: list[str],
    env: Mapping[str, str] | None = None,
    timeout: float = 180,
) -> subprocess.CompletedProcess[str]:
    """`ansible-playbook ARGS` in `tmp_path`, with the repository's roles, no colour and Ansible's local
    temporary files under `tmp_path`. `env` is the whole environment to start from (default: this
    process's), so a caller can leave variables out."""
    return subprocess.run(
        [str(PLAYBOOK), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=tmp_path,
        env={
            **(os.environ if env is None else env),
            "ANSIBLE_ROLES_PATH": str(REPO / "playbooks" / "roles"),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-tmp"),
        },
    )


PREFLIGHT_PLAY = """- name: The baseline role's preflight against fake hosts
  hosts: all
  gather_facts: false
  tasks:
    - name: Preflight
      ansible.builtin.import_role:
        name: baseline
        tasks_from: preflight
"""
"""The baseline role's preflight (its refusals before any change) as a play of its own."""


def run_on_fake_hosts(tmp_path: Path, play: str, hosts: dict[str, dict[str, Any]]) -> subprocess.CompletedProcess[str]:
    """`play` against fake hosts (connection local, `hosts` their variables), with the repository's roles."""
    inventory = tmp_path / "inventory.json"
    python = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    inventory.write_text(json.dumps({"all": {"hosts": {h: {**python, **v} for h, v in hosts.items()}}}))
    (tmp_path / "play.yml").write_text(play)
    return run_playbook(tmp_path, ["-i", str(inventory), str(tmp_path / "play.yml")])


def recap(stdout: str) -> dict[str, dict[str, int]]:
    """The PLAY RECAP of a run: host -> every count it lists (ok, changed, failed, skipped, ...)."""
    rows = {}
    for line in stdout.split("PLAY RECAP", 1)[-1].splitlines():
        if " : " in line:
            host, counts = line.split(" : ", 1)
            rows[host.strip()] = {k: int(v) for k, v in (kv.split("=") for kv in counts.split())}
    return rows
