"""SK-BOOT: the kernel's command line (baseline role, through the kernel_args role) and GRUB's superuser (keys role)."""

from __future__ import annotations

import re
from typing import Any

from hostcheck import as_list, entries_lacking, kernel_boot, stat

# What the running kernel shows for some arguments beyond the command line itself: a file and the value it
# holds when the argument took effect (these read the kernel's state, not the configuration). slub_debug=FZP's
# red zones and sanity checks show in the same folder as its poisoning (red_zone, sanity_checks).
EFFECTS = [
    ("page_alloc.shuffle=1", "/sys/module/page_alloc/parameters/shuffle", "Y"),
    ("rng_core.default_quality=500", "/sys/module/rng_core/parameters/default_quality", "500"),
    ("slub_debug=FZP", "/sys/kernel/slab/kmalloc-64/poison", "1"),
    ("slub_debug=FZP", "/sys/kernel/slab/kmalloc-64/red_zone", "1"),
    ("slub_debug=FZP", "/sys/kernel/slab/kmalloc-64/sanity_checks", "1"),
]
# Kernel messages of this boot that show an argument took effect.
MESSAGES = {
    "init_on_free=1": "heap free:on",
    "pti=on": "Kernel/User page tables isolation: enabled",
}


def test_sk_boot_001(probe: Any, expect: Any, observe: Any, control: Any) -> None:
    """The arguments are on the command line of the running kernel (GRUB booted it), on every kernel entry
    GRUB will boot next, and where the kernel shows their effect, it shows it."""
    wanted = as_list(expect.get("baseline_kernel_hardening_args"))
    cmdline, grub_booted, entries = kernel_boot(probe)
    effects = [(arg, path, probe.out(f"cat {path} 2>/dev/null").strip(), want) for arg, path, want in EFFECTS]
    effects = [e for e in effects if e[0] in wanted]
    kernel_log = probe.out(
        "journalctl -k -b -o cat --no-pager 2>/dev/null | grep -E 'mem auto-init|page tables isolation'"
    )
    # The kernel's own verdict on each CPU vulnerability it knows: with the mitigations on the command line,
    # "Vulnerable" means the CPU lacks what they need (microcode, SSBD), which no argument repairs.
    vulnerabilities = dict(
        line.split(":", 1)
        for line in probe.out("grep -r . /sys/devices/system/cpu/vulnerabilities/ 2>/dev/null").splitlines()
        if ":" in line
    )
    vulnerable = {
        path.rsplit("/", 1)[-1]: state for path, state in vulnerabilities.items() if state.startswith("Vulnerable")
    }
    observe(
        {
            "cmdline": " ".join(cmdline),
            "grub.cfg linux lines": [" ".join(e) for e in entries],
            "effects": {path: seen for _, path, seen, _ in effects},
            "kernel log": kernel_log.strip().splitlines(),
            "CPU vulnerabilities": {path.rsplit("/", 1)[-1]: state for path, state in vulnerabilities.items()},
        },
        {
            "arguments": wanted,
            "effects": {path: want for _, path, _, want in effects},
            "CPU vulnerabilities": "none Vulnerable",
        },
    )
    assert grub_booted, (
        "the running kernel was not booted by GRUB (no BOOT_IMAGE= on /proc/cmdline): the arguments the role keeps "
        "in GRUB's configuration do not reach it"
    )
    missing = [a for a in wanted if a not in cmdline]
    assert not missing, f"the running kernel lacks {missing} (the role sets them in GRUB; reboot after a converge)"
    assert entries, "/boot/grub/grub.cfg has no linux line"
    short = entries_lacking(entries, wanted)
    assert not short, f"grub.cfg entries that would boot without {wanted}: {short}"
    weak = [f"{arg}: {path} is {seen or '(missing)'}, want {want}" for arg, path, seen, want in effects if seen != want]
    assert not weak, f"arguments on the command line without their effect: {weak}"
    unseen = [a for a in wanted if a in MESSAGES and MESSAGES[a] not in kernel_log]
    assert not unseen, f"the kernel's log of this boot does not show {unseen} taking effect"
    assert vulnerabilities, "/sys/devices/system/cpu/vulnerabilities is missing or empty: the kernel reports nothing"
    assert not vulnerable, (
        f"the kernel reports the CPU vulnerable despite the mitigations: {vulnerable} (update the CPU microcode "
        "package or firmware; a hypervisor must expose the mitigation features to a VM)"
    )


