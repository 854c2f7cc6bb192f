"""SK-FIM: file integrity monitoring (AIDE, baseline role)."""

from __future__ import annotations

import re
import shlex
from typing import Any

from hostcheck import as_list, packages_installed

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

    installed = packages_installed(probe, packages)
    text = probe.cat(dropin)
    rules = [ln.strip()[1:].split()[0] for ln in (text or "").splitlines() if ln.strip().startswith("!/")]
    not_excluded = [p for p in wanted if not _excluded(rules, p)]
    config_ok = probe.cmd("aide --config-check --config=/etc/aide/aide.conf >/dev/null 2>&1").rc == 0
    timer_state = probe.cmd(f"systemctl is-enabled {shlex.quote(timer)}; systemctl is-active {shlex.quote(timer)}")
    enabled, active = [*timer_state.stdout.split(), "", ""][:2]
    build = _unit(probe, init_unit)
    has_database = probe.cmd(f"test -s {shlex.quote(database)}").rc == 0
    observe(
        {
            "installed": installed,
            "dropin": dropin if text is not None else None,
            "not_excluded": not_excluded,
            "config_check": config_ok,
            "timer": {"enabled": enabled, "active": active},
            "database_build": build,
            "database": database if has_database else None,
        },
        {"packages": packages, "excluded": wanted, "timer": "enabled, active", "database": database},
    )
    missing = [p for p in packages if p not in installed]
    assert not missing, f"not installed: {', '.join(missing)}"
    assert text is not None, f"{dropin} does not exist"
    assert INCLUDED_NAME.match(dropin.rsplit("/", 1)[-1]), f"aide.conf does not read {dropin} (name not [a-zA-Z0-9_-]+)"
    assert not not_excluded, f"{dropin} does not exclude {', '.join(not_excluded)}"
    assert config_ok, "aide --config-check fails on /etc/aide/aide.conf"
    assert (enabled, active) == ("enabled", "active"), f"{timer} is {enabled or 'unknown'} and {active or 'unknown'}"
    state = build.get("ActiveState", "")
    assert state not in ("activating", "active"), (
        f"the AIDE database is still being built ({init_unit} running since "
        f"{build.get('ExecMainStartTimestamp') or '?'}): a pending database is not a pass"
    )
    assert state != "failed" and build.get("Result", "success") == "success", (
        f"the AIDE database build failed ({init_unit}: result {build.get('Result')}, "
        f"exit status {build.get('ExecMainStatus')}; see /var/log/aide/aideinit.errors)"
    )
    assert has_database, f"no AIDE database at {database} ({init_unit} has not built it)"
