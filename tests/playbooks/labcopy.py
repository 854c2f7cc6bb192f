"""A private copy of the ee demo site for the playbook tests, so each test's lab never meets another's.

Lab network namespaces are named after the country and hosts keep their spec addresses, so a test that
wants its own lab renames the country and moves its 10.20/16 ranges to a block of its own.
"""

from __future__ import annotations

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
