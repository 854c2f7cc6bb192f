"""SK-MOD, SK-FS, SK-AUTH, SK-PAM: modules, mounts, file permissions, login and PAM policy."""

from __future__ import annotations

import fnmatch
import re
import shlex
from typing import Any

from hostcheck import (
    as_list,
    entries_lacking,
    kernel_boot,
    key_values,
    loaded_modules,
    mode_at_most,
    modprobe_rules,
    module_blocked,
    stat_many,
)

GPU_RDMA = ["nvidia*", "mlx5*", "ib_*", "rdma*", "mlx4*", "nv_peer_mem", "nvidia_peermem", "gdrdrv"]


def _blocked(probe: Any, observe: Any, modules: list[str], skip_mounted: bool = False) -> None:
    rules = modprobe_rules(probe)
    loaded = loaded_modules(probe)
    mounted: set[str] = set()
    if skip_mounted:
        mounted = set(probe.out("findmnt -rn -o FSTYPE 2>/dev/null").split())
    wanted = [m for m in modules if m not in mounted]
    seen = {m: rules.get(m.replace("-", "_"), []) for m in modules}
    observe(
        {"rules": seen, "loaded": sorted(loaded & set(modules)), "in_use_fs": sorted(mounted & set(modules))},
        {m: "install /bin/false" for m in wanted},
    )
    not_blocked = [m for m in wanted if not module_blocked(rules, m)]
    assert not not_blocked, f"can still be loaded: {', '.join(not_blocked)}"
    still_loaded = [m for m in wanted if m.replace("-", "_") in loaded]
    assert not still_loaded, f"loaded right now: {', '.join(still_loaded)}"


def test_sk_mod_001(probe: Any, expect: Any, observe: Any, control: Any) -> None:
    mods = as_list(expect.get("baseline_blocked_filesystems"))
    _blocked(probe, observe, mods, skip_mounted=True)


def test_sk_mod_002(probe: Any, expect: Any, observe: Any, control: Any) -> None:
    _blocked(probe, observe, as_list(expect.get("baseline_blocked_protocols")))


def test_sk_mod_003(probe: Any, expect: Any, observe: Any, control: Any) -> None:
    mods = as_list(expect.get("baseline_blocked_storage"))
    _blocked(probe, observe, mods)


def test_sk_mod_004(probe: Any, observe: Any, control: Any) -> None:
    rules = modprobe_rules(probe)
    loaded = loaded_modules(probe)
    blocked = {m for m, rs in rules.items() if module_blocked(rules, m) or any(r == "blacklist" for r in rs)}
    protected = [m for m in blocked if any(fnmatch.fnmatch(m, pat) for pat in GPU_RDMA)]
    in_use = sorted(blocked & loaded)
    observe(
        {"blocked": sorted(blocked), "gpu_or_rdma_blocked": protected, "loaded_and_blocked": in_use},
        "no GPU/RDMA module and no loaded module blocked",
    )
    assert not protected, f"GPU or RDMA modules blocked: {protected}"
    assert not in_use, f"blocked modules that are loaded right now: {in_use}"


def _mount(probe: Any, expect: Any, observe: Any, target: str) -> None:
    opts = expect.get("baseline_mount_options")
    wanted = as_list(opts.get(target) if isinstance(opts, dict) else opts)
    m = probe.mount(target)
    observe(m, {"target": target, "options": wanted})
    assert m is not None, f"{target} is not a separate mount"
    opts = set(m["options"].split(","))
    missing = [o for o in wanted if o not in opts]
    assert not missing, f"{target} mounted without {', '.join(missing)} ({m['options']})"


def test_sk_fs_001(probe: Any, expect: Any, observe: Any, control: Any) -> None:
    _mount(probe, expect, observe, "/tmp")


def test_sk_fs_002(probe: Any, expect: Any, observe: Any, control: Any) -> None:
    _mount(probe, expect, observe, "/var/tmp")


