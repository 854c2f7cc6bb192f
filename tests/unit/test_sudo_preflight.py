"""SK-AUTH-004's refusal before any change (baseline tasks/preflight.yml), without a lab host: sudo's
requiretty with the connecting account not exempt, an exemption sudoers cannot take as a user name, or a
umask that is not octal stops the run and says which variable to set; a right exemption passes. Run by
`ansible-playbook` against several fake hosts at once (connection local, each with its own variables)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from local_play import PREFLIGHT_PLAY, needs_ansible, recap, run_on_fake_hosts

FITS = {"baseline_yescrypt_cost": 5, "baseline_probe": {"memtotal_mb": 4096}}


@needs_ansible
def test_requiretty_refusals_name_the_variable_and_a_right_exemption_passes(tmp_path: Path) -> None:
    hosts: dict[str, dict[str, Any]] = {
        "exempt": {"ansible_user": "deploy", "baseline_sudo_automation_accounts": ["deploy", "ci"]},
        "as-root": {"ansible_user": "root", "baseline_sudo_automation_accounts": []},
        "default-list": {"ansible_user": "deploy"},
        "not-exempt": {"ansible_user": "deploy", "baseline_sudo_automation_accounts": ["ci"]},
        "bad-name": {"ansible_user": "deploy", "baseline_sudo_automation_accounts": ["deploy", "ALL, root"]},
        "bad-umask": {"ansible_user": "deploy", "baseline_sudo_umask": "u=rwx"},
    }
    proc = run_on_fake_hosts(tmp_path, PREFLIGHT_PLAY, {h: {**FITS, **v} for h, v in hosts.items()})
    failed = {host for host, counts in recap(proc.stdout).items() if counts["failed"]}
    assert failed == {"not-exempt", "bad-name", "bad-umask"}, proc.stdout[-6000:]
    words = " ".join(proc.stdout.split())
    assert "needs the connecting account (deploy) in baseline_sudo_automation_accounts (now: ci)" in words
    assert "(refused: ALL, root)" in words
    assert "baseline_sudo_umask (u=rwx)" in words
    assert words.count("Nothing was changed") >= 3
