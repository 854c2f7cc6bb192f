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
    ],
)
def test_each_missing_argument_or_effect_fails_naming_it(key: str, answer: tuple[int, str], named: str) -> None:
    host = _host()
    host.answers[key] = answer
    with pytest.raises(AssertionError, match=named):
        _judge(host)
