"""SK-BOOT-001's check (tests/hosts/test_boot.py) on a fake host: the arguments must be on the running
kernel GRUB booted, on every grub.cfg entry, and show their effect where the kernel shows one."""

from __future__ import annotations

from typing import Any

import pytest
from hostcheck_fakes import CommandTable, Expect, host_check_module

CHECK = host_check_module("sk_boot_check", "test_boot.py")
ARGS = ["pti=on", "slub_debug=FZP", "init_on_free=1", "page_alloc.shuffle=1", "rng_core.default_quality=500"]
CMDLINE = "BOOT_IMAGE=/vmlinuz-6.1 root=UUID=x ro console=ttyS0 " + " ".join(ARGS)
GRUB_CFG = f"menuentry 'Debian' {{\n\tlinux\t/vmlinuz-6.1 root=UUID=x ro {' '.join(ARGS)}\n}}\n"
V = "/sys/devices/system/cpu/vulnerabilities/"
SSB = "Mitigation: Speculative Store Bypass disabled via prctl and seccomp"
VULNS = f"{V}meltdown:Mitigation: PTI\n{V}spec_store_bypass:{SSB}\n{V}l1tf:Not affected\n"
LOG = "mem auto-init: stack:all(zero), heap alloc:on, heap free:on\nKernel/User page tables isolation: enabled\n"


def _host() -> CommandTable:
    return CommandTable(
        {
            "cat /proc/cmdline": (0, CMDLINE + "\n"),
            "cat /boot/grub/grub.cfg": (0, GRUB_CFG),
            "page_alloc/parameters/shuffle": (0, "Y\n"),
            "rng_core/parameters/default_quality": (0, "500\n"),
            "kmalloc-64/": (0, "1\n"),
            "journalctl -k": (0, LOG),
            "cpu/vulnerabilities": (0, VULNS),
        }
    )


def _judge(host: CommandTable) -> None:
    seen: list[Any] = []
    CHECK.test_sk_boot_001(host, Expect({"baseline_kernel_hardening_args": ARGS}), lambda *a: seen.append(a), None)


def test_a_grub_booted_kernel_with_every_argument_and_its_effects_passes() -> None:
    _judge(_host())


@pytest.mark.parametrize(
    ("key", "answer", "named"),
    [
        ("cat /proc/cmdline", (0, CMDLINE.replace("BOOT_IMAGE=/vmlinuz-6.1 ", "") + "\n"), "not booted by GRUB"),
        ("cat /proc/cmdline", (0, CMDLINE.replace(" pti=on", "") + "\n"), "running kernel lacks"),
        ("cat /boot/grub/grub.cfg", (0, GRUB_CFG.replace(" slub_debug=FZP", "")), "would boot without"),
        ("cat /boot/grub/grub.cfg", (1, ""), "no linux line"),
        ("page_alloc/parameters/shuffle", (0, "N\n"), "without their effect"),
        ("kmalloc-64/", (1, ""), "without their effect"),
        ("journalctl -k", (0, "Kernel/User page tables isolation: enabled\n"), "does not show"),
        ("cpu/vulnerabilities", (0, VULNS.replace(SSB, "Vulnerable")), "spec_store_bypass"),
        (
            "cpu/vulnerabilities",
            (
                0,
                VULNS
                + "/sys/devices/system/cpu/vulnerabilities/spec_rstack_overflow:Vulnerable: Safe RET, no microcode\n",
            ),
            "spec_rstack_overflow",
        ),
        ("cpu/vulnerabilities", (0, ""), "reports nothing"),
    ],
)
def test_each_missing_argument_or_effect_fails_naming_it(key: str, answer: tuple[int, str], named: str) -> None:
    host = _host()
    host.answers[key] = answer
    with pytest.raises(AssertionError, match=named):
        _judge(host)


# SK-BOOT-002: GRUB's superuser. A grub.cfg as Debian's grub-mkconfig writes it with the keys role's script.
HASH = "grub.pbkdf2.sha512.10000." + "AB" * 64 + "." + "CD" * 64
CLS = "--class debian --class gnu-linux --class gnu --class os --unrestricted $menuentry_id_option"
MENU = f"""set default="0"
set superusers="bootadmin"
password_pbkdf2 bootadmin {HASH}
menuentry 'Debian GNU/Linux' {CLS} 'gnulinux-simple-x' {{
\tlinux\t/vmlinuz-6.1 root=UUID=x ro
}}
submenu 'Advanced options for Debian GNU/Linux' $menuentry_id_option 'gnulinux-advanced-x' {{
\tmenuentry 'Debian GNU/Linux, with Linux 6.1' {CLS} 'gnulinux-6.1-advanced-x' {{
\t\tlinux\t/vmlinuz-6.1 root=UUID=x ro
\t}}
}}
"""
BOOT_VARS = {
    "keys_boot_superuser": "bootadmin",
    "keys_boot_grub_cfg": "/boot/grub/grub.cfg",
    "keys_boot_password_script": "/etc/grub.d/01_sitekit_superuser",
}


def _grub_host(menu: str = MENU, cfg_mode: str = "600", script_mode: str = "700") -> CommandTable:
    return CommandTable(
        {
            "cat /boot/grub/grub.cfg": (0, menu),
            "stat -c '%a %U %G %F' /boot/grub/grub.cfg": (0, f"{cfg_mode} root root regular file\n"),
            "stat -c '%a %U %G %F' /etc/grub.d/01_sitekit_superuser": (0, f"{script_mode} root root regular file\n"),
        }
    )


def _judge_grub(host: CommandTable) -> None:
    CHECK.test_sk_boot_002(host, Expect(BOOT_VARS), lambda *a: None, None)


def test_a_superuser_with_unrestricted_linux_entries_passes() -> None:
    _judge_grub(_grub_host())


@pytest.mark.parametrize(
    ("menu", "named"),
    [
        (MENU.replace('set superusers="bootadmin"\n', ""), "no superuser"),
        (MENU.replace('superusers="bootadmin"', 'superusers="root"'), "no superuser"),
        (MENU.replace(f"password_pbkdf2 bootadmin {HASH}", "password bootadmin hunter2"), "no PBKDF2 password"),
        (MENU + "password root hunter2\n", "plain-text"),
        (
            MENU.replace(
                "--class os --unrestricted $menuentry_id_option 'gnulinux-6.1",
                "--class os $menuentry_id_option 'gnulinux-6.1",
            ),
            "wait for the password",
        ),
        (MENU.replace('set default="0"', 'set default="1"'), "default entry"),
        ("", "missing or empty"),
    ],
)
def test_each_weakness_of_the_boot_loader_fails_naming_it(menu: str, named: str) -> None:
    with pytest.raises(AssertionError, match=named):
        _judge_grub(_grub_host(menu))


@pytest.mark.parametrize(("cfg_mode", "script_mode"), [("444", "700"), ("644", "700"), ("600", "755")])
def test_a_readable_grub_cfg_or_script_fails(cfg_mode: str, script_mode: str) -> None:
    with pytest.raises(AssertionError, match="root"):
        _judge_grub(_grub_host(cfg_mode=cfg_mode, script_mode=script_mode))
