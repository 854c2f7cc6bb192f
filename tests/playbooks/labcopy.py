"""Helpers for the playbook tests: a private copy of the ee demo site, and Ansible's play recap.

Lab network namespaces are named after the country and hosts keep their spec addresses, so a test that
wants its own lab renames the country and moves its 10.20/16 ranges to a block of its own.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def private_fleet(folder: Path, cc: str, second_octet: int) -> Path:
    """baseline.yaml plus ee.yaml renamed to `cc`, with 10.20/16 moved to 10.<second_octet>/16."""
    folder.mkdir()
    shutil.copy(REPO / "sites" / "baseline.yaml", folder / "baseline.yaml")
    text = (REPO / "sites" / "ee.yaml").read_text()
    text = text.replace("code: EE", f"code: {cc.upper()}").replace("ee.sovereign", f"{cc}.sovereign")
    text = text.replace("ee-", f"{cc}-").replace("10.20.", f"10.{second_octet}.")
    (folder / f"{cc}.yaml").write_text(text)
    return folder


def play_recap(output: str) -> dict[str, dict[str, int]]:
    """The PLAY RECAP of an ansible-playbook run: host -> ok, changed, unreachable, failed."""
    pattern = r"^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)"
    return {
        m.group(1): {
            "ok": int(m.group(2)),
            "changed": int(m.group(3)),
            "unreachable": int(m.group(4)),
            "failed": int(m.group(5)),
        }
        for m in re.finditer(pattern, output, re.M)
    }


def changed_tasks(output: str) -> list[str]:
    """The names of the tasks that reported `changed` in an ansible-playbook run's default output."""
    names: list[str] = []
    task = ""
    for line in output.splitlines():
        header = re.match(r"^(?:TASK|RUNNING HANDLER) \[(.+?)\] \**$", line)
        if header:
            task = header.group(1)
        elif line.startswith("changed: [") and task and (not names or names[-1] != task):
            names.append(task)
    return names
