"""The keys role names a missing PIN or passphrase itself, before any no_log task could hide the cause.

Runs the role with `ansible-playbook` against the controller only (connection local): its first task
fails there with the variable's name, and a secret that is set never appears in the output.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from local_play import needs_ansible, run_playbook

pytestmark = needs_ansible
SECRETS = ("SITEKIT_PKCS11_PIN", "SITEKIT_KEY_PASSPHRASE")


def _run(tmp_path: Path, backend: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    play = tmp_path / "play.yml"
    play.write_text(
        "- name: Keys role on the controller\n  hosts: all\n  gather_facts: false\n  roles:\n    - role: keys\n"
    )
    base = {k: v for k, v in os.environ.items() if k not in SECRETS}
    args = [
        "-i",
        "localhost,",
        "-c",
        "local",
        str(play),
        "-e",
        f"sitekit_country=ee sitekit_keys_backend={backend} keys_sitekit_command=false",
        "-e",
        '{"sitekit_admin_principals": ["sre-admin"]}',
    ]
    return run_playbook(tmp_path, args, env={**base, **env}, timeout=120)


@pytest.mark.parametrize(
    ("backend", "variable"), [("pkcs11", "SITEKIT_PKCS11_PIN"), ("file", "SITEKIT_KEY_PASSPHRASE")]
)
def test_missing_secret_is_reported_by_name(tmp_path: Path, backend: str, variable: str) -> None:
    proc = _run(tmp_path, backend, {})
    assert proc.returncode != 0
    assert f"{variable} is not set in the controller's environment" in proc.stdout.replace("''", "'"), proc.stdout
    assert "has been hidden due to the fact that" not in proc.stdout


def test_a_set_pin_passes_the_check_and_is_never_printed(tmp_path: Path) -> None:
    secret = "pin-sentinel-4711-never-printed"
    proc = _run(tmp_path, "pkcs11", {"SITEKIT_PKCS11_PIN": secret})
    # The next task (`false keys public ee`, the stand-in sitekit) fails; the PIN check before it passed.
    assert "is not set in the controller's environment" not in proc.stdout, proc.stdout
    assert "read the country's public key material" in proc.stdout
    assert secret not in proc.stdout + proc.stderr
