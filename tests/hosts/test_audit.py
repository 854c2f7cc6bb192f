"""SK-AUD: the audit rules the kernel has loaded (`auditctl -l`, `auditctl -s`), not the rules files.

All of these are vm-tier controls: a container host is skipped with the reason by conftest.py.
"""

from __future__ import annotations

import re
from typing import Any

from hostcheck import as_list, key_values


def _watched(rules: list[str], path: str, perms: str = "wa") -> bool:
    """A file watch (`-w path -p wa`) or the equivalent syscall rule on the path or its directory."""
    for r in rules:
        m = re.search(r"-w (\S+) -p (\w+)", r)
        if (
            m
            and (m.group(1) == path or path.startswith(m.group(1).rstrip("/") + "/"))
            and set(perms) <= set(m.group(2))
        ):
            return True
        m = re.search(r"-F (?:path|dir)=(\S+)", r)
        if m and (m.group(1) == path or path.startswith(m.group(1).rstrip("/") + "/")) and "perm=" in r:
            granted = re.search(r"perm=(\w+)", r)
            if granted and set(perms) <= set(granted.group(1)):
                return True
    return False


def _syscalls(rules: list[str], *names: str) -> dict[str, bool]:
    found = {n: False for n in names}
    for r in rules:
        m = re.search(r"-S (\S+)", r)
        calls = set(",".join(re.findall(r"-S (\S+)", r)).split(",")) if m else set()
        for n in names:
            if n in calls:
                found[n] = True
    return found


def _rules(probe: Any) -> list[str]:
    rules = probe.audit_rules()
    assert rules and rules != ["No rules"], "no audit rules are loaded"
    return list(rules)


def _watch_all(probe: Any, observe: Any, paths: list[str]) -> None:
    rules = _rules(probe)
    seen = {p: _watched(rules, p) for p in paths}
    observe({"watched": seen, "rules": [r for r in rules if any(p.split("/")[-1] in r for p in paths)]}, paths)
    missing = [p for p, ok in seen.items() if not ok]
    assert not missing, f"not audited: {', '.join(missing)}"


def test_sk_aud_001(probe: Any, observe: Any, control: Any) -> None:
    state = probe.cmd("systemctl is-enabled auditd; systemctl is-active auditd").stdout.split()
    conf = key_values((probe.cat("/etc/audit/auditd.conf") or ""), sep=r"\s*=\s*")
    keys = (
        "max_log_file",
        "num_logs",
        "max_log_file_action",
        "space_left_action",
        "admin_space_left_action",
        "disk_full_action",
        "disk_error_action",
    )
    seen = {"auditd": state, **{k: conf.get(k) for k in keys}}
    observe(seen, {"auditd": ["enabled", "active"], "max_log_file_action": "rotate|keep_logs", "never": "halt"})
    assert state[:2] == ["enabled", "active"], f"auditd is {state}"
    assert conf.get("max_log_file") and conf.get("max_log_file_action", "").lower() in ("rotate", "keep_logs")
    halting = [k for k in keys if conf.get(k, "").lower() == "halt"]
    assert not halting, f"auditd would halt the host on: {halting}"


def test_sk_aud_002(probe: Any, observe: Any, control: Any) -> None:
    _watch_all(probe, observe, ["/etc/passwd", "/etc/group", "/etc/shadow", "/etc/gshadow", "/etc/security/opasswd"])


def test_sk_aud_003(probe: Any, observe: Any, control: Any) -> None:
    rules = _rules(probe)
    privileged = [r for r in rules if "execve" in r and ("euid=0" in r or "perm=x" in r)]
    privileged += [r for r in rules if re.search(r"-F path=\S+ -F perm=x", r)]
    observe(privileged[:40], "execve of setuid/setgid programs audited")
    assert privileged, "no audit rule for the execution of privileged programs"


def test_sk_aud_004(probe: Any, observe: Any, control: Any) -> None:
    rules = _rules(probe)
    calls = _syscalls(rules, "adjtimex", "settimeofday", "clock_settime")
    local = _watched(rules, "/etc/localtime")
    observe({**calls, "/etc/localtime": local}, "adjtimex, settimeofday, clock_settime and /etc/localtime")
    assert all(calls.values()) and local, f"time changes not fully audited: {calls}, localtime={local}"


def test_sk_aud_005(probe: Any, observe: Any, control: Any) -> None:
    rules = _rules(probe)
    calls = _syscalls(rules, "init_module", "finit_module", "delete_module")
    observe(calls, "init_module, finit_module, delete_module")
    assert all(calls.values()), f"module loading not fully audited: {calls}"


def test_sk_aud_006(probe: Any, observe: Any, control: Any) -> None:
    _watch_all(probe, observe, ["/etc/sudoers", "/etc/sudoers.d/"])


def test_sk_aud_007(probe: Any, expect: Any, observe: Any, control: Any) -> None:
    paths = as_list(expect.get("audit_ssh_paths"))
    _watch_all(probe, observe, paths)


def test_sk_aud_008(probe: Any, observe: Any, control: Any) -> None:
    rules = _rules(probe)
    names = ("mount", "chmod", "fchmod", "fchmodat", "chown", "fchown", "fchownat", "lchown", "setxattr", "lsetxattr")
    names += ("fsetxattr", "removexattr", "lremovexattr", "fremovexattr", "rename", "renameat", "rmdir", "unlink")
    names += ("unlinkat",)
    calls = {
        f"{abi}:{name}": ok
        for abi in ("b64", "b32")
        for name, ok in _syscalls([r for r in rules if f"arch={abi}" in r], *names).items()
    }
    denied = [r for r in rules if "exit=-EACCES" in r or "exit=-EPERM" in r or "exit=-13" in r or "exit=-1" in r]
    observe({**calls, "denied_access_rules": len(denied)}, "all of these, for both ABIs, and EACCES/EPERM audited")
    assert all(calls.values()), f"not audited: {[k for k, v in calls.items() if not v]}"
    assert denied, "denied file access (EACCES/EPERM) is not audited"


def test_sk_aud_010(probe: Any, expect: Any, observe: Any, control: Any) -> None:
    tallies = str(expect.get("audit_faillock_dir"))
    _watch_all(probe, observe, [tallies, "/var/log/lastlog", "/var/run/utmp", "/var/log/wtmp", "/var/log/btmp"])


def test_sk_aud_011(probe: Any, observe: Any, control: Any) -> None:
    rules = _rules(probe)
    calls = {
        f"{abi}:{name}": ok
        for abi in ("b64", "b32")
        for name, ok in _syscalls([r for r in rules if f"arch={abi}" in r], "sethostname", "setdomainname").items()
    }
    observe(calls, "sethostname and setdomainname, both ABIs")
    assert all(calls.values()), f"not audited: {[k for k, v in calls.items() if not v]}"
    _watch_all(probe, observe, ["/etc/issue", "/etc/issue.net", "/etc/hosts", "/etc/hostname", "/etc/network/"])


def test_sk_aud_009(probe: Any, observe: Any, control: Any) -> None:
    status = probe.cmd("auditctl -s").stdout
    enabled = re.search(r"^enabled (\d)", status, flags=re.M)
    value = enabled.group(1) if enabled else None
    observe({"enabled": value}, {"enabled": "2"})
    assert value == "2", f"audit configuration is not immutable (enabled {value})"