PBKDF2 = re.compile(r"^password_pbkdf2\s+(\S+)\s+grub\.pbkdf2\.sha512\.\d+\.[0-9A-Fa-f]{32,}\.[0-9A-Fa-f]{128}$")


def grub_menu(cfg: str) -> tuple[list[dict[str, Any]], str | None]:
    """The top-level items of a grub.cfg (menuentry or submenu header, whether it boots Linux, and the
    entries nested in a submenu) and its `set default=` value."""
    items: list[dict[str, Any]] = []
    default = None
    stack: list[dict[str, Any]] = []
    for raw in cfg.splitlines():
        line = raw.strip()
        m = re.match(r"^set default=\"?([^\"]*)\"?$", line)
        if m and not stack:
            default = m.group(1)
        kind = line.split(" ", 1)[0]
        if kind in ("menuentry", "submenu") and line.endswith("{"):
            item = {"kind": kind, "header": line, "linux": False, "children": []}
            (stack[-1]["children"] if stack else items).append(item)
            stack.append(item)
        elif line.startswith("linux") and stack:
            for item in stack:
                item["linux"] = True
        elif line == "}" and stack:
            stack.pop()
    return items, default


def test_sk_boot_002(probe: Any, expect: Any, observe: Any, control: Any) -> None:
    """GRUB asks for its superuser's password before anyone edits an entry or opens its command line, boots
    the default entry and every Linux entry without it (an unattended reboot never waits at the console), and
    its grub.cfg, which holds the password hash, is root's only."""
    user = str(expect.get("keys_boot_superuser"))
    cfg_path = str(expect.get("keys_boot_grub_cfg"))
    script = str(expect.get("keys_boot_password_script"))
    cfg = probe.cat(cfg_path) or ""
    lines = [line.strip() for line in cfg.splitlines()]
    superusers = [line for line in lines if re.match(r"^set\s+superusers=", line)]
    hashes = [m.group(1) for line in lines if (m := PBKDF2.match(line))]
    plain = [line.split()[:2] for line in lines if re.match(r"^password\s", line)]
    items, default = grub_menu(cfg)
    flat = [i for top in items for i in [top, *top["children"]]]
    linux = [i["header"] for i in flat if i["kind"] == "menuentry" and i["linux"]]
    restricted = [h for h in linux if "--unrestricted" not in h]
    if default is not None and default.isdigit() and int(default) < len(items):
        boots = items[int(default)]
    else:
        boots = next((i for i in flat if default and (f"'{default}'" in i["header"])), None)
    files = {path: stat(probe, path) for path in (cfg_path, script)}
    observe(
        {
            "superusers": superusers,
            "password_pbkdf2 users": hashes,
            "plain-text password lines": plain,
            "Linux entries that ask for the password": restricted,
            "default entry": boots["header"] if boots else default,
            "files": files,
        },
        {"superusers": f'set superusers="{user}"', "password_pbkdf2 users": [user], "files": "0600 and 0700, root"},
    )
    assert cfg, f"{cfg_path} is missing or empty: this host is not booted by GRUB, or GRUB has no configuration"
    assert superusers and superusers[-1] in (f'set superusers="{user}"', f"set superusers={user}"), (
        f"grub.cfg sets no superuser {user} (seen: {superusers or 'none'}): anyone at the console can edit the "
        "kernel command line at boot"
    )
    assert user in hashes, f"grub.cfg gives {user} no PBKDF2 password (password_pbkdf2 users: {hashes or 'none'})"
    assert not plain, f"grub.cfg holds plain-text passwords for {plain}"
    assert linux, "grub.cfg has no menu entry that boots Linux"
    assert not restricted, f"Linux entries that would wait for the password at every boot: {restricted}"
    assert boots is not None and boots["kind"] == "menuentry" and "--unrestricted" in boots["header"], (
        f"the default entry ({default!r}) is not an unrestricted menu entry: an unattended reboot would wait for "
        "the password"
    )
    cfg_stat, script_stat = files[cfg_path], files[script]
    assert cfg_stat and cfg_stat["owner"] == "root" and cfg_stat["mode"] == "0600", f"{cfg_path}: {cfg_stat}"
    assert script_stat and script_stat["owner"] == "root" and script_stat["mode"] == "0700", f"{script}: {script_stat}"
