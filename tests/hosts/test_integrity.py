"""SK-FIM: file integrity monitoring (AIDE, baseline role)."""

from __future__ import annotations

import re
import shlex
from typing import Any

from hostcheck import as_list, packages_installed, stat

# Debian's aide.conf reads the files of aide.conf.d whose names match this (`@@x_include ... ^[a-zA-Z0-9_-]+$`).
INCLUDED_NAME = re.compile(r"^[a-zA-Z0-9_-]+$")


def _unit(probe: Any, unit: str) -> dict[str, str]:
    """`systemctl show` of a unit: its state, result and when its main process started and ended."""
    props = "ActiveState,SubState,Result,ExecMainStartTimestamp,ExecMainExitTimestamp,ExecMainStatus"
    out = probe.cmd(f"systemctl show --property={props} {shlex.quote(unit)}").stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def _excluded(rules: list[str], path: str) -> bool:
    """Whether one of the drop-in's negative rules drops `path` and everything under it (AIDE anchors a
    rule's regex at the start of the path, not at its end)."""
    for rule in rules:
        try:
            rx = re.compile(rule)
        except re.error:
            continue
        if rx.match(path) and rx.match(path.rstrip("/") + "/any/file"):
            return True
    return False


def test_sk_fim_001(probe: Any, expect: Any, observe: Any, control: Any) -> None:
    packages = as_list(expect.get("baseline_aide_packages"))
    dropin = str(expect.get("baseline_aide_dropin"))
    database = str(expect.get("baseline_aide_database"))
    init_unit = str(expect.get("baseline_aide_init_unit"))
    timer = str(expect.get("baseline_aide_timer"))
    wanted = as_list(expect.get("baseline_aide_exclude")) + as_list(expect.get("baseline_aide_exclude_extra"))
    report = str(expect.get("baseline_aide_report_command"))

    installed = packages_installed(probe, packages)
    text = probe.cat(dropin)
    rules = [ln.strip()[1:].split()[0] for ln in (text or "").splitlines() if ln.strip().startswith("!/")]
    not_excluded = [p for p in wanted if not _excluded(rules, p)]
    config_ok = probe.cmd("aide --config-check --config=/etc/aide/aide.conf >/dev/null 2>&1").rc == 0
    timer_state = probe.cmd(f"systemctl is-enabled {shlex.quote(timer)}; systemctl is-active {shlex.quote(timer)}")
    enabled, active = [*timer_state.stdout.split(), "", ""][:2]
    build = _unit(probe, init_unit)
    has_database = probe.cmd(f"test -s {shlex.quote(database)}").rc == 0
    # The mail command dailyaidecheck really uses: its defaults file sourced as the script sources it.
    mailcmd = probe.out("sh -c '. /etc/default/aide 2>/dev/null; printf %s \"${MAILCMD:-}\"'").strip()
    writer = stat(probe, shlex.quote(report))
    observe(
        {
            "installed": installed,
            "dropin": dropin if text is not None else None,
            "not_excluded": not_excluded,
            "config_check": config_ok,
            "timer": {"enabled": enabled, "active": active},
            "database_build": build,
            "database": database if has_database else None,
            "report_command": mailcmd or None,
            "report_writer": writer,
        },
        {
            "packages": packages,
            "excluded": wanted,
            "timer": "enabled, active",
            "database": database,
            "report_command": report,
            "report_writer": "root:root, executable, writable by root only",
        },
    )
    problems = [f"not installed: {p}" for p in packages if p not in installed]
    if text is None:
        problems.append(f"{dropin} does not exist")
    elif not_excluded:
        problems.append(f"{dropin} does not exclude {', '.join(not_excluded)}")
    if not INCLUDED_NAME.match(dropin.rsplit("/", 1)[-1]):
        problems.append(f"aide.conf does not read {dropin} (its name is not [a-zA-Z0-9_-]+)")
    if not config_ok:
        problems.append("aide --config-check fails on /etc/aide/aide.conf")
    if mailcmd != report:
        problems.append(
            f"dailyaidecheck reports with MAILCMD={mailcmd or '(unset: mail, or nothing without a mail command)'}"
            f", want {report}, which sends the report to the system log and on to the collector"
        )
    if writer is None:
        problems.append(f"{report} does not exist")
    elif (
        (writer["owner"], writer["group"], writer["type"]) != ("root", "root", "regular file")
        or not int(writer["mode"], 8) & 0o100
        or int(writer["mode"], 8) & 0o022
    ):
        problems.append(
            f"{report} is a {writer['type']} {writer['owner']}:{writer['group']} mode {writer['mode']}: want a "
            "root:root regular file, executable, not group or world writable"
        )
    if (enabled, active) != ("enabled", "active"):
        problems.append(f"{timer} is {enabled or 'unknown'} and {active or 'unknown'} (want enabled and active)")
    state = build.get("ActiveState", "")
    if state in ("activating", "active"):
        problems.append(
            f"the AIDE database is still being built ({init_unit} running since "
            f"{build.get('ExecMainStartTimestamp') or '?'}): a pending database is not a pass"
        )
    elif state == "failed" or build.get("Result", "success") != "success":
        problems.append(
            f"the AIDE database build failed ({init_unit}: result {build.get('Result')}, exit status "
            f"{build.get('ExecMainStatus')}; see /var/log/aide/aideinit.errors)"
        )
    elif not has_database:
        problems.append(f"no AIDE database at {database} ({init_unit} has not built it)")
    assert not problems, "; ".join(problems)