def test_sk_fs_003(probe: Any, expect: Any, observe: Any, control: Any) -> None:
    _mount(probe, expect, observe, "/dev/shm")


def _fstab_options(fstab: str) -> dict[str, list[str]]:
    """Mount point -> its options, for each line of an /etc/fstab."""
    found: dict[str, list[str]] = {}
    for line in fstab.splitlines():
        fields = line.split()
        if len(fields) > 1 and not fields[0].startswith("#"):
            found[fields[1]] = fields[3].split(",") if len(fields) > 3 else ["defaults"]
    return found


def test_sk_fs_006(probe: Any, expect: Any, observe: Any, control: Any) -> None:
    wanted = expect.get("baseline_partition_options")
    assert isinstance(wanted, dict), f"baseline_partition_options is not a mapping: {wanted!r}"
    required = as_list(expect.get("baseline_partitions_required"))
    fstab = _fstab_options(probe.cat("/etc/fstab") or "")
    seen: dict[str, str] = {}
    problems = [f"{target} is not a separate filesystem" for target in required if probe.mount(target) is None]
    for target, options in wanted.items():
        m = probe.mount(target)
        if m is None:
            continue
        seen[target] = m["options"]
        live = set(m["options"].split(","))
        missing = [o for o in as_list(options) if o not in live]
        if missing:
            problems.append(f"{target} mounted without {', '.join(missing)} ({m['options']})")
        if target in fstab:
            # Later options win: `nodev,dev` mounts with dev at the next boot.
            effective = {
                o.removeprefix("no"): o for o in fstab[target] if o.removeprefix("no") in {"dev", "suid", "exec"}
            }
            lost = [o for o in as_list(options) if effective.get(o.removeprefix("no")) != o]
            if lost:
                problems.append(f"/etc/fstab mounts {target} without {', '.join(lost)} ({','.join(fstab[target])})")
    observe(seen, {"options": wanted, "separate": required})
    assert not problems, "; ".join(problems)


def test_sk_fs_004(probe: Any, observe: Any, control: Any) -> None:
    want = {
        "/etc/passwd": (0o644, "root", "root"),
        "/etc/group": (0o644, "root", "root"),
        "/etc/shadow": (0o640, "root", "shadow"),
        "/etc/gshadow": (0o640, "root", "shadow"),
    }
    seen = stat_many(probe, list(want))
    observe(seen, {p: f"{oct(m)[2:].zfill(4)} {u}:{g}" for p, (m, u, g) in want.items()})
    bad = []
    for path, (mode, user, group) in want.items():
        st = seen[path]
        if (
            st is None
            or st["owner"] != user
            or st["group"] not in (group, "root")
            or not mode_at_most(st["mode"], mode)
        ):
            bad.append(f"{path}: {st}")
    assert not bad, "; ".join(bad)


def test_sk_fs_005(probe: Any, expect: Any, observe: Any, control: Any) -> None:
    min_uid = int(expect.get("baseline_home_min_uid"))
    script = (
        f"getent passwd | awk -F: '$3 >= {min_uid} && $3 < 65534 {{print $6}}' | while read -r h; do "
        '[ -d "$h" ] && [ "$h" != / ] && { find "$h" -xdev \\( -type f -o -type d \\) -perm /0027; '
        "find \"$h\" -maxdepth 1 -xdev -type f -name '.*' -perm /0031; }; done"
    )
    loose = sorted(set(probe.cmd(script).stdout.split()))
    observe(loose, [])
    assert not loose, f"{len(loose)} home files group-writable or open to others: {loose[:10]}"


