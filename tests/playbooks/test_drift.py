"""Drift: tampering on a hardened host is found by verify, repaired by one converge, and verify passes again.

A converge must compare the live state it owns with what it intends and repair any difference; reporting
`changed=0` over drift is a defect (docs: ARCHITECTURE.md, "Two rules keep a green result true"; issue 11).
It shares the hardening lab of test_harden.py (conftest.py: brought up and converged once per session, on
the container tier) and works on one of its hosts, which it leaves converged: checked green, then given
every kind of drift below at once (they are independent), all inside the lab host, never on this machine:

    a live firewall rule (tcp/2222 accepted)        SK-FW-002
    the input chain's policy set to accept          SK-FW-002, SK-FW-003
    a foreign table accepting on the input hook     SK-FW-002
    a foreign sshd drop-in (PasswordAuthentication) SK-SSH-002, SK-SSH-007, SK-SSH-015
    a runtime sysctl of the host's netns            SK-SYS-004
    a file mode (/etc/shadow 0644)                  SK-FS-004
    a mount's options gone (/var/tmp unmounted)     SK-FS-002
    a masked unit unmasked (ctrl-alt-del.target)    SK-SVC-004
    a cron entry and cron perms (cron.allow)        SK-SVC-003
    TMOUT's readonly declaration made TMOUT=0       SK-AUTH-003
    root let in on tty1, pam_securetty line gone    SK-AUTH-005
    logrotate back to weekly                        SK-LOG-006
    root's mail alias pointed elsewhere             SK-LOG-007
    the AIDE daily check timer disabled, the sitekit
    AIDE drop-in removed                            SK-FIM-001
    sudo's mode and its statoverride (4755, none)   SK-AUTH-006
    pam_pwhistory's line gone from common-password  SK-PAM-003
    pam_unix's rounds= gone from common-password    SK-AUTH-001

Then: verify fails naming each control; check mode reports the firewall and sshd drift as would-change and
touches nothing; one converge reports changed and repairs all of it; verify passes; the firewall and ssh
roles then report changed=0. Kernel-wide drift (a loaded blocked module, a deleted audit rule) needs the
VM tier and is not injected here. Times are printed (run with -s).
"""

from __future__ import annotations

import json
import shlex
import subprocess
import time
from pathlib import Path

import pytest
from aidebuild import DROPIN, TIMER
from hardenlab import CC, HOSTS, REPO, Lab
from labcopy import play_recap

HOST = HOSTS[1]  # a GPU worker: a cluster node (forwarding, cluster ports), like most of a site's hosts
pytestmark = [pytest.mark.lab, pytest.mark.slow]

