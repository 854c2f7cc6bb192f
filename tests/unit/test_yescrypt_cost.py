"""The yescrypt cost of SK-AUTH-001, without a lab host.

- the baseline role's memory guard (tasks/preflight.yml), run by `ansible-playbook` on the controller
  against several fake hosts at once (connection local, each with its own probe result): a cost whose hash
  needs more than half the host's memory is refused with the variable, the memory and the highest cost
  that fits; one that fits passes;
- sitekit's unix pam-auth-update profile (templates/pam-config-unix.j2), derived from Debian 12's: rounds=
  on the pam_unix password lines only, an older rounds= replaced, and rendering its own output again
  changes nothing (a converge after the diversion reads either file);
- the host check's judgement of common-password, the unix profile and login.defs (tests/hosts).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hostcheck_fakes import host_check_module
from local_play import PREFLIGHT_PLAY, REPO, needs_ansible, recap, run_on_fake_hosts

TEMPLATE = REPO / "playbooks" / "roles" / "baseline" / "templates" / "pam-config-unix.j2"

# libpam-runtime 1.5.2-6+deb12u1's /usr/share/pam-configs/unix
DEBIAN_UNIX = """Name: Unix authentication
Default: yes
Priority: 256
Auth-Type: Primary
Auth:
\t[success=end default=ignore]\tpam_unix.so nullok try_first_pass
Auth-Initial:
\t[success=end default=ignore]\tpam_unix.so nullok
Account-Type: Primary
Account:
\t[success=end new_authtok_reqd=done default=ignore]\tpam_unix.so
Account-Initial:
\t[success=end new_authtok_reqd=done default=ignore]\tpam_unix.so
Session-Type: Additional
Session:
\trequired\tpam_unix.so
Session-Initial:
\trequired\tpam_unix.so
Password-Type: Primary
Password:
\t[success=end default=ignore]\tpam_unix.so obscure use_authtok try_first_pass yescrypt
Password-Initial:
\t[success=end default=ignore]\tpam_unix.so obscure yescrypt
"""


@needs_ansible
def test_memory_guard_refuses_a_cost_over_half_the_memory_and_passes_one_that_fits(tmp_path: Path) -> None:
    hosts = {
        # a 2 GiB VM's MemTotal: 1024 MiB for one hash is more than half of it
        "vm2g": {"baseline_yescrypt_cost": 11, "baseline_probe": {"memtotal_mb": 1967}},
        "exactly-half": {"baseline_yescrypt_cost": 11, "baseline_probe": {"memtotal_mb": 2048}},
        "gpu-host": {"baseline_yescrypt_cost": 11, "baseline_probe": {"memtotal_mb": 515000}},
        "small-at-9": {"baseline_yescrypt_cost": 9, "baseline_probe": {"memtotal_mb": 960}},
        "small-at-10": {"baseline_yescrypt_cost": 10, "baseline_probe": {"memtotal_mb": 960}},
        "unreadable": {"baseline_yescrypt_cost": 5, "baseline_probe": {"memtotal_mb": None}},
    }
    proc = run_on_fake_hosts(tmp_path, PREFLIGHT_PLAY, hosts)
    counts = recap(proc.stdout)
    assert set(counts) == set(hosts), proc.stdout + proc.stderr
    failed = {h for h, r in counts.items() if r["failed"]}
    assert failed == {"vm2g", "small-at-10", "unreadable"}, proc.stdout
    assert all(r["changed"] == 0 for r in counts.values())
    words = " ".join(proc.stdout.split())  # the callback wraps long messages
    assert (
        "baseline_yescrypt_cost=11 needs 1024 MiB of memory for every password hash and check, more than half"
        " of this host's 1967 MiB. Set baseline_yescrypt_cost for this host to at most 10" in words
    ), proc.stdout
    assert "baseline_yescrypt_cost=10 needs 512 MiB" in words and "960 MiB" in words and "at most 9" in words
    assert "This host's memory is unknown (MemTotal unreadable in /proc/meminfo)" in words, proc.stdout


def _render(tmp_path: Path, vendors: dict[str, str], cost: int) -> dict[str, str]:
    """The unix profile the role derives from each vendor text (as the probe reads it), at `cost`."""
    out = tmp_path / "rendered"
    out.mkdir(exist_ok=True)
    play = f"""- name: Render sitekit's unix profile
  hosts: all
  gather_facts: false
  tasks:
    - name: Render
      ansible.builtin.copy:
        dest: "{out}/{{{{ inventory_hostname }}}}"
        content: "{{{{ lookup('ansible.builtin.template', '{TEMPLATE}') }}}}"
        mode: "0644"