def test_sk_mac_001(probe: Any, expect: Any, observe: Any, control: Any) -> None:
    enabled = probe.cmd("cat /sys/module/apparmor/parameters/enabled 2>/dev/null").stdout.strip()
    unit = probe.cmd("systemctl is-enabled apparmor.service; systemctl is-active apparmor.service").stdout.split()
    loaded = probe.cmd("cat /sys/kernel/security/apparmor/profiles 2>/dev/null | wc -l").stdout.strip()
    # The boot arguments: on a host GRUB booted (BOOT_IMAGE= on the command line) the running kernel has them
    # and every kernel entry of grub.cfg carries them for the next boot.
    wanted = as_list(expect.get("baseline_apparmor_boot_args"))
    cmdline, grub, entries = kernel_boot(probe)
    seen = {"kernel": enabled, "unit": unit, "profiles loaded": loaded}
    if grub:
        seen |= {"cmdline": " ".join(cmdline), "grub.cfg linux lines": [" ".join(e) for e in entries]}
    observe(seen, {"kernel": "Y", "unit": ["enabled", "active"], "profiles loaded": "> 0", "boot args": wanted})
    assert enabled == "Y", "AppArmor is not enabled in the kernel"
    assert unit[:2] == ["enabled", "active"], f"apparmor.service is {unit}"
    assert loaded.isdigit() and int(loaded) > 0, "no AppArmor profile is loaded"
    if grub:
        missing = [a for a in wanted if a not in cmdline]
        assert not missing, f"the kernel GRUB booted lacks {missing}"
        assert entries, "GRUB booted this host but /boot/grub/grub.cfg has no readable linux line"
        short = entries_lacking(entries, wanted)
        assert not short, f"grub.cfg entries without {wanted}: {short}"


def test_sk_auth_001(probe: Any, expect: Any, observe: Any, control: Any) -> None:
    conf = key_values(probe.cat("/etc/login.defs") or "")
    want = {
        "ENCRYPT_METHOD": str(expect.get("baseline_encrypt_method")),
        "PASS_MAX_DAYS": str(expect.get("baseline_pass_max_days")),
        "PASS_WARN_AGE": str(expect.get("baseline_pass_warn_age")),
        "PASS_MIN_DAYS": str(expect.get("baseline_pass_min_days")),
    }
    seen = {k: conf.get(k) for k in want}
    observe(seen, want)
    assert seen["ENCRYPT_METHOD"] == want["ENCRYPT_METHOD"]
    assert seen["PASS_MAX_DAYS"] is not None and int(seen["PASS_MAX_DAYS"]) <= int(want["PASS_MAX_DAYS"])
    assert seen["PASS_WARN_AGE"] is not None and int(seen["PASS_WARN_AGE"]) >= int(want["PASS_WARN_AGE"])
    assert seen["PASS_MIN_DAYS"] is not None and int(seen["PASS_MIN_DAYS"]) >= int(want["PASS_MIN_DAYS"])
    # login.defs only ages accounts created later: root (and any account with a password) must be aged too.
    rows = probe.cmd('getent shadow | awk -F: \'$2 !~ /^[!*]/ || $1 == "root" {print $1":"$5}\'').stdout
    aged = dict(line.split(":", 1) for line in rows.split() if ":" in line)
    observe({**seen, "max days of accounts with a password": aged}, want)
    too_long = [u for u, days in aged.items() if not days.isdigit() or int(days) > int(want["PASS_MAX_DAYS"])]
    assert not too_long, f"accounts without password ageing: {too_long}"
    _yescrypt_cost(probe, observe, conf, int(expect.get("baseline_yescrypt_cost")), want["ENCRYPT_METHOD"])


# pam_unix's password lines: (module arguments) of each `password ... pam_unix.so ...` line
_PAM_UNIX_PASSWORD = re.compile(r"^\s*password\s+(?:\[[^\]]*\]|\S+)\s+pam_unix\.so\b(.*)$", re.M)
# the same lines inside a pam-auth-update profile's Password: and Password-Initial: fields
_PROFILE_PASSWORD = re.compile(r"^Password(?:-Initial)?:[ \t]*\n((?:[ \t]+.*\n?)*)", re.M)


