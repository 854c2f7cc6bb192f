"""The hardening playbook against a lab: check mode on fresh hosts, converge, idempotence, lockout safety.

The lab is a private copy of the ee demo site (code ZH, 10.98/16: lab network namespaces are named after
the country, so a copy keeps this test clear of anyone's ee lab or the keys test's zk lab). It runs
`sitekit lab up zh` in a private SITEKIT_STATE and then:

- runs `harden.yml --check` on the fresh hosts: no error, and nothing on the hosts changed;
- converges, then converges again: the second run reports changed=0 on every host;
- injects a breaking sshd option that the sshd validator catches (AllowUsers that excludes the operator):
  the play fails before anything is installed, and a fresh SSH login still works;
- injects one the validator cannot judge (sshd listening on loopback only): the change is installed and
  reloaded, the fresh-login probe fails, the guard rolls it back, the play fails, and a fresh SSH login
  works again with the previous effective configuration;
- injects a firewall rule dropping SSH from the operator network: the ruleset loads, the fresh-login probe
  fails, the guard restores the previous ruleset, the play fails, a fresh SSH login works;
- runs the firewall role with SSH sources that exclude the controller: the preflight refuses to start;
- simulates a converge interrupted after an sshd change was armed but before it was confirmed: the
  next run rolls the unconfirmed change back, converges, and a third run reports changed=0.

Times of the first converge and of the idempotent re-run are printed (run with -s to see them).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from labcopy import play_recap, private_fleet

from sitekit.controls import load_controls

REPO = Path(__file__).resolve().parents[2]
CC = "zh"
HOSTS = (f"{CC}-cp-1", f"{CC}-gpu-1", f"{CC}-gpu-2")
OPERATOR_NET = "10.98.250.0/24"
TOOLS = ("systemd-nspawn", "mmdebstrap", "nsenter", "nc", "ssh")
pytestmark = [pytest.mark.lab, pytest.mark.slow]

# Files whose content check mode must leave alone (and that the roles do manage).
WATCHED = (
    "/etc/ssh/sshd_config",
    "/etc/nftables.conf",
    "/etc/login.defs",
    "/etc/fstab",
    "/etc/apt/sources.list.d/sitekit-lab.sources",
)


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
            env=os.environ.copy(),
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
        env = {
            **os.environ,
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_TIMEOUT": "30",
            # Private ControlPath dir: other labs reuse the same user names and the controller's
            # multiplexed connections must never be shared across labs.
            "ANSIBLE_SSH_CONTROL_PATH_DIR": str(self.state / "ansible-cp"),
        }
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


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    if os.geteuid() != 0:
        pytest.skip("the lab needs root")
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        pytest.skip(f"missing tools: {', '.join(missing)}")
    state = tmp_path_factory.mktemp("harden-lab-state")
    sites = private_fleet(state / "sites", CC, 98)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SITEKIT_STATE", str(state))
        lab = Lab(state, sites)
        lab.sitekit("render")  # the lab copies the rendered group_vars of <root>/inventories/<cc>/
        up = lab.sitekit("lab", "up", CC, check=False)
        if up.returncode == 2 and "exists but no lab" in up.stderr:
            pytest.skip(f"another lab of that name is running on this machine: {up.stderr.strip()}")
        assert up.returncode == 0, up.stderr
        try:
            for host in HOSTS:  # booted hosts still settling answer sudo slowly
                lab.ssh(host, "systemctl is-system-running --wait; sudo -n true", timeout=180)
            yield lab
        finally:
            lab.sitekit("lab", "down", CC, check=False)


def _fingerprint(lab: Lab, host: str) -> str:
    files = " ".join(WATCHED)
    out = lab.ssh(host, f"sudo sh -c 'sha256sum {files} 2>&1; findmnt -no OPTIONS /tmp; nft list ruleset | sha256sum'")
    assert out.returncode == 0, out.stderr
    return out.stdout


def _assert_fresh_login(lab: Lab, host: str) -> None:
    out = lab.ssh(host, "sudo -n true && echo fresh-login-ok")
    assert out.returncode == 0 and "fresh-login-ok" in out.stdout, out.stderr


@pytest.fixture(scope="module")
def converged(lab: Lab) -> dict[str, object]:
    before = {h: _fingerprint(lab, h) for h in HOSTS}
    check = lab.playbook("--check")
    after_check = {h: _fingerprint(lab, h) for h in HOSTS}
    t0 = time.monotonic()
    first = lab.playbook()
    t1 = time.monotonic()
    second = lab.playbook()
    t2 = time.monotonic()
    print(
        f"\nharden.yml on {len(HOSTS)} hosts: first converge {t1 - t0:.1f} s, re-run {t2 - t1:.1f} s "
        f"(ratio {(t2 - t1) / (t1 - t0):.2f})"
    )
    return {
        "before": before,
        "after_check": after_check,
        "check": check.stdout,
        "first": first.stdout,
        "second": second.stdout,
    }


def test_check_mode_on_fresh_hosts_changes_nothing(converged: dict[str, object]) -> None:
    recap = play_recap(str(converged["check"]))
    assert set(recap) == set(HOSTS)
    assert all(r["failed"] == 0 and r["unreachable"] == 0 for r in recap.values()), converged["check"]
    assert converged["before"] == converged["after_check"]


def test_converges_then_second_run_changes_nothing(converged: dict[str, object]) -> None:
    first = play_recap(str(converged["first"]))
    assert set(first) == set(HOSTS) and all(r["changed"] > 0 for r in first.values())
    second = play_recap(str(converged["second"]))
    assert {h: r["changed"] for h, r in second.items()} == dict.fromkeys(HOSTS, 0), converged["second"]


def test_hardened_state_is_effective(lab: Lab, converged: dict[str, object]) -> None:
    sshd = lab.ssh(HOSTS[0], "sudo sshd -T -C user=ansible,host=x,addr=10.98.250.10")
    assert sshd.returncode == 0, sshd.stderr
    assert "passwordauthentication no" in sshd.stdout and "permitrootlogin no" in sshd.stdout
    assert "allowgroups sk-operators" in sshd.stdout
    ruleset = lab.ssh(HOSTS[0], "sudo nft list table inet sitekit").stdout
    assert "policy drop" in ruleset and "10.98.250.0/24" in ruleset
    assert "noexec" in lab.ssh(HOSTS[0], "findmnt -no OPTIONS /tmp").stdout
    assert lab.ssh(HOSTS[1], "cat /proc/sys/net/ipv4/ip_forward").stdout.strip() == "1"  # SK-SYS-003


def test_verify_passes_every_applicable_control(lab: Lab, converged: dict[str, object], tmp_path: Path) -> None:
    """The done-when of hardening: after converge, `sitekit verify` passes every control the host's tier
    can verify; the rest are skipped with a reason, and none of them is a container-verifiable control."""
    out = tmp_path / "evidence"
    proc = lab.sitekit("verify", CC, "--lab", "--out", str(out), "--tests", str(REPO / "tests" / "hosts"), check=False)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    tiers = {c.id: c.tier for c in load_controls()}
    for host in HOSTS:
        evidence = json.loads((out / f"{host}.json").read_text())
        assert evidence["summary"]["failed"] == 0 and evidence["summary"]["error"] == 0, evidence["summary"]
        assert evidence["summary"]["passed"] > 40, evidence["summary"]
        for row in evidence["results"]:
            if row["result"] == "skipped":
                assert row["reason"], row
                assert tiers[row["control"]] == "vm" or row["reason"].startswith("not applicable"), row
        assert (out / f"{host}.junit.xml").is_file()


def test_sshd_option_that_locks_out_is_refused_before_install(lab: Lab, converged: dict[str, object]) -> None:
    host = HOSTS[0]
    before = lab.ssh(host, "sudo sshd -T -C user=ansible,host=x,addr=10.98.250.10").stdout
    run = lab.playbook(
        "-l", host, "--tags", "ssh", "-e", '{"ssh_extra_options": {"AllowUsers": "nobody"}}', expect_ok=False
    )
    assert run.returncode != 0
    assert "would lock the operator out" in run.stdout, run.stdout[-3000:]
    _assert_fresh_login(lab, host)
    after = lab.ssh(host, "sudo sshd -T -C user=ansible,host=x,addr=10.98.250.10").stdout
    assert after == before


def test_sshd_change_that_cuts_new_logins_is_rolled_back(lab: Lab, converged: dict[str, object]) -> None:
    host = HOSTS[0]
    before = lab.ssh(host, "sudo sshd -T -C user=ansible,host=x,addr=10.98.250.10").stdout
    run = lab.playbook(
        "-l", host, "--tags", "ssh", "-e", '{"ssh_extra_options": {"ListenAddress": "127.0.0.1"}}', expect_ok=False
    )
    assert run.returncode != 0
    assert "was rolled back" in run.stdout, run.stdout[-3000:]
    _assert_fresh_login(lab, host)
    after = lab.ssh(host, "sudo sshd -T -C user=ansible,host=x,addr=10.98.250.10").stdout
    assert after == before
    assert lab.ssh(host, "sudo test -e /var/lib/sitekit/guard/ssh && echo pending").stdout.strip() == ""


def test_firewall_rule_dropping_the_operator_network_is_rolled_back(lab: Lab, converged: dict[str, object]) -> None:
    host = HOSTS[1]
    before = lab.ssh(host, "sudo nft list table inet sitekit").stdout
    rule = f"ip saddr {OPERATOR_NET} tcp dport 22 drop"
    run = lab.playbook(
        "-l", host, "--tags", "firewall", "-e", f'{{"firewall_extra_input_rules": ["{rule}"]}}', expect_ok=False
    )
    assert run.returncode != 0
    assert "was rolled back" in run.stdout, run.stdout[-3000:]
    _assert_fresh_login(lab, host)
    after = lab.ssh(host, "sudo nft list table inet sitekit").stdout
    assert after == before and "drop" in after and rule not in after


def test_firewall_preflight_refuses_sources_without_the_controller(lab: Lab, converged: dict[str, object]) -> None:
    host = HOSTS[2]
    before = lab.ssh(host, "sudo nft list table inet sitekit").stdout
    run = lab.playbook(
        "-l", host, "--tags", "firewall", "-e", '{"firewall_ssh_sources": ["192.0.2.0/24"]}', expect_ok=False
    )
    assert run.returncode != 0
    assert "would lock itself out" in run.stdout, run.stdout[-3000:]
    _assert_fresh_login(lab, host)
    assert lab.ssh(host, "sudo nft list table inet sitekit").stdout == before


def test_interrupted_converge_converges_on_rerun(lab: Lab, converged: dict[str, object]) -> None:
    """A run stopped after arming the sshd guard and installing a change, before confirming it."""
    host = HOSTS[2]
    dropin = "/etc/ssh/sshd_config.d/10-sitekit-hardening.conf"
    interrupted = (
        'sudo sh -c \'/usr/local/sbin/sitekit-guard arm ssh 600 "systemctl reload ssh.service" '
        f'/etc/ssh/sshd_config /etc/ssh/sshd_config.d && sed -i "1i MaxAuthTries 6" {dropin} '
        "&& systemctl reload ssh.service'"
    )
    assert lab.ssh(host, interrupted).returncode == 0
    assert "maxauthtries 6" in lab.ssh(host, "sudo sshd -T -C user=ansible,host=x,addr=10.98.250.10").stdout
    rerun = lab.playbook("-l", host)
    assert play_recap(rerun.stdout)[host]["failed"] == 0
    effective = lab.ssh(host, "sudo sshd -T -C user=ansible,host=x,addr=10.98.250.10").stdout
    assert "maxauthtries 3" in effective
    assert lab.ssh(host, "sudo test -e /var/lib/sitekit/guard/ssh && echo pending").stdout.strip() == ""
    again = lab.playbook("-l", host)
    assert play_recap(again.stdout)[host]["changed"] == 0, again.stdout[-3000:]
    _assert_fresh_login(lab, host)
