"""SK-AUTH-004's check (tests/hosts/test_baseline.py) on a fake host: sudo's effective policy requires a
terminal (tried without one) and a 0077 umask (as `sudo -l -U` lists it) of people and root, and exempts the
automation account."""

from __future__ import annotations

from typing import Any

import pytest
from hostcheck_fakes import CommandTable, Expect, host_check_module

CHECK = host_check_module("sk_sudo_policy_check", "test_baseline.py")
GLOBAL = (
    "env_reset, mail_badpass, secure_path=/usr/local/sbin\\:/usr/bin\\:/bin, use_pty,\n"
    "    logfile=/var/log/sudo.log, ignore_dot, !visiblepw, passwd_tries=3, timestamp_timeout=5, requiretty, umask=077"
)
EXPECT = {
    "baseline_sudo_logfile": "/var/log/sudo.log",
    "baseline_sudo_umask": "0077",
    "baseline_sudo_automation_umask": "0022",
    "baseline_sudo_automation_accounts": ["ansible"],
    "baseline_sudo_group": "sudogrp",
    "baseline_sudo_keep_groups": ["sudo"],
}


TTY = (1, "sudo: sorry, you must have a tty to run sudo\n")


def _listing(user: str, extra: str = "", first: str = "") -> str:
    """sudo -ll -U's listing: `first` entries as if parsed before the global ones, `extra` after them."""
    return (
        f"Matching Defaults entries for {user} on host:\n    {first}{GLOBAL}{extra}\n\n"
        f"User {user} may run the following commands on host:\n    (ALL : ALL) ALL\n"
    )


def _host() -> CommandTable:
    return CommandTable(
        {
            "sudo -ll -U root": (0, _listing("root").replace("\n", "\r\n")),
            "visudo -c": (0, "/etc/sudoers: parsed OK\n"),
            "getent passwd": (
                0,
                "root:x:0:0::/root:/bin/bash\nansible:x:1000:1000::/home/ansible:/bin/bash\n"
                "alice:x:1001:1001::/home/alice:/bin/bash\n",
            ),
            "getent group": (0, "sudo:x:27:\nsudogrp:x:990:ansible,alice\n"),
            "sudo -ll -U ansible": (0, _listing("ansible", ", !requiretty, umask=022")),
            "sudo -ll -U alice": (0, _listing("alice")),
            "setsid -w sudo -n true": TTY,
            "-c 'sudo -n true' alice": TTY,
            "-c 'sudo -n true' ansible": (0, ""),
        }
    )


def _judge(host: CommandTable, **expect: Any) -> None:
    CHECK.test_sk_auth_004(host, Expect(EXPECT | expect), lambda *a: None, None)


def test_people_with_requiretty_and_0077_and_an_exempt_automation_account_pass() -> None:
    _judge(_host())


def test_a_per_user_umask_before_the_global_one_is_overridden_as_sudo_does() -> None:
    host = _host()
    host.answers["sudo -ll -U alice"] = (0, _listing("alice", first="umask=022, "))
    _judge(host)


def test_a_sudo_group_member_without_rights_is_not_judged() -> None:
    host = _host()
    host.answers["sudo -ll -U alice"] = (0, "User alice is not allowed to run sudo on host.\n")
    _judge(host)


@pytest.mark.parametrize(
    ("key", "answer", "named"),
    [
        ("-c 'sudo -n true' alice", (1, "sudo: a password is required\n"), "alice \\(terminal not required"),
        ("sudo -ll -U alice", (0, _listing("alice", ", umask=022")), "alice \\(terminal required, umask 0022"),
        ("setsid -w sudo -n true", (0, ""), "root \\(terminal not required"),
        ("sudo -ll -U root", (0, _listing("root").replace(", umask=077", "")), "root .*umask unset"),
        ("-c 'sudo -n true' ansible", TTY, "ansible \\(terminal required"),
        (
            "sudo -ll -U ansible",
            (0, _listing("ansible", ", !requiretty")),
            "ansible \\(terminal not required, umask 0077",
        ),
        ("sudo -ll -U ansible", (0, "User ansible is not allowed to run sudo on host.\n"), "sudo rights: ansible"),
        ("visudo -c", (1, "/etc/sudoers.d/10-sitekit:3:1: syntax error\n"), "visudo -c reports errors"),
        ("-c 'sudo -n true' alice", (1, "su: Authentication failure\n"), "no verdict .* alice: su: Authentication"),
    ],
)
def test_a_wrong_effective_policy_fails_naming_the_account(key: str, answer: tuple[int, str], named: str) -> None:
    host = _host()
    host.answers[key] = answer
    with pytest.raises(AssertionError, match=named):
        _judge(host)


def test_a_missing_automation_account_fails_by_name() -> None:
    with pytest.raises(AssertionError, match="missing: deploy"):
        _judge(_host(), baseline_sudo_automation_accounts=["ansible", "deploy"])


def test_the_umasks_come_from_the_role_variables() -> None:
    with pytest.raises(AssertionError, match="want required, 0027"):
        _judge(_host(), baseline_sudo_umask="0027")