def _rounds(args: list[str]) -> list[int]:
    return [int(a.split("=", 1)[1]) for a in args if re.fullmatch(r"rounds=\d+", a)]


def _yescrypt_cost(probe: Any, observe: Any, login_defs: dict[str, str], cost: int, method: str) -> None:
    """New hashes at the role's yescrypt cost: pam_unix in the live common-password (passwd, chpasswd
    through PAM), the unix profile pam-auth-update regenerates it from, and login.defs (shadow's tools).
    Judged from the configuration: hashing at cost 11 here would take a second and 1 GiB per try."""
    common = probe.cat("/etc/pam.d/common-password") or ""
    lines = [m.group(1).split() for m in _PAM_UNIX_PASSWORD.finditer(common)]
    profile = probe.cat("/usr/share/pam-configs/unix") or ""
    profile_lines = [
        line.split()
        for block in _PROFILE_PASSWORD.findall(profile)
        for line in block.splitlines()
        if "pam_unix.so" in line.split()
    ]
    factor = login_defs.get("YESCRYPT_COST_FACTOR")
    observe(
        {
            "common-password pam_unix": [" ".join(a) for a in lines],
            "unix profile pam_unix password lines": [" ".join(a) for a in profile_lines],
            "login.defs YESCRYPT_COST_FACTOR": factor,
        },
        {"pam_unix": f"yescrypt rounds={cost}", "YESCRYPT_COST_FACTOR": cost},
    )
    assert lines, "no pam_unix password line in /etc/pam.d/common-password"
    for args in lines:
        assert "yescrypt" in args, f"pam_unix does not hash with yescrypt: {' '.join(args)}"
        assert _rounds(args)[-1:] == [cost], f"pam_unix rounds={_rounds(args)}, want {cost}: {' '.join(args)}"
    assert profile_lines, "no pam_unix password line in /usr/share/pam-configs/unix"
    for args in profile_lines:
        assert _rounds(args)[-1:] == [cost], f"the unix profile's pam_unix has rounds={_rounds(args)}, want {cost}"
    if method == "YESCRYPT":
        assert factor == str(cost), f"login.defs YESCRYPT_COST_FACTOR={factor}, want {cost}"


def test_sk_auth_002(probe: Any, expect: Any, observe: Any, control: Any) -> None:
    want = str(expect.get("baseline_umask")).zfill(4)
    session = probe.cmd("sh -c umask").stdout.strip().zfill(4)  # the PAM session of this SSH login
    login = probe.cmd("bash -lc umask").stdout.strip().zfill(4)  # a login shell (/etc/profile*)
    login_defs = key_values(probe.cat("/etc/login.defs") or "").get("UMASK", "")
    observe({"pam_session": session, "login_shell": login, "login.defs UMASK": login_defs}, want)
    for name, value in (("login shell", login), ("login.defs UMASK", login_defs.zfill(4))):
        assert int(value, 8) & int(want, 8) == int(want, 8), f"{name} umask {value}, want {want} or stricter"


# Run inside a login shell: TMOUT's value, whether the shell can still assign it (not readonly), and
# whether a child process sees it (exported).
_TMOUT_STATE = (
    'echo "value=${TMOUT:-}"; if (TMOUT=1) 2>/dev/null; then echo readonly=no; else echo readonly=yes; fi; '
    'echo "exported=$(env | sed -n "s/^TMOUT=//p")"'
)


