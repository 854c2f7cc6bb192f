"""SK-FIM-001's check (tests/hosts/test_integrity.py) on a fake host: the daily report's writer and the mail
command dailyaidecheck uses are judged, and each way they can be wrong fails naming it."""

from __future__ import annotations

from typing import Any

import pytest
from hostcheck_fakes import CommandTable, Expect, host_check_module

CHECK = host_check_module("sk_integrity_check", "test_integrity.py")
WRITER = "/usr/local/sbin/sitekit-aide-report"
EXPECT = {
    "baseline_aide_packages": ["aide", "aide-common"],
    "baseline_aide_dropin": "/etc/aide/aide.conf.d/50_sitekit_exclusions",
    "baseline_aide_database": "/var/lib/aide/aide.db",
    "baseline_aide_init_unit": "sitekit-aide-init.service",
    "baseline_aide_timer": "dailyaidecheck.timer",
    "baseline_aide_exclude": ["/tmp"],
    "baseline_aide_exclude_extra": [],
    "baseline_aide_report_command": WRITER,
}


def _host() -> CommandTable:
    answers = {
        "dpkg-query": (0, "aide install ok installed 0.18.3\naide-common install ok installed 0.18.3\n"),
        "cat /etc/aide/aide.conf.d/50_sitekit_exclusions": (0, "!/tmp(/|$)\n"),
        "aide --config-check": (0, ""),
        "systemctl is-enabled": (0, "enabled\nactive\n"),
        "systemctl show": (0, "ActiveState=inactive\nResult=success\n"),
        "test -s": (0, ""),
        "MAILCMD": (0, WRITER),
        f"stat -c '%a %U %G %F' {WRITER}": (0, "755 root root regular file\n"),
    }
    return CommandTable(answers)


def _judge(host: CommandTable) -> None:
    seen: list[Any] = []
    CHECK.test_sk_fim_001(host, Expect(EXPECT), lambda *a: seen.append(a), None)


def test_a_root_owned_executable_writer_named_as_mailcmd_passes() -> None:
    _judge(_host())


@pytest.mark.parametrize(
    ("answer", "named"),
    [
        ((0, "775 root root regular file\n"), "mode 0775"),
        ((0, "755 ansible root regular file\n"), "ansible:root"),
        ((0, "644 root root regular file\n"), "mode 0644"),
        ((0, "755 root root directory\n"), "directory"),
        ((1, ""), "does not exist"),
    ],
)
def test_a_writer_others_could_change_or_not_run_fails(answer: tuple[int, str], named: str) -> None:
    host = _host()
    host.answers[f"stat -c '%a %U %G %F' {WRITER}"] = answer
    with pytest.raises(AssertionError, match=named):
        _judge(host)


@pytest.mark.parametrize("mailcmd", ["", "mail", "/usr/bin/true"])
def test_a_mail_command_other_than_the_writer_fails(mailcmd: str) -> None:
    host = _host()
    host.answers["MAILCMD"] = (0, mailcmd)
    with pytest.raises(AssertionError, match="dailyaidecheck reports with MAILCMD="):
        _judge(host)