# Each drift: (what, shell run as root inside the lab host, the controls verify must then fail).
DRIFTS: list[tuple[str, str, set[str]]] = [
    ("live firewall rule", "nft insert rule inet sitekit input tcp dport 2222 accept", {"SK-FW-002"}),
    ("input policy accept", "nft chain inet sitekit input '{ policy accept; }'", {"SK-FW-002", "SK-FW-003"}),
    (
        "foreign accepting table",
        "nft add table ip sk_drift && nft add chain ip sk_drift in '{ type filter hook input priority -10; "
        "policy accept; }' && nft add rule ip sk_drift in tcp dport 3333 accept",
        {"SK-FW-002"},
    ),
    (
        "foreign sshd drop-in",
        "printf 'PasswordAuthentication yes\\n' > /etc/ssh/sshd_config.d/00-drift.conf "
        "&& chmod 0644 /etc/ssh/sshd_config.d/00-drift.conf",
        {"SK-SSH-002", "SK-SSH-007", "SK-SSH-015"},
    ),
    ("runtime sysctl (host netns)", "sysctl -qw net.ipv4.conf.all.send_redirects=1", {"SK-SYS-004"}),
    ("file mode", "chmod 0644 /etc/shadow", {"SK-FS-004"}),
    ("mount options", "systemctl stop var-tmp.mount", {"SK-FS-002"}),
    ("masked unit unmasked", "systemctl unmask ctrl-alt-del.target", {"SK-SVC-004"}),
    ("cron entry and perms", "echo intruder >> /etc/cron.allow && chmod 0644 /etc/cron.allow", {"SK-SVC-003"}),
    (
        "TMOUT no longer readonly",
        "sed -i 's/declare -xr TMOUT=[0-9]*/TMOUT=0/' /etc/profile.d/sitekit.sh",
        {"SK-AUTH-003"},
    ),
    (
        "root allowed on a terminal",
        "echo tty1 >> /etc/securetty && sed -i '/pam_securetty/d' /etc/pam.d/login",
        {"SK-AUTH-005"},
    ),
    ("logrotate back to weekly", "sed -i 's/^daily$/weekly/' /etc/logrotate.conf", {"SK-LOG-006"}),
    ("root alias changed", "sed -i 's/^root:.*/root: someone@elsewhere.example/' /etc/aliases", {"SK-LOG-007"}),
    ("AIDE timer and drop-in", f"systemctl disable --now {TIMER} && rm {DROPIN}", {"SK-FIM-001"}),
    # chmod, never chgrp: chgrp clears the setuid bit and no later command here could use sudo
    (
        "sudo mode and statoverride",
        "dpkg-statoverride --remove /usr/bin/sudo && chmod 4755 /usr/bin/sudo",
        {"SK-AUTH-006"},
    ),
    ("password history line removed", "sed -i '/pam_pwhistory/d' /etc/pam.d/common-password", {"SK-PAM-003"}),
    (
        "pam_unix rounds removed",
        "f=/etc/pam.d/common-password && grep -q 'pam_unix.so.* rounds=' $f && sed -i 's/ rounds=[0-9]*//' $f",
        {"SK-AUTH-001"},
    ),
]


def _root(lab: Lab, command: str) -> subprocess.CompletedProcess[str]:
    """A command as root inside the lab host (a fresh login as the lab's operator, then sudo)."""
    return lab.ssh(HOST, "sudo sh -c " + shlex.quote(command), timeout=120)


def _verify(lab: Lab, out: Path) -> dict[str, dict[str, object]]:
    """`sitekit verify` of the host; its rows by control (failed and errored rows kept)."""
    tests = str(REPO / "tests" / "hosts")
    lab.sitekit("verify", CC, "--lab", "--limit", HOST, "--out", str(out), "--tests", tests, check=False)
    rows = json.loads((out / f"{HOST}.json").read_text())["results"]
    return {str(r["control"]): r for r in rows if r.get("control")}


def _failing(rows: dict[str, dict[str, object]]) -> set[str]:
    return {c for c, r in rows.items() if r["result"] in ("failed", "error")}


@pytest.fixture(scope="module")
def drift(
    harden_lab: Lab, harden_converged: dict[str, object], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, object]:
    lab = harden_lab
    ev = tmp_path_factory.mktemp("drift-evidence")
    t1 = time.monotonic()
    clean = _verify(lab, ev / "clean")
    for what, command, _ in DRIFTS:
        inj = _root(lab, command)
        assert inj.returncode == 0, f"injecting {what}: {inj.stderr}"
    t2 = time.monotonic()
    drifted = _verify(lab, ev / "drifted")
    before = _root(lab, "nft list ruleset; ls -l /etc/ssh/sshd_config.d").stdout
    check = lab.playbook("-l", HOST, "--check", "--tags", "firewall,ssh")
    after_check = _root(lab, "nft list ruleset; ls -l /etc/ssh/sshd_config.d").stdout
    t3 = time.monotonic()
    repair = lab.playbook("-l", HOST)
    t4 = time.monotonic()
    repaired = _verify(lab, ev / "repaired")
    t5 = time.monotonic()
    again = lab.playbook("-l", HOST, "--tags", "firewall,ssh")
    t6 = time.monotonic()
    print(
        f"\ndrift on {HOST}: verify+inject {t2 - t1:.0f} s, verify+check {t3 - t2:.0f} s, "
        f"repairing converge {t4 - t3:.0f} s, verify {t5 - t4:.0f} s, firewall+ssh re-run {t6 - t5:.0f} s"
    )
    return {
        "clean": clean,
        "drifted": drifted,
        "check": check.stdout,
        "same_after_check": before == after_check,
        "repair": repair.stdout,
        "repaired": repaired,
        "again": again.stdout,
        "nft": _root(lab, "nft list ruleset").stdout,
        "dropins": _root(lab, "ls -A /etc/ssh/sshd_config.d").stdout.split(),
        "sudo": _root(lab, "stat -c '%a %U %G' /usr/bin/sudo; dpkg-statoverride --list /usr/bin/sudo").stdout,
        "quarantine": _root(
            lab, "stat -c '%a %n' /var/lib/sitekit/quarantine/sshd_config.d /var/lib/sitekit/quarantine/sshd_config.d/*"
        ).stdout,
    }


