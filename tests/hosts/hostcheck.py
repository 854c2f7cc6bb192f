"""Small helpers shared by the host checks (no fixtures here; see conftest.py)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from sitekit.hostchecks.expect import MissingExpectation


def check_sysctls(probe: Any, observe: Callable[..., None], expected: dict[str, Any]) -> None:
    """Compare runtime sysctls (/proc/sys in the host's namespace) with `expected`, and what the next boot
    will set (a vendor file that sorts after ours silently reverts a value at reboot); report all of them."""
    seen = {name: probe.sysctl(name) for name in expected}
    boot = probe.boot_sysctls()
    at_boot = {k: boot.get(k, ("not set", ""))[0] for k in expected}
    observe({"runtime": seen, "next boot": at_boot}, {k: str(v) for k, v in expected.items()})
    wrong = {k: v for k, v in seen.items() if v is None or v.split() != str(expected[k]).split()}
    assert not wrong, "runtime values differ: " + ", ".join(
        f"{k}={v if v is not None else 'absent'} (want {expected[k]})" for k, v in wrong.items()
    )
    reverts = {k: boot.get(k) for k in expected if at_boot[k].split() != str(expected[k]).split()}
    assert not reverts, "the next boot sets other values: " + ", ".join(
        f"{k}={v[0]} from {v[1]}" if v else f"{k} not persisted in sysctl.d" for k, v in reverts.items()
    )


def sysctl_expectations(expect: Any, control_id: str, named: dict[str, Any]) -> dict[str, Any]:
    """Wanted values for one control: the baseline role's entries tagged with the control's ID
    (`baseline_sysctl_settings` + `baseline_sysctl_extra`, inventory over role defaults). `named` lists the
    parameters the catalogue's title names (its values are not used): each must have an entry of the role,
    else the check errs naming it; the role's value is what is expected, never a constant here."""
    table: dict[str, Any] = {}
    entries = list(expect.get("baseline_sysctl_settings") or []) + list(expect.get("baseline_sysctl_extra") or [])
    for item in entries:
        if isinstance(item, dict) and item.get("control") == control_id and "key" in item:
            table[str(item["key"])] = item.get("value")
    missing = sorted(set(named) - set(table))
    if missing:
        raise MissingExpectation(
            f"baseline_sysctl_settings[{control_id}]", f"no entry for {', '.join(missing)} in the role or inventory"
        )
    return table


def sshd_value(probe: Any, key: str, user: str = "root", addr: str = "10.0.0.1") -> list[str]:
    return list(probe.sshd(user, addr).get(key.lower(), []))


def sshd_list(probe: Any, key: str, **kw: str) -> list[str]:
    values = sshd_value(probe, key, **kw)
    return [x for v in values for x in v.split(",") if x]


def as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [x for x in re.split(r"[,\s]+", value) if x]
    return [str(x) for x in value]


def stat(host: Any, path: str) -> dict[str, Any] | None:
    """mode (octal string), owner and group of `path`, or None if it does not exist."""
    r = host.run(f"stat -c '%a %U %G %F' {path}")
    if r.rc != 0:
        return None
    mode, user, group, *kind = r.stdout.split()
    return {"mode": mode.zfill(4), "owner": user, "group": group, "type": " ".join(kind)}


def stat_many(host: Any, paths: list[str]) -> dict[str, dict[str, Any] | None]:
    """`stat` of several paths in one command (None for a path that does not exist)."""
    quoted = " ".join("'" + p.replace("'", "") + "'" for p in paths)
    r = host.run(f"stat -c '%n|%a|%U|%G|%F' {quoted} 2>/dev/null; true")
    out: dict[str, dict[str, Any] | None] = {p: None for p in paths}
    for line in r.stdout.splitlines():
        parts = line.split("|")
        if len(parts) == 5 and parts[0] in out:
            out[parts[0]] = {"mode": parts[1].zfill(4), "owner": parts[2], "group": parts[3], "type": parts[4]}
    return out


def mode_at_most(mode: str, limit: int) -> bool:
    """Whether octal `mode` grants nothing beyond `limit` (e.g. 0640)."""
    return int(mode, 8) & ~limit & 0o7777 == 0


def modprobe_rules(probe: Any) -> dict[str, list[str]]:
    """Effective module configuration: module -> ["blacklist", "install /bin/false", "options ..."]."""
    text = probe.modprobe_config()
    if not text.strip():
        text = probe.out("cat /lib/modprobe.d/*.conf /etc/modprobe.d/*.conf /run/modprobe.d/*.conf 2>/dev/null")
    rules: dict[str, list[str]] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 2 or parts[0].startswith("#"):
            continue
        kind, module = parts[0], parts[1].replace("-", "_")
        if kind in ("blacklist", "install", "options", "alias"):
            rules.setdefault(module, []).append(" ".join([kind, *parts[2:]]))
    return rules


def module_blocked(rules: dict[str, list[str]], module: str) -> bool:
    """A module is blocked when it cannot be loaded by name: `install <m> /bin/false` (or /bin/true)."""
    for rule in rules.get(module.replace("-", "_"), []):
        if rule.startswith("install") and re.search(r"/bin/(false|true)\b", rule):
            return True
    return False


def loaded_modules(probe: Any) -> set[str]:
    return {line.split()[0] for line in probe.out("cat /proc/modules 2>/dev/null").splitlines() if line.strip()}


def packages_installed(host: Any, names: Iterable[str]) -> dict[str, str]:
    """Which of `names` dpkg reports as installed (name -> version)."""
    names = list(names)
    r = host.run("dpkg-query -W -f='${Package} ${Status} ${Version}\\n' " + " ".join(names) + " 2>/dev/null")
    out = {}
    for line in r.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 5 and parts[1:4] == ["install", "ok", "installed"]:
            out[parts[0]] = parts[4]
    return out


def apt_config(probe: Any) -> dict[str, str]:
    """`apt-config dump` flattened to key -> value (last value wins; lists joined with spaces)."""
    conf: dict[str, str] = {}
    for line in probe.out("apt-config dump 2>/dev/null").splitlines():
        m = re.match(r'^(\S+)\s+"(.*)";$', line)
        if m:
            key, value = m.group(1), m.group(2)
            if key.endswith("::"):
                key = key[:-2]
                conf[key] = (conf.get(key, "") + " " + value).strip()
            else:
                conf[key] = value
    return conf


def systemd_config(probe: Any, name: str) -> dict[str, str]:
    """Effective key=value of a systemd config (`systemd-analyze cat-config`, last assignment wins)."""
    conf: dict[str, str] = {}
    for line in probe.out(f"systemd-analyze cat-config {name} 2>/dev/null").splitlines():
        line = line.strip()
        if line and not line.startswith(("#", ";", "[")) and "=" in line:
            k, _, v = line.partition("=")
            conf[k.strip()] = v.strip()
    return conf


def key_values(text: str, sep: str = r"\s+") -> dict[str, str]:
    """Simple `KEY value` / `key = value` files: last assignment wins, comments ignored."""
    conf: dict[str, str] = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = re.split(sep, line, maxsplit=1)
        if len(parts) == 2:
            conf[parts[0].strip()] = parts[1].strip()
        else:
            conf[parts[0].strip()] = ""
    return conf


def kernel_boot(probe: Any) -> tuple[list[str], bool, list[list[str]]]:
    """The running kernel's arguments, whether GRUB booted it (it puts BOOT_IMAGE= first), and the words of
    each `linux` line of /boot/grub/grub.cfg: the kernels GRUB boots next."""
    cmdline = (probe.cat("/proc/cmdline") or "").split()
    lines = [line.split() for line in (probe.cat("/boot/grub/grub.cfg") or "").splitlines()]
    return cmdline, any(a.startswith("BOOT_IMAGE=") for a in cmdline), [w for w in lines if w and w[0] == "linux"]


def entries_lacking(entries: list[list[str]], wanted: list[str]) -> list[str]:
    """The grub.cfg `linux` lines (as kernel_boot gives them) that lack one of `wanted`, by their kernel."""
    return [" ".join(e[:2]) for e in entries if not set(wanted) <= set(e)]
