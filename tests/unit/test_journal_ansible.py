"""The Ansible callback shipped with the playbooks: a local play's recap and changed controls reach the journal."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sitekit.journal.store import Journal
from sitekit.journal.verify import verify

REPO = Path(__file__).resolve().parents[2]
ANSIBLE = shutil.which("ansible-playbook", path=str(Path(sys.executable).parent)) or shutil.which("ansible-playbook")
pytestmark = pytest.mark.skipif(ANSIBLE is None, reason="ansible-playbook is not installed")

PLAY = """
- name: Converge a control
  hosts: lab
  connection: local
  gather_facts: false
  tasks:
    - name: Change something
      ansible.builtin.command: "true"
      changed_when: true
      tags: [ssh, SK-SSH-004]
    - name: Check something
      ansible.builtin.command: "true"
      changed_when: false
      tags: [firewall, SK-FW-001]
- name: Nothing to change
  hosts: lab
  connection: local
  gather_facts: false
  tasks:
    - name: Probe
      ansible.builtin.command: "true"
      changed_when: false
      tags: [SK-AUD-001]
"""


def _run(tmp_path: Path) -> subprocess.CompletedProcess[str]:
    (tmp_path / "play.yml").write_text(PLAY)
    (tmp_path / "hosts.yml").write_text(
        "lab:\n  hosts:\n    localhost:\n      ansible_python_interpreter: " + sys.executable + "\n"
        "  vars:\n    sitekit_country: cl\n"
    )
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "ANSIBLE_LOCAL_TEMP": str(tmp_path / "tmp")}
    return subprocess.run(
        [str(ANSIBLE), "-i", str(tmp_path / "hosts.yml"), str(tmp_path / "play.yml")],
        cwd=tmp_path,
        env=env,
        text=True,
        capture_output=True,
        timeout=300,
    )


def test_each_play_is_journalled_with_the_controls_that_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SITEKIT_STATE", str(tmp_path / "state"))
    done = _run(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    journal = Journal("cl", tmp_path / "state" / "journal" / "cl")
    report = verify(journal, None)
    assert report.ok, report.problems
    first, second = report.records
    assert first["kind"] == "ansible" and first["play"] == "Converge a control" and first["playbook"] == "play.yml"
    assert first["hosts"] == {
        "localhost": {
            "ok": 1,
            "changed": 1,
            "failed": 0,
            "skipped": 0,
            "unreachable": 0,
            "changed_controls": ["SK-SSH-004"],
        }
    }
    assert second["hosts"]["localhost"]["changed_controls"] == [] and second["hosts"]["localhost"]["ok"] == 1
    assert first["operator"]["user"]


def test_an_unavailable_journal_warns_keeps_the_record_and_never_fails_the_play(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SITEKIT_STATE", str(tmp_path / "state"))
    folder = tmp_path / "state" / "journal" / "cl"
    folder.mkdir(parents=True)
    (folder / "journal.jsonl").write_bytes(b'{"torn')
    done = _run(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "sitekit_journal" in done.stdout + done.stderr and "missed.jsonl" in done.stdout + done.stderr
    kept = [json.loads(line) for line in (folder / "missed.jsonl").read_text().splitlines()]
    assert [k["play"] for k in kept] == ["Converge a control", "Nothing to change"]
    assert all("torn" in k["not_chained_because"] for k in kept)