"""
    hosts = {h: {"baseline_pam_unix_vendor": v, "baseline_yescrypt_cost": cost} for h, v in vendors.items()}
    proc = run_on_fake_hosts(tmp_path, play, hosts)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return {h: (out / h).read_text() for h in vendors}


@needs_ansible
def test_unix_profile_gets_rounds_on_its_password_lines_only(tmp_path: Path) -> None:
    older = DEBIAN_UNIX.replace("try_first_pass yescrypt\n", "try_first_pass yescrypt rounds=5\n")
    got = _render(tmp_path, {"debian": DEBIAN_UNIX, "older": older}, 11)
    want = (
        DEBIAN_UNIX.replace("Name: Unix authentication", "Name: Unix authentication (sitekit: yescrypt cost 11)")
        .replace("try_first_pass yescrypt\n", "try_first_pass yescrypt rounds=11\n")
        .replace("pam_unix.so obscure yescrypt\n", "pam_unix.so obscure yescrypt rounds=11\n")
    )
    assert got == {"debian": want, "older": want}
    # The role reads its own copy where the vendor file is not (yet) at the diverted path: same result.
    again = _render(tmp_path, {"own": want, "own-other-cost": want.replace("rounds=11", "rounds=8")}, 11)
    assert again == {"own": want, "own-other-cost": want}


CHECKS = host_check_module("test_baseline_yescrypt", "test_baseline.py")
COMMON_PASSWORD = (
    "password\trequisite\tpam_pwquality.so retry=3\n"
    "password\trequisite\tpam_pwhistory.so remember=5 use_authtok enforce_for_root\n"
    "password\t[success=1 default=ignore]\tpam_unix.so obscure use_authtok try_first_pass yescrypt rounds=11\n"
    "password\trequisite\tpam_deny.so\n"
)
PROFILE = DEBIAN_UNIX.replace("yescrypt\n", "yescrypt rounds=11\n")


class _Files:
    """The host check's `probe` as far as the cost check uses it: file contents by path."""

    def __init__(self, files: dict[str, str]) -> None:
        self.files = files

    def cat(self, path: str) -> str | None:
        return self.files.get(path)


def _judge(common: str, profile: str, login_defs: dict[str, str], method: str = "YESCRYPT") -> list[Any]:
    seen: list[Any] = []
    probe = _Files({"/etc/pam.d/common-password": common, "/usr/share/pam-configs/unix": profile})
    CHECKS._yescrypt_cost(probe, lambda s, w: seen.append((s, w)), login_defs, 11, method)
    return seen


def test_host_check_passes_cost_11_in_common_password_profile_and_login_defs() -> None:
    seen = _judge(COMMON_PASSWORD, PROFILE, {"YESCRYPT_COST_FACTOR": "11"})
    assert seen and seen[-1][1] == {"pam_unix": "yescrypt rounds=11", "YESCRYPT_COST_FACTOR": 11}


@pytest.mark.parametrize(
    ("common", "profile", "login_defs", "message"),
    [
        (COMMON_PASSWORD.replace(" rounds=11", ""), PROFILE, {"YESCRYPT_COST_FACTOR": "11"}, "rounds=[], want 11"),
        (COMMON_PASSWORD.replace("rounds=11", "rounds=5"), PROFILE, {"YESCRYPT_COST_FACTOR": "11"}, "rounds=[5]"),
        (COMMON_PASSWORD.replace(" yescrypt", " sha512"), PROFILE, {"YESCRYPT_COST_FACTOR": "11"}, "with yescrypt"),
        ("", PROFILE, {"YESCRYPT_COST_FACTOR": "11"}, "no pam_unix password line in /etc/pam.d/common-password"),
        (COMMON_PASSWORD, DEBIAN_UNIX, {"YESCRYPT_COST_FACTOR": "11"}, "the unix profile's pam_unix has rounds=[]"),
        (COMMON_PASSWORD, "", {"YESCRYPT_COST_FACTOR": "11"}, "no pam_unix password line in /usr/share/pam-configs"),
        (COMMON_PASSWORD, PROFILE, {}, "YESCRYPT_COST_FACTOR=None, want 11"),
        (COMMON_PASSWORD, PROFILE, {"YESCRYPT_COST_FACTOR": "5"}, "YESCRYPT_COST_FACTOR=5, want 11"),
    ],
    ids=[
        "rounds-gone",
        "rounds-5",
        "not-yescrypt",
        "no-pam-unix",
        "vendor-profile",
        "no-profile",
        "no-factor",
        "factor-5",
    ],
)
def test_host_check_fails_each_way_the_cost_can_be_lost(
    common: str, profile: str, login_defs: dict[str, str], message: str
) -> None:
    with pytest.raises(AssertionError, match=message.replace("[", r"\[").replace("]", r"\]")):
        _judge(common, profile, login_defs)
