"""SK-SYS: runtime kernel parameters, read from /proc/sys in the host's own namespaces.

Wanted values come from the baseline role's sysctl map as the play renders it for this host (inventory
variables over role defaults). The parameters each check names below are the catalogue title's: the role
must have an entry for each (a missing one is an error naming it); the values expected are the role's.
"""

from __future__ import annotations

from typing import Any

from hostcheck import check_sysctls, sysctl_expectations

CLUSTER_ROLES = ("control-plane", "gpu-worker")


def _check(control: Any, probe: Any, expect: Any, observe: Any, named: dict[str, Any]) -> None:
    """Compare the runtime values with the role's entries for this control (each parameter named must have one)."""
    check_sysctls(probe, observe, sysctl_expectations(expect, control.id if control else "", named))


def test_sk_sys_001(probe: Any, expect: Any, observe: Any, control: Any) -> None:
    _check(control, probe, expect, observe, {"net.ipv4.conf.all.rp_filter": 1, "net.ipv4.conf.default.rp_filter": 1})


def test_sk_sys_002(probe: Any, expect: Any, observe: Any, control: Any) -> None:
    _check(
        control,
        probe,
        expect,
        observe,
        {
            "net.ipv4.conf.all.accept_redirects": 0,
            "net.ipv4.conf.default.accept_redirects": 0,
            "net.ipv4.conf.all.secure_redirects": 0,
            "net.ipv4.conf.default.secure_redirects": 0,
            "net.ipv6.conf.all.accept_redirects": 0,
            "net.ipv6.conf.default.accept_redirects": 0,
        },
    )


def test_sk_sys_003(probe: Any, expect: Any, observe: Any, control: Any, hostvars: dict[str, Any]) -> None:
    # Deviation: cluster nodes route pod and service traffic, so forwarding stays on there.
    role = hostvars.get("sitekit_host_role")
    _check(control, probe, expect, observe, {"net.ipv4.ip_forward": 1 if role in CLUSTER_ROLES else 0})


def test_sk_sys_004(probe: Any, expect: Any, observe: Any, control: Any) -> None:
    _check(
        control,
        probe,
        expect,
        observe,
        {"net.ipv4.conf.all.send_redirects": 0, "net.ipv4.conf.default.send_redirects": 0},
    )


def test_sk_sys_005(probe: Any, expect: Any, observe: Any, control: Any) -> None:
    _check(
        control,
        probe,
        expect,
        observe,
        {
            "net.ipv4.conf.all.accept_source_route": 0,
            "net.ipv4.conf.default.accept_source_route": 0,
            "net.ipv6.conf.all.accept_source_route": 0,
            "net.ipv6.conf.default.accept_source_route": 0,
        },
    )


def test_sk_sys_006(probe: Any, expect: Any, observe: Any, control: Any) -> None:
    _check(
        control,
        probe,
        expect,
        observe,
        {
            "net.ipv4.tcp_syncookies": 1,
            "net.ipv4.icmp_echo_ignore_broadcasts": 1,
            "net.ipv4.icmp_ignore_bogus_error_responses": 1,
        },
    )


def test_sk_sys_007(probe: Any, expect: Any, observe: Any, control: Any) -> None:
    # Deviation: 1, not ANSSI's 2, so CUDA IPC (pidfd_getfd) and MPI cross-memory attach keep working.
    _check(control, probe, expect, observe, {"kernel.yama.ptrace_scope": 1})


def test_sk_sys_008(probe: Any, expect: Any, observe: Any, control: Any) -> None:
    _check(control, probe, expect, observe, {"kernel.kptr_restrict": 2, "kernel.dmesg_restrict": 1})
    # The same addresses are in the kernel's symbol map on disk: root's alone.
    loose = probe.cmd("find /boot -maxdepth 1 -name 'System.map-*' -perm /0077 2>/dev/null").stdout.split()
    observe({"System.map readable by others": loose}, [])
    assert not loose, f"kernel symbol maps readable by others: {loose}"


def test_sk_sys_009(probe: Any, expect: Any, observe: Any, control: Any) -> None:
    _check(control, probe, expect, observe, {"kernel.randomize_va_space": 2})