def _login_shell_tmout(probe: Any, shell: str, inherited: str | None) -> dict[str, str]:
    env = f"env TMOUT={inherited} " if inherited is not None else ""
    out = probe.out(f"{env}{shell} -lc {shlex.quote(_TMOUT_STATE)} 2>/dev/null")
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def test_sk_auth_003(probe: Any, expect: Any, observe: Any, control: Any) -> None:
    """bash and sh (dash) login shells, with a clean environment and with TMOUT=0 inherited, all end
    with TMOUT set within the limit, readonly and exported."""
    limit = int(expect.get("baseline_shell_timeout"))
    seen = {
        f"{shell}{' (TMOUT=0 inherited)' if inherited else ''}": _login_shell_tmout(probe, shell, inherited)
        for shell in ("bash", "sh")
        for inherited in (None, "0")
    }
    observe(seen, {"value<=": limit, "readonly": "yes", "exported": "same value"})
    for name, state in seen.items():
        value = state.get("value", "")
        assert value.isdigit() and 0 < int(value) <= limit, f"{name}: TMOUT={value!r}, want 1..{limit}"
        assert state.get("readonly") == "yes", f"{name}: TMOUT is not readonly"
        assert state.get("exported") == value, f"{name}: TMOUT is not exported (child sees {state.get('exported')!r})"


def _sudo_defaults(text: str) -> list[str]:
    """The "Matching Defaults entries" of a `sudo -l -U` listing, one entry each, in sudo's order."""
    blocks = re.findall(r"Matching Defaults entries.*?:\n(.*?)(?:\n\n|\nUser |\nRunas and |\Z)", text, flags=re.S)
    return [e.strip() for e in re.split(r",\s*", " ".join(" ".join(blocks).split())) if e.strip()]


def _sudo_listing(probe: Any, account: str) -> str:
    """`sudo -ll -U account` as root, under a pseudo-terminal (`script`): requiretty binds root too."""
    listing = shlex.quote(f"sudo -ll -U {shlex.quote(account)}")
    return str(probe.cmd(f"script -qec {listing} /dev/null </dev/null 2>&1").stdout).replace("\r", "")


def _sudo_umask(entries: list[str]) -> int | None:
    """The umask sudo applies to an account: the last umask entry of its listing. sudo lists the entries in
    the order of the files and applies them in that order, per-user ones included (sudo 1.9.13: a
    `Defaults:user umask=` line parsed before a global `umask=` is overridden by it)."""
    umasks = [e for e in entries if e.startswith("umask=")]
    value = (umasks or ["umask="])[-1].split("=", 1)[1].strip('"')
    return int(value, 8) if re.fullmatch(r"[0-7]+", value) else None


def _requires_tty(probe: Any, account: str) -> tuple[bool | None, str]:
    """Whether sudo refuses `account` without a terminal: `sudo -n true` run as the account in a session
    of its own (setsid: no controlling terminal). None when the run reached no verdict from sudo."""
    run = "sudo -n true" if account == "root" else f"su -s /bin/sh -c 'sudo -n true' {shlex.quote(account)}"
    r = probe.cmd(f"setsid -w {run} </dev/null 2>&1")
    text = " ".join(r.stdout.split())
    if "must have a tty" in text:
        return True, text
    return (False if r.rc == 0 or "sudo:" in text else None), text


