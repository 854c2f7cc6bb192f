"""The host-side pieces of the sudo group change (SK-AUTH-006), run here on local files.

- sitekit-guard's `attrs:PATH`: arming saves only a file's owner, group and mode (never a copy of a
  setuid binary), and the rollback puts them back without touching the content; whole-file paths still
  come back as they were.
- the baseline probe's `sudo` section: group members (listed or by primary group), which accounts exist,
  the binary's owner and mode in the form the role compares.
"""

from __future__ import annotations

import grp
import json
import os
import pwd
import stat
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
GUARD = REPO / "playbooks" / "roles" / "guarded_change" / "files" / "sitekit-guard"
PROBE = REPO / "playbooks" / "roles" / "baseline" / "files" / "sitekit-baseline-probe"


@pytest.fixture
def guard_env(tmp_path: Path) -> dict[str, str]:
    """The guard with its state in tmp_path and the systemd and syslog commands it calls stubbed."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("systemd-run", "systemctl", "logger"):
        stub = bin_dir / name
        stub.write_text("#!/bin/sh\nexit 0\n")
        stub.chmod(0o755)
    return {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "SITEKIT_GUARD_STATE": str(tmp_path / "state"),
    }


def _guard(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["sh", str(GUARD), *args], env=env, capture_output=True, text=True, check=True)


def test_attrs_path_saves_and_restores_owner_group_mode_only(tmp_path: Path, guard_env: dict[str, str]) -> None:
    binary = tmp_path / "sudo"
    binary.write_bytes(b"original")
    binary.chmod(0o4755)
    before = binary.stat()
    _guard(guard_env, "arm", "sudo", "90", "true", f"attrs:{binary}")
    saved = tmp_path / "state" / "sudo"
    assert (saved / "list").read_text() == f"attrs 1 {binary}\n"
    assert (saved / "files" / "1").read_text().split() == [str(before.st_uid), str(before.st_gid), "4755"]

    binary.chmod(0o4110)
    if os.geteuid() == 0:
        os.chown(binary, 0, 65534)
    binary.write_bytes(b"upgraded")  # a package upgrade in between: the rollback must not undo it
    _guard(guard_env, "rollback", "sudo")

    after = binary.stat()
    assert stat.S_IMODE(after.st_mode) == 0o4755
    assert (after.st_uid, after.st_gid) == (before.st_uid, before.st_gid)
    assert binary.read_bytes() == b"upgraded"
    assert not saved.exists()


def test_whole_paths_still_roll_back_next_to_attrs(tmp_path: Path, guard_env: dict[str, str]) -> None:
    db = tmp_path / "statoverride"
    db.write_text("")
    absent = tmp_path / "absent"
    binary = tmp_path / "sudo"
    binary.write_bytes(b"x")
    binary.chmod(0o4755)
    _guard(guard_env, "arm", "sudo", "90", "true", str(db), f"attrs:{binary}", str(absent))
    db.write_text("root sudogrp 4110 /usr/bin/sudo\n")
    absent.write_text("new")
    binary.chmod(0o4110)
    assert _guard(guard_env, "recover", "sudo").stdout.strip() == "recovered"
    assert db.read_text() == ""
    assert not absent.exists()
    assert stat.S_IMODE(binary.stat().st_mode) == 0o4755


def test_attrs_of_a_missing_path_refuses_to_arm(tmp_path: Path, guard_env: dict[str, str]) -> None:
    with pytest.raises(subprocess.CalledProcessError):
        _guard(guard_env, "arm", "sudo", "90", "true", f"attrs:{tmp_path / 'missing'}")
    assert not (tmp_path / "state" / "sudo" / "list").exists()


def _probe(sudo: dict[str, object]) -> dict[str, object]:
    request = {
        "packages": [],
        "sysctl": [],
        "modules": {"filesystems": [], "protocols": [], "storage": [], "never": []},
        "read": [],
        "exists": [],
        "links": [],
        "sudo": sudo,
    }
    out = subprocess.run(
        ["python3", str(PROBE), json.dumps(request)], capture_output=True, text=True, check=True
    ).stdout
    result: dict[str, object] = json.loads(out)["sudo"]
    return result


def test_probe_reads_group_members_accounts_and_the_binary(tmp_path: Path) -> None:
    me = pwd.getpwuid(os.getuid()).pw_name
    primary = grp.getgrgid(os.getgid()).gr_name  # I am a member of it by my primary group alone
    binary = tmp_path / "sudo"
    binary.write_bytes(b"x")
    binary.chmod(0o4110)
    seen = _probe(
        {"binary": str(binary), "group": primary, "accounts": [me, "sk-no-such-account"], "keep_groups": [primary]}
    )
    assert seen["group_exists"] is True
    assert me in seen["members"] and me in seen["keep_members"]  # type: ignore[operator]
    assert seen["accounts"] == {me: {"exists": True, "member": True}, **seen["accounts"]}  # type: ignore[dict-item]
    assert seen["accounts"]["sk-no-such-account"] == {"exists": False, "member": False}  # type: ignore[index]
    assert seen["binary"] == {"uid": os.getuid(), "group": primary, "mode": "4110"}
    assert seen["statoverride"] is None  # a temporary file has no dpkg statoverride


def test_probe_reports_a_missing_group_and_binary(tmp_path: Path) -> None:
    seen = _probe({"binary": str(tmp_path / "none"), "group": "sk-no-such-group", "accounts": []})
    assert seen["group_exists"] is False and seen["members"] == [] and seen["binary"] is None
