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
- the AIDE database: the converges started its build on every host without waiting for it (the session
  fixture waits before verify, and prints how long each build took); with the database gone, a converge
  of SK-FIM-001 returns while the build it started still runs, a second one leaves that build alone.
  next run rolls the unconfirmed change back, converges, and a third run reports changed=0;
- restricts sudo to a group the connecting account would not be in: refused before anything changes;
- makes sudo's fresh-login proof fail after a sudo mode change: the guard puts back sudo's mode and the
  statoverride database as they were, and the next run restores root:sudogrp 4110;
- sudo's requiretty (SK-AUTH-004): a person in the sudo group (a throwaway account with a sudo rule) is
  refused without a terminal, runs sudo with one and creates 0600 files through it, and `sitekit verify`
  judges that account; a run whose connecting account is not exempt is refused before anything changes;
  a sudoers change whose fresh login fails is rolled back to the previous drop-in.

Times of the first converge and of the idempotent re-run are printed (run with -s to see them).
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest
from aidebuild import DATABASE, describe, unit_state, wait_for_build
from hardenlab import CC, HOSTS, OPERATOR_ADDR, OPERATOR_NET, REPO, Lab
from labcopy import changed_tasks, play_recap

from sitekit.controls import load_controls

pytestmark = [pytest.mark.lab, pytest.mark.slow]


@pytest.fixture(scope="module")
def lab(harden_lab: Lab) -> Lab:
    return harden_lab


@pytest.fixture(scope="module")
def converged(harden_converged: dict[str, object]) -> dict[str, object]:
    return harden_converged


def _assert_fresh_login(lab: Lab, host: str) -> None:
    out = lab.ssh(host, "sudo -n true && echo fresh-login-ok")
    assert out.returncode == 0 and "fresh-login-ok" in out.stdout, out.stderr


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
    sshd = lab.ssh(HOSTS[0], f"sudo sshd -T -C user=ansible,host=x,addr={OPERATOR_ADDR}")
    assert sshd.returncode == 0, sshd.stderr
    assert "passwordauthentication no" in sshd.stdout and "permitrootlogin no" in sshd.stdout
    assert "allowgroups sk-operators" in sshd.stdout
    ruleset = lab.ssh(HOSTS[0], "sudo nft list table inet sitekit").stdout
    assert "policy drop" in ruleset and OPERATOR_NET in ruleset
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
    before = lab.ssh(host, f"sudo sshd -T -C user=ansible,host=x,addr={OPERATOR_ADDR}").stdout
    run = lab.playbook(
        "-l", host, "--tags", "ssh", "-e", '{"ssh_extra_options": {"AllowUsers": "nobody"}}', expect_ok=False
    )
    assert run.returncode != 0
    assert "would lock the operator out" in run.stdout, run.stdout[-3000:]
    _assert_fresh_login(lab, host)
    after = lab.ssh(host, f"sudo sshd -T -C user=ansible,host=x,addr={OPERATOR_ADDR}").stdout
    assert after == before


def test_sshd_change_that_cuts_new_logins_is_rolled_back(lab: Lab, converged: dict[str, object]) -> None:
    host = HOSTS[0]
    before = lab.ssh(host, f"sudo sshd -T -C user=ansible,host=x,addr={OPERATOR_ADDR}").stdout
    run = lab.playbook(
        "-l", host, "--tags", "ssh", "-e", '{"ssh_extra_options": {"ListenAddress": "127.0.0.1"}}', expect_ok=False
    )
    assert run.returncode != 0
    assert "was rolled back" in run.stdout, run.stdout[-3000:]
    _assert_fresh_login(lab, host)
    after = lab.ssh(host, f"sudo sshd -T -C user=ansible,host=x,addr={OPERATOR_ADDR}").stdout
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
    assert "maxauthtries 6" in lab.ssh(host, f"sudo sshd -T -C user=ansible,host=x,addr={OPERATOR_ADDR}").stdout
    rerun = lab.playbook("-l", host)
    assert play_recap(rerun.stdout)[host]["failed"] == 0
    effective = lab.ssh(host, f"sudo sshd -T -C user=ansible,host=x,addr={OPERATOR_ADDR}").stdout
    assert "maxauthtries 3" in effective
    assert lab.ssh(host, "sudo test -e /var/lib/sitekit/guard/ssh && echo pending").stdout.strip() == ""
    again = lab.playbook("-l", host)
    assert play_recap(again.stdout)[host]["changed"] == 0, again.stdout[-3000:]
    _assert_fresh_login(lab, host)


def test_converge_built_the_aide_database_on_every_host(converged: dict[str, object]) -> None:
    builds = converged["aide"]
    assert isinstance(builds, dict) and set(builds) == set(HOSTS)
    for host, build in builds.items():
        assert (build.state, build.result) == ("inactive", "success"), describe(host, build)
        assert build.seconds is not None, describe(host, build)