def test_hardened_host_starts_green(drift: dict[str, object]) -> None:
    clean = drift["clean"]
    assert isinstance(clean, dict) and clean
    assert not _failing(clean), {c: clean[c].get("reason") for c in _failing(clean)}


@pytest.mark.parametrize("what,controls", [(d[0], d[2]) for d in DRIFTS], ids=[d[0] for d in DRIFTS])
def test_verify_names_the_control_of_each_drift(drift: dict[str, object], what: str, controls: set[str]) -> None:
    drifted = drift["drifted"]
    assert isinstance(drifted, dict)
    missed = controls - _failing(drifted)
    assert not missed, f"{what}: verify did not fail {sorted(missed)}"


def test_firewall_failure_names_the_extra_paths(drift: dict[str, object]) -> None:
    drifted = drift["drifted"]
    assert isinstance(drifted, dict)
    row = json.dumps(drifted["SK-FW-002"])
    assert "2222" in row and "3333" in row and "sk_drift" in row, row[:2000]


def test_sudo_failure_names_the_mode_and_the_missing_statoverride(drift: dict[str, object]) -> None:
    drifted = drift["drifted"]
    assert isinstance(drifted, dict)
    row = json.dumps(drifted["SK-AUTH-006"])
    assert "4755" in row and "statoverride" in row, row[:2000]


def test_check_mode_reports_drift_and_changes_nothing(drift: dict[str, object]) -> None:
    check = str(drift["check"])
    assert play_recap(check)[HOST]["changed"] > 0, check[-3000:]
    words = " ".join(check.split())  # the callback wraps long messages
    assert "Live drift: live only" in words and "ip sk_drift" in words, check[-4000:]
    assert "00-drift.conf" in words and "passwordauthentication: yes (intended no)" in words, check[-4000:]
    assert drift["same_after_check"]


def test_one_converge_repairs_everything(drift: dict[str, object]) -> None:
    recap = play_recap(str(drift["repair"]))[HOST]
    assert recap["failed"] == 0 and recap["changed"] > 0
    repaired = drift["repaired"]
    assert isinstance(repaired, dict) and repaired
    assert not _failing(repaired), {c: repaired[c].get("reason") for c in _failing(repaired)}
    nft = str(drift["nft"])
    assert "2222" not in nft and "sk_drift" not in nft and "policy accept" not in nft, nft
    assert drift["dropins"] == ["10-sitekit-hardening.conf"]
    assert str(drift["sudo"]).split() == ["4110", "root", "sudogrp", "root", "sudogrp", "4110", "/usr/bin/sudo"]
    quarantine = str(drift["quarantine"])
    assert "700 /var/lib/sitekit/quarantine/sshd_config.d\n" in quarantine, quarantine
    assert "600 /var/lib/sitekit/quarantine/sshd_config.d/00-drift.conf." in quarantine, quarantine


def test_repaired_host_is_stable(drift: dict[str, object]) -> None:
    again = play_recap(str(drift["again"]))[HOST]
    assert again["changed"] == 0 and again["failed"] == 0, str(drift["again"])[-3000:]
