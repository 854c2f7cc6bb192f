"""SK-LOG, SK-TIME, SK-PKG, SK-SVC, SK-BAN: logging, time, packages, services and banners."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import pytest
from hostcheck import apt_config, as_list, mode_at_most, packages_installed, stat_many, systemd_config


def test_sk_log_001(probe: Any, observe: Any, control: Any) -> None:
    conf = systemd_config(probe, "systemd/journald.conf")
    machine_id = probe.facts().get("machine_id") or ""
    persistent = (probe.cmd(f"test -d {f'/var/log/journal/{machine_id}'}").rc == 0) if machine_id else False
    seen = {k: conf.get(k) for k in ("Storage", "Compress", "SystemMaxUse", "SystemKeepFree")}
    seen["journal_dir"] = persistent
    observe(seen, {"Storage": "persistent", "Compress": "yes", "SystemMaxUse": "set", "journal_dir": True})
    assert seen["Storage"] == "persistent", f"Storage={seen['Storage']}"
    assert (seen["Compress"] or "yes") in ("yes", "true", "1"), f"Compress={seen['Compress']}"
    assert seen["SystemMaxUse"], "journal size is not bounded (SystemMaxUse)"
    assert persistent, f"/var/log/journal/{machine_id} does not exist: logs are not stored persistently"


def _logrotate_globals(text: str) -> list[list[str]]:
    """The directives of logrotate.conf outside any `{ }` block (the defaults every entry inherits)."""
    depth, found = 0, []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if depth == 0 and not line.endswith("{") and line != "}":
            found.append(line.split())
        depth += line.count("{") - line.count("}")
    return found


def test_sk_log_006(probe: Any, expect: Any, observe: Any, control: Any) -> None:
    """logrotate's defaults say daily (and no other period) and keep at least the expected rotations; the
    configuration parses (logrotate -d, which changes nothing); logrotate.timer is enabled, active, daily."""
    want_rotate = int(expect.get("baseline_logrotate_rotate"))
    directives = _logrotate_globals(probe.cat("/etc/logrotate.conf") or "")
    periods = [d[0] for d in directives if d[0] in ("hourly", "daily", "weekly", "monthly", "yearly")]
    rotate = [int(d[1]) for d in directives if d[0] == "rotate" and len(d) == 2 and d[1].isdigit()]
    parses = probe.cmd("logrotate -d /etc/logrotate.conf >/dev/null 2>&1").rc == 0
    timer = dict(
        line.split("=", 1)
        for line in probe.out(
            "systemctl show logrotate.timer -p UnitFileState -p ActiveState -p TimersCalendar"
        ).splitlines()
        if "=" in line
    )
    calendar = timer.get("TimersCalendar", "")
    daily = "OnCalendar=daily" in calendar or "OnCalendar=*-*-* 00:00:00" in calendar
    observe(
        {"periods": periods, "rotate": rotate, "config_parses": parses, "timer": timer},
        {"periods": ["daily"], "rotate>=": want_rotate, "config_parses": True, "timer": "enabled, active, daily"},
    )
    assert periods == ["daily"], f"logrotate's default period is {periods or 'unset (weekly)'}, want daily only"
    kept = rotate[-1] if rotate else 0
    assert kept >= want_rotate, f"logrotate keeps {kept} rotations by default, want at least {want_rotate}"
    assert parses, "logrotate -d /etc/logrotate.conf reports errors"
    assert timer.get("UnitFileState") == "enabled", f"logrotate.timer is {timer.get('UnitFileState') or 'missing'}"
    assert timer.get("ActiveState") == "active", f"logrotate.timer is {timer.get('ActiveState')}"
    assert daily, f"logrotate.timer does not run daily ({calendar or 'no calendar'})"


def test_sk_log_007(probe: Any, expect: Any, observe: Any, control: Any) -> None:
    """root's alias, as the C library resolves /etc/aliases, is exactly the site's security contact, and no
    second root entry contradicts it."""
    contact = str(expect.get("baseline_root_mail_alias"))
    if not contact:
        pytest.skip("the spec names no security contact (identity.security_contact): no alias to verify")
    resolved = probe.out("getent aliases root").strip()
    members = [m.strip() for m in resolved.split(":", 1)[1].split(",")] if ":" in resolved else []
    entries = probe.out("grep -cE '^[[:space:]]*\"?[rR][oO][oO][tT]\"?[[:space:]]*:' /etc/aliases").strip()
    observe({"root": members, "root_entries": entries}, {"root": [contact], "root_entries": "1"})
    assert members == [contact], f"root's mail goes to {members or 'nobody else (no alias)'}, want {contact}"
    assert entries == "1", f"/etc/aliases has {entries} root entries, want exactly one"


def _chrony_config(probe: Any) -> list[str]:
    # chronyd -p prints the configuration chronyd would use (all files and includes merged).
    text = probe.out(
        "chronyd -p 2>/dev/null || cat /etc/chrony/chrony.conf /etc/chrony/conf.d/*.conf "
        "/etc/chrony/sources.d/*.sources 2>/dev/null"
    )
    return [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith(("#", "!"))]


def test_sk_time_001(probe: Any, expect: Any, observe: Any, hostvars: dict[str, Any], control: Any) -> None:
    wanted = as_list(expect.get("baseline_ntp_servers"))
    lines = _chrony_config(probe)
    sources = [ln.split()[1] for ln in lines if ln.split()[0] in ("server", "pool", "peer") and len(ln.split()) > 1]
    pools = [ln for ln in lines if ln.split()[0] == "pool"]
    observe({"sources": sources, "pools": pools}, wanted)
    assert sources, "chrony has no time source (is chrony installed?)"
    foreign = [s for s in sources if s not in wanted]
    assert not foreign, f"time sources outside the site: {foreign}"
    assert not pools, f"pool directives present: {pools}"


def test_sk_time_002(probe: Any, observe: Any, control: Any) -> None:
    active = probe.cmd("systemctl is-active chrony").stdout.strip()
    # Right after a converge chrony may still be on its first polls: give it up to 30 s to synchronise
    # (an already synchronised host answers at once), then read what it tracks.
    tracking = probe.cmd(
        "systemctl -q is-active chrony && chronyc -n waitsync 30 0 0 1 >/dev/null 2>&1; chronyc -n tracking"
    ).stdout
    leap = re.search(r"Leap status\s*:\s*(.+)", tracking)
    ref = re.search(r"Reference ID\s*:\s*(.+)", tracking)
    observe(
        {"chrony": active, "leap": leap.group(1) if leap else None, "reference": ref.group(1) if ref else None},
        {"chrony": "active", "leap": "Normal"},
    )
    assert active == "active", f"chrony is {active}"
    assert leap and leap.group(1).strip() == "Normal", "the clock is not synchronised"


def test_sk_pkg_001(probe: Any, expect: Any, observe: Any, hostvars: dict[str, Any], control: Any) -> None:
    mirror = str(expect.get("baseline_apt_mirror_url"))
    uris = sorted(set(probe.out("apt-get indextargets --format '$(REPO_URI)' 2>/dev/null").split()))
    if not uris:  # never updated: ask apt which sources it would use
        uris = sorted(
            set(
                re.findall(r"'(\w+://[^']+?)/?(?:dists|pool)/", probe.out("apt-get -q --print-uris update 2>/dev/null"))
            )
        )
    observe(uris, mirror)
    assert uris, "apt has no sources"
    host_ = urlsplit(mirror).netloc
    foreign = [u for u in uris if urlsplit(u).netloc != host_]
    assert not foreign, f"apt sources outside the in-country mirror {mirror}: {foreign}"


def test_sk_pkg_002(probe: Any, observe: Any, control: Any) -> None:
    installed = packages_installed(probe, ["unattended-upgrades"])
    conf = apt_config(probe)
    periodic = {k: conf.get(k) for k in ("APT::Periodic::Update-Package-Lists", "APT::Periodic::Unattended-Upgrade")}
    origins = conf.get("Unattended-Upgrade::Origins-Pattern", "")
    timer = probe.cmd("systemctl is-enabled apt-daily-upgrade.timer").stdout.strip()
    observe(
        {"installed": installed, **periodic, "origins": origins, "apt-daily-upgrade.timer": timer},
        {"APT::Periodic::Unattended-Upgrade": "1", "origins": "security"},
    )
    assert installed, "unattended-upgrades is not installed"
    assert all(v not in (None, "0", "") for v in periodic.values()), f"periodic updates off: {periodic}"
    assert "security" in origins.lower(), f"security origin not selected: {origins!r}"
    assert timer == "enabled", f"apt-daily-upgrade.timer is {timer}"


def test_sk_pkg_003(probe: Any, observe: Any, control: Any) -> None:
    conf = apt_config(probe)
    want = {
        "APT::Get::AllowUnauthenticated": "false",
        "Acquire::AllowInsecureRepositories": "false",
        "APT::Install-Recommends": "false",
    }
    seen = {k: (conf.get(k) or "").lower() or None for k in want}
    observe(seen, want)
    norm = {k: {"0": "false", "no": "false", "1": "true", "yes": "true"}.get(v or "", v) for k, v in seen.items()}
    # AllowUnauthenticated/AllowInsecureRepositories default to false; unset is compliant.
    assert norm["APT::Get::AllowUnauthenticated"] in (None, "false")
    assert norm["Acquire::AllowInsecureRepositories"] in (None, "false")
    assert norm["APT::Install-Recommends"] == "false", "recommended packages are installed"


def test_sk_svc_001(probe: Any, expect: Any, observe: Any, control: Any) -> None:
    legacy = as_list(expect.get("baseline_legacy_server_packages"))
    found = packages_installed(probe, legacy)
    observe(found, "none installed")
    assert not found, f"legacy services installed: {', '.join(found)}"


def test_sk_svc_002(probe: Any, expect: Any, observe: Any, control: Any) -> None:
    legacy = as_list(expect.get("baseline_legacy_client_packages"))
    found = packages_installed(probe, legacy)
    observe(found, "none installed")
    assert not found, f"legacy clients installed: {', '.join(found)}"


def test_sk_svc_003(probe: Any, observe: Any, control: Any) -> None:
    want = {
        "/etc/crontab": 0o600,
        "/etc/cron.hourly": 0o700,
        "/etc/cron.daily": 0o700,
        "/etc/cron.weekly": 0o700,
        "/etc/cron.monthly": 0o700,
        "/etc/cron.d": 0o700,
        "/etc/cron.allow": 0o640,
        "/etc/at.allow": 0o640,
    }
    seen = stat_many(probe, list(want))
    deny = {p: probe.exists(p) for p in ("/etc/cron.deny", "/etc/at.deny")}
    allow_users = {p: (probe.cat(p) or "").split() if seen[p] else None for p in ("/etc/cron.allow", "/etc/at.allow")}
    observe(
        {"files": seen, "deny_files": deny, "allow": allow_users},
        {p: oct(m)[2:].zfill(4) + " root" for p, m in want.items()},
    )
    bad = []
    for path, limit in want.items():
        st = seen[path]
        if st is None:
            if path in ("/etc/cron.allow", "/etc/at.allow"):
                bad.append(f"{path} missing")
            continue
        if st["owner"] != "root" or not mode_at_most(st["mode"], limit):
            bad.append(f"{path} {st['mode']} {st['owner']}")
    for path, users in allow_users.items():
        if users and set(users) - {"root"}:
            bad.append(f"{path} allows {users}")
    assert not bad, "; ".join(bad)


def test_sk_svc_004(probe: Any, observe: Any, control: Any) -> None:
    state = probe.cmd("systemctl is-enabled ctrl-alt-del.target").stdout.strip()
    observe(state, "masked")
    assert state == "masked", f"ctrl-alt-del.target is {state}"


def test_sk_ban_001(probe: Any, expect: Any, observe: Any, control: Any) -> None:
    files = {
        p: (probe.cat(p) or "") if probe.exists(p) else None for p in ("/etc/issue", "/etc/issue.net", "/etc/motd")
    }
    observe({p: (c or "")[:200] for p, c in files.items()}, "authorised-use notice, no OS details")
    for path in ("/etc/issue", "/etc/issue.net"):
        text = files[path]
        assert text and text.strip(), f"{path} is empty"
        assert re.search(r"authori[sz]ed", text, flags=re.I), f"{path} does not state authorised use"
    for path, text in files.items():
        if text:
            leaks = re.findall(r"\\[mrsv]|debian|gnu/linux|ubuntu", text, flags=re.I)
            assert not leaks, f"{path} reveals system details: {leaks}"