def test_sk_auth_004(probe: Any, expect: Any, observe: Any, control: Any) -> None:
    """sudo's effective policy per account, as root: pseudo-terminal and log for all; for root (the global
    policy) and every member of the sudo groups who is not an automation account, a terminal required and
    baseline_sudo_umask; for each automation account, no terminal required and its own umask. Whether a
    terminal is required is tried (`sudo -n` without one); the umask is read from `sudo -ll -U`."""
    text = _sudo_listing(probe, "root")
    valid = "parsed OK" in probe.cmd("visudo -c 2>&1").stdout
    root_entries = _sudo_defaults(text)
    defaults = " ".join(root_entries)
    use_pty = "use_pty" in root_entries and "!use_pty" not in root_entries
    logfile = re.search(r"logfile=\"?([^,\s\"]+)", defaults)
    want_log = str(expect.get("baseline_sudo_logfile"))
    people_umask = int(str(expect.get("baseline_sudo_umask")), 8)
    robot_umask = int(str(expect.get("baseline_sudo_automation_umask")), 8)
    robots = [a for a in as_list(expect.get("baseline_sudo_automation_accounts")) if a != "root"]
    passwd = probe.out("getent passwd")
    accounts = {line.split(":")[0] for line in passwd.splitlines() if ":" in line}
    members = _group_members(probe.out("getent group"), passwd)
    groups = [str(expect.get("baseline_sudo_group")), *as_list(expect.get("baseline_sudo_keep_groups"))]
    people = sorted({m for g in groups for m in members.get(g, set())} - set(robots) - {"root"})
    listed = {"root": root_entries}
    no_rights: list[str] = []
    for account in [*people, *[a for a in robots if a in accounts]]:
        listing = _sudo_listing(probe, account)
        if "is not allowed to run sudo" in listing:
            no_rights.append(account)
        else:
            listed[account] = _sudo_defaults(listing)
    tried = {a: _requires_tty(probe, a) for a in listed}
    seen = {a: (tried[a][0], _sudo_umask(e)) for a, e in listed.items()}
    want = {a: (True, people_umask) for a in ["root", *people]} | {a: (False, robot_umask) for a in robots}
    observe(
        {
            "defaults": defaults,
            "visudo_ok": valid,
            "tty required, umask": {a: [t, None if u is None else f"{u:04o}"] for a, (t, u) in seen.items()},
            "sudo without a terminal": {a: said for a, (_, said) in tried.items()},
            "without sudo rights": no_rights,
        },
        {"use_pty": True, "logfile": "set", "tty required, umask": {a: [t, f"{u:04o}"] for a, (t, u) in want.items()}},
    )
    assert use_pty, "sudo does not force a pseudo-terminal (use_pty)"
    assert logfile, "sudo has no logfile"
    assert not want_log or logfile.group(1) == want_log, f"sudo logs to {logfile.group(1)}, want {want_log}"
    assert valid, "visudo -c reports errors"
    missing = [a for a in robots if a not in accounts]
    assert not missing, f"automation accounts (baseline_sudo_automation_accounts) missing: {', '.join(missing)}"
    robots_without = [a for a in robots if a in no_rights]
    assert not robots_without, f"automation accounts without sudo rights: {', '.join(robots_without)}"
    unknown = [f"{a}: {said or 'no output'}" for a, (verdict, said) in tried.items() if verdict is None]
    assert not unknown, f"sudo gave no verdict run without a terminal as {'; '.join(unknown)}"
    wrong = [
        f"{a} (terminal {'required' if seen[a][0] else 'not required'}, umask "
        f"{'unset' if seen[a][1] is None else format(seen[a][1], '04o')}; want "
        f"{'required' if t else 'not required'}, {u:04o})"
        for a, (t, u) in want.items()
        if a in seen and seen[a] != (t, u)
    ]
    assert not wrong, f"sudo's effective policy differs: {'; '.join(wrong)}"


def test_sk_auth_005(probe: Any, expect: Any, observe: Any, control: Any) -> None:
    """/etc/securetty is a root-owned regular file naming no terminal, and pam_securetty reads it for
    console logins (/etc/pam.d/login): otherwise the empty file restricts nothing."""
    info = probe.out("test -f /etc/securetty && stat -c '%U %a' /etc/securetty").split()
    text = probe.cat("/etc/securetty")
    terminals = [ln.strip() for ln in (text or "").splitlines() if ln.strip() and not ln.strip().startswith("#")]
    stack = probe.out("grep -E '^[[:space:]]*auth[[:space:]].*pam_securetty\\.so' /etc/pam.d/login").strip()
    want_pam = bool(expect.get("baseline_securetty_pam"))
    observe(
        {"securetty": " ".join(info) or "missing or not a file", "terminals": terminals, "login_stack": stack},
        {"securetty": "root, not world-writable", "terminals": [], "pam_securetty": want_pam},
    )
    assert text is not None and len(info) == 2, "/etc/securetty is missing or not a regular file"
    assert info[0] == "root", f"/etc/securetty belongs to {info[0]}, not root"
    assert not int(info[-1], 8) & 0o002, f"/etc/securetty is world-writable ({info[-1]}): pam_securetty refuses it"
    assert not terminals, f"/etc/securetty lists terminals root may log in on: {terminals}"
    assert want_pam, "baseline_securetty_pam is false: nothing reads /etc/securetty, root's console login is open"
    assert stack, "pam_securetty is not in /etc/pam.d/login: the empty /etc/securetty restricts nothing"