def test_aide_build_runs_out_of_band(lab: Lab, converged: dict[str, object]) -> None:
    """The converge starts the build and returns while it runs; a converge meanwhile starts nothing."""
    host = HOSTS[2]
    assert lab.ssh(host, f"sudo rm {DATABASE}").returncode == 0
    started = lab.playbook("-l", host, "--tags", "SK-FIM-001")
    state = unit_state(lambda c: lab.ssh(host, c))
    changed = changed_tasks(started.stdout)
    assert any("Start the first database build" in t for t in changed), started.stdout[-3000:]
    assert state == "activating", f"the converge returned with the build {state}: it waited for it"
    during = lab.playbook("-l", host, "--tags", "SK-FIM-001")
    assert play_recap(during.stdout)[host]["changed"] == 0, during.stdout[-3000:]
    build = wait_for_build(lambda c: lab.ssh(host, c))
    print("\n" + describe(host, build))
    assert (build.state, build.result) == ("inactive", "success"), describe(host, build)
    assert lab.ssh(host, f"sudo test -s {DATABASE}").returncode == 0


SUDO_STATE = "stat -c '%a %U %G' /usr/bin/sudo; sudo dpkg-statoverride --list /usr/bin/sudo; getent group sk-lockout"


def test_sudo_group_without_the_connecting_account_is_refused(lab: Lab, converged: dict[str, object]) -> None:
    host = HOSTS[0]
    before = lab.ssh(host, SUDO_STATE).stdout
    assert "4110 root sudogrp" in before and "root sudogrp 4110 /usr/bin/sudo" in before, before
    run = lab.playbook(
        "-l",
        host,
        "--tags",
        "baseline_sudo",
        "-e",
        '{"baseline_sudo_group": "sk-lockout", "baseline_sudo_members": []}',
        expect_ok=False,
    )
    assert run.returncode != 0
    words = " ".join(run.stdout.split())  # the callback wraps long messages
    assert "would remove its own sudo" in words and "Nothing was changed" in words, run.stdout[-3000:]
    assert play_recap(run.stdout)[host]["changed"] == 0
    assert lab.ssh(host, SUDO_STATE).stdout == before  # no sk-lockout group, sudo untouched
    _assert_fresh_login(lab, host)


def test_sudo_change_whose_fresh_login_fails_is_rolled_back(lab: Lab, converged: dict[str, object]) -> None:
    host = HOSTS[0]
    drift = lab.ssh(host, "sudo sh -c 'dpkg-statoverride --remove /usr/bin/sudo && chmod 4755 /usr/bin/sudo'")
    assert drift.returncode == 0, drift.stderr
    before = lab.ssh(host, SUDO_STATE).stdout
    assert before.split()[:3] == ["4755", "root", "sudogrp"] and "/usr/bin/sudo" not in before, before
    run = lab.playbook(
        "-l", host, "--tags", "baseline_sudo", "-e", '{"guarded_change_probe_command": "false"}', expect_ok=False
    )
    assert run.returncode != 0
    assert "was rolled back" in run.stdout and "Register root:group" in run.stdout, run.stdout[-3000:]
    assert lab.ssh(host, SUDO_STATE).stdout == before  # mode and (no) statoverride as before the change
    assert lab.ssh(host, "sudo test -e /var/lib/sitekit/guard/sudo && echo pending").stdout.strip() == ""
    _assert_fresh_login(lab, host)
    repair = lab.playbook("-l", host, "--tags", "baseline_sudo")
    assert play_recap(repair.stdout)[host]["changed"] > 0
    after = lab.ssh(host, SUDO_STATE).stdout
    assert "4110 root sudogrp" in after and "root sudogrp 4110 /usr/bin/sudo" in after, after
    _assert_fresh_login(lab, host)


PERSON = "sk-sudo-person"
SUDOERS = "/etc/sudoers.d/10-sitekit"
# Run on the lab host as root: argv[2] as account argv[1] under a pseudo-terminal (su from a pty.fork child);
# prints the output and the exit status.
UNDER_PTY = r"""
import os, pty, sys
pid, fd = pty.fork()
if pid == 0:
    os.execv("/bin/su", ["su", "-s", "/bin/sh", "-c", sys.argv[2], sys.argv[1]])
out = b""
while True:
    try:
        chunk = os.read(fd, 1024)
    except OSError:
        break
    if not chunk:
        break
    out += chunk
_, status = os.waitpid(pid, 0)
print(out.decode(errors="replace"))
print("exit", os.waitstatus_to_exitcode(status))
"""


