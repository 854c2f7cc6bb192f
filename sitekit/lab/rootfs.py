"""The Debian root every lab host boots: built once with mmdebstrap, cached by its package list.

Building the root is the slow step of the lab (about a minute), so it happens once per package list: the
cache folder is named by `packages.digest(...)` and is built into a temporary sibling then renamed, so an
interrupted build never leaves a half root that a later `up` would trust. Hosts never write to it: each
boots on its own overlay (container tier) or disk image (VM tier).

What is host-specific (hostname, machine id, SSH host keys, authorized key, apt source) is NOT in the root:
a shared root with baked-in host keys would give every lab host the same identity.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from sitekit.lab import packages
from sitekit.lab.util import build_lock, require_tools, run
from sitekit.paths import cache_dir

LAB_USER = "ansible"
"""The account Ansible and testinfra log in as (key only, passwordless sudo, as the real fleet)."""

# Steps run inside the new root by mmdebstrap (`$1` is the root). Kept as shell because that is the
# interface mmdebstrap hooks have; each line is one idempotent change.
_COMMON_HOOKS = (
    f'chroot "$1" useradd --create-home --shell /bin/bash --comment "sitekit lab" {LAB_USER}',
    f'echo "{LAB_USER} ALL=(ALL:ALL) NOPASSWD: ALL" > "$1/etc/sudoers.d/90-sitekit-lab"',
    'chmod 0440 "$1/etc/sudoers.d/90-sitekit-lab"',
    # Host keys are generated per host; a shared key would make all hosts one identity.
    'rm -f "$1"/etc/ssh/ssh_host_*',
    # An empty machine-id means "first boot"; each host gets its own id before it starts.
    ': > "$1/etc/machine-id"',
    'rm -f "$1/var/lib/dbus/machine-id"',
    # mmdebstrap writes no /etc/hosts (sudo then complains); each host gets its own later.
    'printf "127.0.0.1\\tlocalhost\\n" > "$1/etc/hosts"',
    # The build's sources point off the machine; each host gets the lab mirror instead.
    'rm -f "$1/etc/apt/sources.list"',
    'rm -rf "$1"/var/lib/apt/lists/*',
)

_VM_HOOKS = (
    'printf "/dev/vda / ext4 rw,errors=remount-ro 0 1\\n" > "$1/etc/fstab"',
    'chroot "$1" systemctl enable systemd-networkd',
    # Debian's cloud kernel has virtio as modules: make sure the initramfs carries them.
    'printf "virtio_pci\\nvirtio_blk\\nvirtio_net\\next4\\n" >> "$1/etc/initramfs-tools/modules"',
    'chroot "$1" update-initramfs -u -k all',
)


def root_key(tier: str) -> str:
    """The cache key of the root for a tier (its package lists and build hooks)."""
    if tier == "vm":
        return "vm-" + packages.digest(packages.ROOT_PACKAGES, packages.VM_PACKAGES, _COMMON_HOOKS + _VM_HOOKS)
    return "ct-" + packages.digest(packages.ROOT_PACKAGES, _COMMON_HOOKS)


def root_path(tier: str) -> Path:
    """Where the root for `tier` lives in the cache (it may not exist yet)."""
    return cache_dir() / "lab" / "rootfs" / root_key(tier)


def ensure_root(tier: str) -> tuple[Path, bool]:
    """Return the cached root for `tier`, building it first if needed; the flag says whether it was built."""
    final = root_path(tier)
    if (final / "etc" / "os-release").exists():
        return final, False
    with build_lock(final):
        if (final / "etc" / "os-release").exists():
            return final, False  # another lab built it while we waited
        _build(tier, final)
    return final, True


def _build(tier: str, final: Path) -> None:
    """Build the root into a temporary sibling, then rename it into place."""
    require_tools("mmdebstrap")
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(final.name + ".building")
    if tmp.exists():
        shutil.rmtree(tmp)
    include = list(packages.ROOT_PACKAGES)
    hooks = list(_COMMON_HOOKS)
    if tier == "vm":
        include += packages.VM_PACKAGES
        hooks += _VM_HOOKS
    cmd: list[str] = [
        "mmdebstrap",
        "--quiet",
        "--variant=apt",
        "--mode=root",
        "--include=" + ",".join(include),
        "--dpkgopt=path-exclude=/usr/share/man/*",
        "--dpkgopt=path-exclude=/usr/share/doc/*",
        "--dpkgopt=path-include=/usr/share/doc/*/copyright",
    ]
    cmd += [f"--customize-hook={h}" for h in hooks]
    cmd += [packages.SUITE, str(tmp), *packages.DEBIAN_SOURCES]
    try:
        run(cmd, timeout=1800)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    tmp.rename(final)
