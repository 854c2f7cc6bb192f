"""The container tier: each lab host is the cached root on its own overlay, booted by systemd-nspawn.

systemd runs as PID 1 (so units, journald, logind and sshd behave as on a real host) in a private network
namespace that `netns.attach_pid` joins to the lab bridge. The root stays read-only in the cache; every
write lands in the host's overlay upper folder under the lab's state folder, which `down` removes.

Containment: nspawn already keeps `kernel.*` sysctls and /sys read-only and leaves out CAP_SYS_MODULE,
but root inside still holds CAP_SYS_ADMIN and could remount /proc/sys read-write and change the machine's
kernel. systemd as PID 1 will not boot here without CAP_SYS_ADMIN (nor under a mount syscall filter, nor
in a user namespace), so the lab takes CAP_SYS_ADMIN, CAP_SYS_RAWIO, CAP_SYS_TIME and CAP_SYS_MODULE out
of the capability bounding set of *every service* (a top-level `service.d` drop-in): sshd and so every
session Ansible, testinfra or an operator opens, and every unit root asks PID 1 for (`systemd-run`).
Only PID 1 keeps them (it needs them to boot). This is a guard against accidents, not a security
boundary: root in a host can still delete the drop-in and reload PID 1. Controls that need those
capabilities (mount options, audit, kernel sysctls) belong to the VM tier.
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

from sitekit.atomic import write_atomic
from sitekit.lab import keys, mirror, netns, procs
from sitekit.lab.layout import LabHost, Layout
from sitekit.lab.procs import ProcRef
from sitekit.lab.rootfs import LAB_USER
from sitekit.lab.util import LabError, run

DROPPED_CAPABILITIES = ("CAP_SYS_ADMIN", "CAP_SYS_RAWIO", "CAP_SYS_TIME", "CAP_SYS_MODULE")
"""Capabilities no SSH session in a container host may hold (see the module docstring)."""

_CONTAINMENT = (
    "# Written by `sitekit lab up`: a container host shares the machine's kernel, so nothing that\n"
    "# arrives over SSH may hold the capabilities that reach it (mount /proc/sys, modules, clock).\n"
    "[Service]\n"
    f"CapabilityBoundingSet=~{' '.join(DROPPED_CAPABILITIES)}\n"
)


def machine_name(cc: str, host: str) -> str:
    """nspawn's machine name: unique across labs (it names /run/systemd/nspawn/propagate/<name>)."""
    return f"{netns.netns_name(cc)}-{host}"


def host_dir(lab: Path, host: str) -> Path:
    """The folder of one host's overlay, logs and root mount point."""
    return lab / "hosts" / host


def is_mounted(path: Path) -> bool:
    """True if `path` is a mount point in the machine's mount namespace."""
    target = str(path)
    with open("/proc/self/mountinfo") as fh:
        return any(line.split()[4] == target for line in fh)


def mount_layer(base: Path, folder: Path) -> Path:
    """Mount the host's copy-on-write root (overlay of the cached root); return the merged root."""
    merged = folder / "root"
    for sub in ("upper", "work", "root"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    if not is_mounted(merged):
        opts = f"lowerdir={base},upperdir={folder / 'upper'},workdir={folder / 'work'}"
        run(["mount", "-t", "overlay", "overlay", "-o", opts, merged])
    return merged


def write_host_files(
    root: Path, layout: Layout, host: LabHost, client_pub: str, keyring: bytes, vm: bool = False
) -> list[str]:
    """Give the host its identity and the lab's trust; return its SSH host public keys."""
    etc = root / "etc"
    write_atomic(etc / "hostname", f"{host.name}\n")
    lines = ["127.0.0.1\tlocalhost", f"127.0.1.1\t{host.name}", "::1\tlocalhost ip6-localhost ip6-loopback"]
    lines += [f"{h.address}\t{h.name}" for h in layout.hosts]
    lines.append(f"{layout.mirror_address}\t{layout.mirror_host}")
    write_atomic(etc / "hosts", "\n".join(lines) + "\n")
    write_atomic(etc / "machine-id", uuid.uuid4().hex + "\n", 0o444)
    write_atomic(etc / "apt" / "sources.list.d" / "sitekit-lab.sources", mirror.host_source(layout))
    write_atomic(root / mirror.KEYRING_IN_HOST.lstrip("/"), keyring)
    if not vm:
        # A drop-in for *every* service (systemd's top-level `service.d`), not just sshd: otherwise root
        # could ask PID 1 to start a unit (`systemd-run`) that still holds CAP_SYS_ADMIN.
        write_atomic(etc / "systemd" / "system" / "service.d" / "sitekit-lab-containment.conf", _CONTAINMENT)
    uid, gid = _ids(root, LAB_USER)
    ssh_dir = root / "home" / LAB_USER / ".ssh"
    ssh_dir.mkdir(mode=0o700, exist_ok=True)
    os.chown(ssh_dir, uid, gid)
    write_atomic(ssh_dir / "authorized_keys", client_pub.strip() + "\n", 0o600)
    os.chown(ssh_dir / "authorized_keys", uid, gid)
    return keys.host_keys(root)


def _ids(root: Path, user: str) -> tuple[int, int]:
    """The uid and gid of `user` inside the root (read from its /etc/passwd, not the machine's)."""
    for line in (root / "etc" / "passwd").read_text().splitlines():
        parts = line.split(":")
        if parts[0] == user:
            return int(parts[2]), int(parts[3])
    raise LabError(f"user {user} is missing from the lab root {root}")


def start(layout: Layout, host: LabHost, root: Path, folder: Path) -> tuple[ProcRef, ProcRef]:
    """Boot the host with nspawn; return (nspawn, container PID 1) once its network namespace exists."""
    proc = procs.spawn(
        [
            "systemd-nspawn",
            "--boot",
            "--quiet",
            f"--directory={root}",
            f"--machine={machine_name(layout.cc, host.name)}",
            f"--hostname={host.name}",
            "--register=no",
            "--keep-unit",
            "--private-network",
            "--resolv-conf=off",
            "--timezone=off",
            "--link-journal=no",
            "--console=pipe",
        ],
        folder / "console.log",
    )
    nspawn = ProcRef.of(proc.pid)
    mine = procs.net_ns(os.getpid())
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise LabError(f"systemd-nspawn for {host.name} exited ({proc.returncode}); see {folder}/console.log")
        for child in procs.children(proc.pid):
            ns = procs.net_ns(child)
            ref = ProcRef.of(child)
            if ns is not None and ns != mine and ref is not None and nspawn is not None:
                return nspawn, ref
        time.sleep(0.05)
    raise LabError(f"{host.name}: the container did not start within 20 s; see {folder}/console.log")


def connect(layout: Layout, index: int, host: LabHost, leader: ProcRef) -> None:
    """Join the host to the lab bridge with its spec address."""
    netns.attach_pid(layout.netns, index, leader.pid, host.interface, layout.gateway.ip)