def test_sk_sys_010(probe: Any, expect: Any, observe: Any, control: Any) -> None:
    _check(
        control,
        probe,
        expect,
        observe,
        {
            "fs.protected_symlinks": 1,
            "fs.protected_hardlinks": 1,
            "fs.protected_fifos": 2,
            "fs.protected_regular": 2,
        },
    )


def test_sk_sys_011(probe: Any, expect: Any, observe: Any, control: Any) -> None:
    _check(control, probe, expect, observe, {"fs.suid_dumpable": 0})


def test_sk_sys_012(probe: Any, observe: Any, control: Any) -> None:
    # Effective limit of a fresh login session (pam_limits) and systemd-coredump's merged configuration.
    hard = probe.cmd("sh -c 'ulimit -Hc'").stdout.strip()
    soft = probe.cmd("sh -c 'ulimit -Sc'").stdout.strip()
    coredump = {}
    for line in probe.out("systemd-analyze cat-config systemd/coredump.conf 2>/dev/null").splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and not key.startswith(("#", ";")):
            coredump[key.strip()] = value.strip()
    observe(
        {"ulimit_hard_core": hard, "ulimit_soft_core": soft, "coredump": coredump},
        {"ulimit_hard_core": "0", "coredump.Storage": "none"},
    )
    assert hard == "0", f"hard core limit of a login session is {hard!r}, want 0"
    assert coredump.get("Storage") == "none", f"systemd-coredump Storage={coredump.get('Storage')!r}, want none"


def test_sk_sys_013(probe: Any, expect: Any, observe: Any, control: Any) -> None:
    _check(control, probe, expect, observe, {"kernel.unprivileged_bpf_disabled": 1, "net.core.bpf_jit_harden": 2})


def test_sk_sys_014(probe: Any, expect: Any, observe: Any, control: Any) -> None:
    _check(control, probe, expect, observe, {"kernel.kexec_load_disabled": 1, "kernel.sysrq": 0})


def test_sk_sys_015(probe: Any, expect: Any, observe: Any, control: Any) -> None:
    _check(control, probe, expect, observe, {"kernel.perf_event_paranoid": 2})


def test_sk_sys_016(probe: Any, expect: Any, observe: Any, control: Any) -> None:
    _check(
        control, probe, expect, observe, {"net.ipv4.conf.all.log_martians": 1, "net.ipv4.conf.default.log_martians": 1}
    )


def test_sk_sys_017(probe: Any, expect: Any, observe: Any, control: Any) -> None:
    _check(control, probe, expect, observe, {"net.ipv6.conf.all.accept_ra": 0, "net.ipv6.conf.default.accept_ra": 0})


def test_sk_sys_018(probe: Any, expect: Any, observe: Any, control: Any) -> None:
    # Available (rootless runtimes, Kubernetes user namespaces) and bounded.
    wanted = sysctl_expectations(expect, control.id, {"user.max_user_namespaces": None})  # the role bounds it
    seen = {k: probe.sysctl(k) for k in {"user.max_user_namespaces", *wanted}}
    observe(seen, {k: v for k, v in wanted.items() if v is not None} or "user.max_user_namespaces > 0")
    limit = seen["user.max_user_namespaces"]
    assert limit is not None and int(limit) > 0, "user namespaces are disabled (user.max_user_namespaces = 0)"
    for key, value in wanted.items():
        if value is not None:
            assert seen[key] == str(value), f"{key}={seen[key]} (want {value})"


def test_sk_sys_019(probe: Any, expect: Any, observe: Any, control: Any) -> None:
    _check(
        control,
        probe,
        expect,
        observe,
        {"net.ipv4.conf.all.accept_local": 0, "net.ipv4.conf.all.route_localnet": 0, "net.ipv4.tcp_rfc1337": 1},
    )


def test_sk_sys_020(probe: Any, expect: Any, observe: Any, control: Any) -> None:
    _check(control, probe, expect, observe, {"kernel.panic_on_oops": 1, "vm.mmap_min_addr": 65536})
