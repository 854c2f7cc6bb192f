"""The hardening lab shared by the playbook tests (test_harden.py, test_drift.py): its constants, ways in.

One private copy of the ee demo site (code ZH, 10.98/16: lab network namespaces are named after the
country, so it stays clear of anyone's ee lab or the keys test's zk lab), brought up once per session by
the `harden_lab` fixture of conftest.py and converged once by `harden_converged`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# SITEKIT_HARDEN_LAB="<cc>:<second octet>" moves the shared lab to another private copy (two checkouts
# running the lab tests on one machine each need their own, as lab network namespaces are named by country).
CC, _OCTET = os.environ.get("SITEKIT_HARDEN_LAB", "zh:98").split(":")
OCTET = int(_OCTET)
HOSTS = (f"{CC}-cp-1", f"{CC}-gpu-1", f"{CC}-gpu-2")
OPERATOR_NET = f"10.{OCTET}.250.0/24"
OPERATOR_ADDR = f"10.{OCTET}.250.10"  # an address inside it, for sshd -T -C
TOOLS = ("systemd-nspawn", "mmdebstrap", "nsenter", "nc", "ssh")
# The lab country's SoftHSM2 token (pkcs11 backend, as ee): the log path's certificates come from its keys.
PINS = {"SITEKIT_PKCS11_PIN": "lab-pin-2468", "SITEKIT_PKCS11_SO_PIN": "lab-so-pin-1357"}
LOG_CONFIG = "/etc/rsyslog.d/60-sitekit-logging.conf"  # the logging role's logging_rsyslog_conf default

# Files whose content check mode must leave alone (and that the roles do manage).
WATCHED = (
    "/etc/ssh/sshd_config",
    "/etc/nftables.conf",
    "/etc/login.defs",
    "/etc/fstab",
    "/etc/apt/sources.list.d/sitekit-lab.sources",
    "/etc/group",
    "/var/lib/dpkg/statoverride",
)


def lab_env(**extra: str) -> dict[str, str]:
    """The environment of a command on the shared lab: the lab token's PINs (every module that uses the
    country's keys uses the same token, so the same PINs), and no SOFTHSM2_CONF an in-process test may
    have left in os.environ (the token lives in the lab's own state folder)."""
    env = {k: v for k, v in os.environ.items() if k != "SOFTHSM2_CONF"}
    return {**env, **PINS, **extra}


class Lab:
    """One private lab: its state folder, fleet copy and ways in."""

    def __init__(self, state: Path, sites: Path) -> None:
        self.state = state
        self.sites = sites
        self.inventory = state / "lab" / CC / "inventory"
        self.ssh_config = state / "lab" / CC / "ssh_config"

    def sitekit(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [sys.executable, "-m", "sitekit.cli", "--sites", str(self.sites), "--root", str(self.state), *args],
            capture_output=True,
            text=True,
            timeout=1800,
            env=lab_env(),
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"sitekit {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
        return proc

    def playbook(
        self, *extra: str, playbook: str = "harden.yml", expect_ok: bool = True
    ) -> subprocess.CompletedProcess[str]:
        cmd = [
            str(Path(sys.executable).with_name("ansible-playbook")),
            "-i",
            str(self.inventory),
            str(REPO / "playbooks" / playbook),
            *extra,
        ]
        env = lab_env(
            ANSIBLE_NOCOLOR="1",
            ANSIBLE_TIMEOUT="30",
            # Private ControlPath dir: other labs reuse the same user names and the controller's
            # multiplexed connections must never be shared across labs.
            ANSIBLE_SSH_CONTROL_PATH_DIR=str(self.state / "ansible-cp"),
        )
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1200, env=env, cwd=REPO)
        if expect_ok:
            assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
        return proc

    def ssh(self, host: str, command: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """A fresh SSH login (never a multiplexed one) as the lab's operator account."""
        return subprocess.run(
            ["ssh", "-F", str(self.ssh_config), "-o", "ControlPath=none", "-o", "BatchMode=yes", host, command],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


def fingerprint(lab: Lab, host: str) -> str:
    files = " ".join(WATCHED)
    sudo = 'stat -c "%a %U %G" /usr/bin/sudo'
    out = lab.ssh(
        host, f"sudo sh -c 'sha256sum {files} 2>&1; {sudo}; findmnt -no OPTIONS /tmp; nft list ruleset | sha256sum'"
    )
    assert out.returncode == 0, out.stderr
    return out.stdout