def _as_root(lab: Lab, host: str, command: str) -> str:
    out = lab.ssh(host, "sudo sh -c " + shlex.quote(command), timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


@pytest.fixture
def person(lab: Lab, converged: dict[str, object]) -> Iterator[str]:
    """A person in the sudo group with a passwordless sudo rule of their own (so only the terminal matters)."""
    host = HOSTS[0]
    _as_root(
        lab,
        host,
        f"useradd -m -s /bin/bash {PERSON} && gpasswd -a {PERSON} sudogrp >/dev/null && "
        f"echo '{PERSON} ALL=(ALL:ALL) NOPASSWD: ALL' > /etc/sudoers.d/95-{PERSON} && "
        f"chmod 0440 /etc/sudoers.d/95-{PERSON} && visudo -c >/dev/null",
    )
    try:
        yield host
    finally:
        _as_root(
            lab, host, f"rm -f /etc/sudoers.d/95-{PERSON} /tmp/{PERSON}-made; userdel -r {PERSON} 2>/dev/null; true"
        )


def test_people_need_a_terminal_for_sudo_and_create_files_only_root_reads(
    lab: Lab, person: str, tmp_path: Path
) -> None:
    host = person
    without = lab.ssh(host, f"sudo setsid -w su -s /bin/sh -c 'sudo -n true' {PERSON} </dev/null")
    assert without.returncode != 0, without.stdout
    assert "must have a tty" in without.stdout + without.stderr, without.stdout + without.stderr
    made = f"/tmp/{PERSON}-made"
    script = f"umask 022; sudo -n touch {made} && echo person-sudo-ok"
    under = _as_root(lab, host, f"python3 -c {shlex.quote(UNDER_PTY)} {PERSON} {shlex.quote(script)}")
    assert "person-sudo-ok" in under and under.strip().endswith("exit 0"), under
    assert _as_root(lab, host, f"stat -c '%a %U' {made}").split() == ["600", "root"]
    _assert_fresh_login(lab, host)  # the automation account still runs sudo without a terminal
    out = tmp_path / "evidence"
    proc = lab.sitekit(
        "verify",
        CC,
        "--lab",
        "-l",
        host,
        "-c",
        "SK-AUTH-004",
        "--out",
        str(out),
        "--tests",
        str(REPO / "tests" / "hosts"),
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    result = next(r for r in json.loads((out / f"{host}.json").read_text())["results"] if r["control"] == "SK-AUTH-004")
    assert result["observed"]["tty required, umask"][PERSON] == [True, "0077"], result["observed"]


def test_requiretty_without_the_connecting_account_exempt_is_refused(lab: Lab, converged: dict[str, object]) -> None:
    host = HOSTS[0]
    before = _as_root(lab, host, f"sha256sum {SUDOERS}")
    run = lab.playbook(
        "-l", host, "--tags", "SK-AUTH-004", "-e", '{"baseline_sudo_automation_accounts": ["deploy"]}', expect_ok=False
    )
    assert run.returncode != 0
    words = " ".join(run.stdout.split())
    for said in (
        "needs the connecting account",
        "baseline_sudo_automation_accounts (now: deploy)",
        "Nothing was changed",
    ):
        assert said in words, run.stdout[-3000:]
    assert play_recap(run.stdout)[host]["changed"] == 0
    assert _as_root(lab, host, f"sha256sum {SUDOERS}") == before
    _assert_fresh_login(lab, host)


def test_sudoers_change_whose_fresh_login_fails_is_rolled_back(lab: Lab, converged: dict[str, object]) -> None:
    host = HOSTS[0]
    _as_root(lab, host, f"sed -i '/^Defaults requiretty$/d' {SUDOERS}")
    before = _as_root(lab, host, f"sha256sum {SUDOERS}")
    run = lab.playbook(
        "-l", host, "--tags", "SK-AUTH-004", "-e", '{"guarded_change_probe_command": "false"}', expect_ok=False
    )
    assert run.returncode != 0
    assert "was rolled back" in run.stdout and "sitekit-guard sudoers" in " ".join(run.stdout.split()), run.stdout[
        -3000:
    ]
    assert _as_root(lab, host, f"sha256sum {SUDOERS}") == before  # the drifted drop-in, as before the change
    assert (
        _as_root(lab, host, "test -e /var/lib/sitekit/guard/sudoers && echo pending || echo clear").strip() == "clear"
    )
    _assert_fresh_login(lab, host)
    repair = lab.playbook("-l", host, "--tags", "SK-AUTH-004")
    assert play_recap(repair.stdout)[host]["changed"] > 0
    assert _as_root(lab, host, f"grep -cx 'Defaults requiretty' {SUDOERS}").strip() == "1"
    _assert_fresh_login(lab, host)
