"""SK-BOOT: the kernel's command line (baseline role, through the kernel_args role)."""

from __future__ import annotations

from typing import Any

from hostcheck import as_list, entries_lacking, kernel_boot

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
    observe(
        {
            "cmdline": " ".join(cmdline),
            "grub.cfg linux lines": [" ".join(e) for e in entries],
            "effects": {path: seen for _, path, seen, _ in effects},
            "kernel log": kernel_log.strip().splitlines(),
        },
        {"arguments": wanted, "effects": {path: want for _, path, _, want in effects}},
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