def _group_members(groups: str, passwd: str) -> dict[str, set[str]]:
    """Group name -> its members (listed in the group, or having it as primary group), from getent output."""
    by_gid: dict[str, str] = {}
    out: dict[str, set[str]] = {}
    for line in groups.splitlines():
        parts = line.split(":")
        if len(parts) >= 4:
            by_gid[parts[2]] = parts[0]
            out[parts[0]] = {m for m in parts[3].split(",") if m}
    for line in passwd.splitlines():
        parts = line.split(":")
        if len(parts) >= 4 and parts[3] in by_gid:
            out[by_gid[parts[3]]].add(parts[0])
    return out


def test_sk_auth_006(probe: Any, expect: Any, observe: Any, control: Any) -> None:
    group = str(expect.get("baseline_sudo_group"))
    binary = str(expect.get("baseline_sudo_binary"))
    want_mode = format(int(str(expect.get("baseline_sudo_mode")), 8), "o")
    connecting = str(expect.get("baseline_connecting_user"))
    passwd = probe.out("getent passwd")
    accounts = {line.split(":")[0] for line in passwd.splitlines() if ":" in line}
    members = _group_members(probe.out("getent group"), passwd)
    keep = {m for g in as_list(expect.get("baseline_sudo_keep_groups")) for m in members.get(g, set())}
    # every listed account that exists here, and the connecting one always (root needs no group)
    wanted = (set(as_list(expect.get("baseline_sudo_members"))) | keep) & accounts
    wanted |= {connecting} - {"root", ""}
    live = probe.cmd(f"stat -c '%a %U %G' {binary}").stdout.split()
    override = [line.split() for line in probe.out("dpkg-statoverride --list").splitlines()]
    registered = [o[:3] for o in override if len(o) == 4 and o[3] == binary]
    seen_members = sorted(members.get(group, set()))
    observe(
        {
            "group": group if group in members else None,
            "members": seen_members,
            "binary": " ".join(live),
            "statoverride": [" ".join(r) for r in registered],
        },
        {
            "members include": sorted(wanted),
            "binary": f"{want_mode} root {group}",
            "statoverride": f"root {group} {want_mode}",
        },
    )
    assert group in members, f"the sudo group {group} does not exist"
    missing = sorted(wanted - members[group])
    assert not missing, f"not in {group} (they would lose sudo): {', '.join(missing)}"
    assert len(live) == 3, f"{binary} not found"
    assert live == [want_mode, "root", group], f"{binary} is {' '.join(live)}, want {want_mode} root {group}"
    assert len(registered) == 1 and registered[0][1:] == [group, want_mode] and registered[0][0] in ("root", "0"), (
        f"dpkg-statoverride for {binary}: {registered or 'none'} (want root {group} {want_mode}; "
        "without it a sudo upgrade resets the mode)"
    )


def test_sk_pam_001(probe: Any, expect: Any, observe: Any, control: Any) -> None:
    conf = key_values((probe.cat("/etc/security/faillock.conf") or ""), sep=r"\s*=\s*")
    auth = probe.cmd(
        "grep -hE '^[^#]*pam_faillock' /etc/pam.d/common-auth /etc/pam.d/common-account 2>/dev/null"
    ).stdout
    want_deny = int(expect.get("baseline_faillock_deny"))
    want_unlock = int(expect.get("baseline_faillock_unlock_time"))
    deny_root = "even_deny_root" in conf or "even_deny_root" in auth
    observe(
        {"faillock.conf": conf, "pam": auth.strip().splitlines()},
        {
            "deny": want_deny,
            "unlock_time": want_unlock,
            "even_deny_root": bool(expect.get("baseline_faillock_even_deny_root")),
        },
    )
    assert "preauth" in auth and "authfail" in auth, "pam_faillock is not in the auth stack (preauth and authfail)"
    assert int(conf.get("deny", "0")) == want_deny, f"deny={conf.get('deny')}"
    assert int(conf.get("unlock_time", "0")) == want_unlock, f"unlock_time={conf.get('unlock_time')}"
    assert deny_root == bool(expect.get("baseline_faillock_even_deny_root")), "root lock-out differs from inventory"


def test_sk_pam_002(probe: Any, expect: Any, observe: Any, control: Any) -> None:
    conf = key_values(
        probe.cmd("cat /etc/security/pwquality.conf /etc/security/pwquality.conf.d/*.conf 2>/dev/null").stdout,
        sep=r"\s*=\s*",
    )
    stack = probe.cmd("grep -hE '^[^#]*pam_pwquality' /etc/pam.d/common-password 2>/dev/null").stdout
    want_len = int(expect.get("baseline_pwquality_minlen"))
    want_class = int(expect.get("baseline_pwquality_minclass"))
    observe(
        {"pwquality": conf, "pam": stack.strip()},
        {"minlen": want_len, "minclass": want_class, "enforce_for_root": True},
    )
    assert "pam_pwquality" in stack, "pam_pwquality is not in common-password"
    assert int(conf.get("minlen", "0")) >= want_len
    assert int(conf.get("minclass", "0")) >= want_class
    assert "enforce_for_root" in conf or "enforce_for_root" in stack, "not enforced for root"
    if conf.get("dictcheck", "1") != "0":  # without its dictionary, pwquality refuses every password
        words = probe.cmd("test -s /var/cache/cracklib/cracklib_dict.pwd && echo present").stdout.strip()
        assert words == "present", "dictcheck is on but the cracklib dictionary is missing (cracklib-runtime)"


def test_sk_pam_003(probe: Any, expect: Any, observe: Any, control: Any) -> None:
    lines = probe.cmd("grep -hE '^[[:space:]]*password[[:space:]]' /etc/pam.d/common-password 2>/dev/null").stdout
    # (control, module, arguments); a control may be a bracketed list with spaces ([success=1 default=ignore])
    stack = [
        (m.group(1), m.group(2), m.group(3).split())
        for m in re.finditer(r"^\s*password\s+(\[[^\]]*\]|\S+)\s+(\S+)(.*)$", lines, re.M)
    ]
    want = int(expect.get("baseline_pwhistory_remember"))
    modules = [module for _, module, _ in stack]
    history = [(ctl, args) for ctl, module, args in stack if module == "pam_pwhistory.so"]
    observe(
        {"password stack": [" ".join([ctl, module, *args]) for ctl, module, args in stack]},
        {"pam_pwhistory": f"requisite, remember>={want}, enforce_for_root, before pam_unix"},
    )
    assert len(history) == 1, f"{len(history)} pam_pwhistory lines in common-password, want 1"
    ctl, args = history[0]
    remember = [int(a.split("=", 1)[1]) for a in args if re.fullmatch(r"remember=\d+", a)]
    # requisite: a refused password ends the stack there, before pam_unix can store it
    assert ctl == "requisite", f"pam_pwhistory is {ctl}, want requisite"
    assert remember and remember[-1] >= want, f"remember={remember}, want >= {want}"
    assert "enforce_for_root" in args, "password history not enforced for root"
    assert "pam_unix.so" in modules and modules.index("pam_pwhistory.so") < modules.index("pam_unix.so"), (
        "pam_pwhistory does not come before pam_unix"
    )
