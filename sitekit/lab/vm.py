"""The VM tier: the same Debian root as a disk image, booted by QEMU through GRUB with Debian's cloud kernel.

For the controls a container cannot own: audit (`audit=1` on the kernel command line, auditd runnable),
kernel-wide sysctls, loop and device-mapper (LUKS), and a TPM (swtpm as the VM's TPM 2.0). Each VM sits
on the same lab bridge as the containers would, through a tap device in the lab namespace, with its spec
address (systemd-networkd, matched by a MAC derived from the address), so the inventory, ProxyCommand and
mirror are identical across tiers.

The VM boots as a bare-metal host does: SeaBIOS, then GRUB (i386-pc) from the /boot disk (sitekit.lab.bootdisk),
then the kernel with the arguments in /boot/grub/grub.cfg. `lab up` writes the first grub.cfg and
/etc/default/grub as an installer would; from then on Debian's `update-grub` inside the VM owns grub.cfg, so
kernel arguments a role adds to GRUB take effect at the next reboot, as on real hosts.

QEMU uses KVM only where a short probe shows a guest actually runs under it (on some machines /dev/kvm
opens but guests hang); otherwise software emulation, which is slow: keep VM work small and targeted.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from sitekit.atomic import write_atomic
from sitekit.lab import bootdisk, container, netns, procs
from sitekit.lab.layout import LabHost, Layout
from sitekit.lab.procs import ProcRef
from sitekit.lab.state import LabState
from sitekit.lab.util import LabError, require_tools, run
from sitekit.paths import cache_dir

DISK_SIZE = "4G"
DATA_DISK_SIZE = 512 * 1024 * 1024
DATA_DISK_SERIAL = "sitekit-models"
"""Every VM gets an empty second disk, as a GPU worker has a data NVMe: the guest's udev names it
/dev/disk/by-id/virtio-sitekit-models, the baseline spec's `keys.model_volume.device`. Sparse, so it
costs no space until the keys role formats it."""
MEMORY_MB = 2560
"""Guest memory: a yescrypt hash at the baseline's cost 11 needs 1 GiB, and the baseline role refuses a cost
whose hash would take more than half the host's memory (MemTotal, a little below this figure).
Under emulation a guest's memory costs the machine only what it touches."""
KERNEL_CMDLINE = "root=/dev/vda rw console=ttyS0 audit=1 net.ifnames=0 panic=-1"
"""The first boot's kernel arguments (the first grub.cfg; /etc/default/grub has them less root= and rw).
`audit=1` so auditing is on from boot; `net.ifnames=0` keeps the NIC called eth0 as in containers."""
SEPARATE_FILESYSTEMS: tuple[tuple[str, str], ...] = (
    ("/var/log/audit", "256M"),
    ("/var/log", "512M"),
    ("/var/tmp", "256M"),
    ("/var", "3G"),
    ("/home", "256M"),
    ("/srv", "64M"),
    ("/opt", "64M"),
    ("/boot", "256M"),
    ("/usr", "4G"),
)
"""The separate filesystems a hardened server is installed with (ANSSI-BP-028 R28, CIS 1.1.x): each its own
ext4 disk after the data disk (vdc, vdd, ... in this order), mounted from /etc/fstab with `defaults`, as a
provisioning tool leaves them; hardening their mount options is the baseline role's work (SK-FS-006).
Deepest first: each image is made before its parent's, which then holds only the empty mount point. The
guest's initramfs mounts /usr before switching root (initramfs-tools reads the root's fstab). Images
are sparse: they cost only what they hold. /boot's disk is the boot disk: partitioned, with GRUB's boot
code before its one partition (`BOOT_INDEX`, `filesystem_device`)."""
BOOT_INDEX = next(i for i, (mountpoint, _) in enumerate(SEPARATE_FILESYSTEMS) if mountpoint == "/boot")


def kernel_files(root: Path) -> tuple[Path, Path]:
    """The cloud kernel and the initramfs built inside the VM root (`kvm_usable` boots the kernel directly)."""
    kernels = sorted((root / "boot").glob("vmlinuz-*"))
    initrds = sorted((root / "boot").glob("initrd.img-*"))
    if not kernels or not initrds:
        raise LabError(f"the VM root {root} has no kernel or initramfs in /boot")
    return kernels[-1], initrds[-1]


def mac_for(host: LabHost) -> str:
    """A stable locally administered MAC derived from the host's address."""
    a, b, c, d = host.address.packed
    return f"52:54:{a:02x}:{b:02x}:{c:02x}:{d:02x}"


def kvm_usable(kernel: Path) -> bool:
    """True if a guest really runs under KVM here: boot the kernel without a root, expect its panic.

    The answer is cached per machine kernel (`SITEKIT_LAB_ACCEL=tcg|kvm` overrides it).
    """
    forced = os.environ.get("SITEKIT_LAB_ACCEL")
    if forced in ("tcg", "kvm"):
        return forced == "kvm"
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return False
    marker = cache_dir() / "lab" / f"kvm-probe-{os.uname().release}"
    if marker.exists():
        return marker.read_text().strip() == "kvm"
    try:
        proc = subprocess.run(
            [
                "qemu-system-x86_64",
                "-accel",
                "kvm",
                "-cpu",
                "host",
                "-m",
                "256",
                "-nodefaults",
                "-display",
                "none",
                "-serial",
                "stdio",
                "-no-reboot",
                "-kernel",
                str(kernel),
                "-append",
                "console=ttyS0 panic=-1 root=/dev/nonexistent",
            ],
            capture_output=True,
            text=True,
            timeout=20,
            stdin=subprocess.DEVNULL,
        )
        ok = "Kernel panic" in proc.stdout or "VFS" in proc.stdout
    except subprocess.TimeoutExpired:
        ok = False
    write_atomic(marker, "kvm\n" if ok else "tcg\n")
    return ok


def _network_config(layout: Layout, host: LabHost) -> str:
    return (
        "# Written by `sitekit lab up`: the VM's spec address on the lab bridge.\n"
        f"[Match]\nMACAddress={mac_for(host)}\n\n"
        f"[Network]\nAddress={host.interface}\nGateway={layout.gateway.ip}\n"
        "LinkLocalAddressing=no\nIPv6AcceptRA=no\n"
    )


def build_disk(
    root: Path, layout: Layout, host: LabHost, folder: Path, pub: str, keyring: bytes, state: LabState
) -> list[str]:
    """Make the VM's disks: the root plus the host's own files as ext4 images (no loop device needed), the
    /boot one a bootable partitioned disk, and the empty data disk."""
    rec = state.host(host.name)
    rec.mount = str(folder / "root")
    state.save()
    merged = container.mount_layer(root, folder)
    try:
        keys = container.write_host_files(merged, layout, host, pub, keyring, vm=True)
        write_atomic(merged / "etc/systemd/network/10-sitekit-lab.network", _network_config(layout, host))
        write_atomic(merged / "etc/fstab", fstab())
        # GRUB first, while the whole root is still visible to the chroot that makes core.img.
        boot = bootdisk.new_boot_disk()
        core_img = bootdisk.make_core_image(merged, boot)
        boot_img = (merged / bootdisk.GRUB_LIB / "boot.img").read_bytes()
        bootdisk.populate_grub_dir(merged, merged / "boot", boot, KERNEL_CMDLINE)
        for index, (mountpoint, size) in enumerate(SEPARATE_FILESYSTEMS):
            image = folder / f"fs{index}.raw"
            point = merged / mountpoint.lstrip("/")
            if not point.is_dir():  # /var/log/audit comes with auditd, which the audit role installs
                point.mkdir(parents=True)
                point.chmod(0o700 if mountpoint.endswith("/audit") else 0o755)
            if index == BOOT_INDEX:
                bootdisk.make_boot_disk(point, image, _bytes(size), _label(mountpoint), boot)
                _keep_root_owner(point, bootdisk.filesystem_path(image))
                bootdisk.install_boot_code(image, boot_img, core_img)
            else:
                _make_fs(point, image, size, label=_label(mountpoint))
            # The parent's image must hold only the mount point: hide the tree under an empty folder.
            empty = folder / "empty" / str(index)
            empty.mkdir(parents=True, exist_ok=True)
            run(["mount", "--bind", empty, merged / mountpoint.lstrip("/")])
        _make_fs(merged, folder / "disk.raw", DISK_SIZE, label="root")
    finally:
        run(["umount", "-R", merged], check=False)
    data = folder / "data.raw"
    data.unlink(missing_ok=True)
    with data.open("wb") as handle:
        handle.truncate(DATA_DISK_SIZE)
    return keys


def _label(mountpoint: str) -> str:
    """An ext4 label for a mount point (at most 16 bytes): /var/log/audit -> var-log-audit."""
    return mountpoint.strip("/").replace("/", "-")[:16]


def _bytes(size: str) -> int:
    """A size as mke2fs takes it ("256M", "4G") in bytes."""
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    return int(size[:-1]) * units[size[-1].upper()] if size[-1].upper() in units else int(size)


def device_of(index: int) -> str:
    """The guest's disk of the separate filesystem `SEPARATE_FILESYSTEMS[index]`: /dev/vdc onwards, since
    vda is the root disk and vdb the data disk (`_filesystem_drives` attaches them in that order)."""
    return f"/dev/vd{chr(ord('c') + index)}"


def filesystem_device(index: int) -> str:
    """The guest's device holding `SEPARATE_FILESYSTEMS[index]`: its disk, or for /boot (the partitioned
    boot disk) the disk's first partition."""
    return device_of(index) + ("1" if index == BOOT_INDEX else "")


def fstab() -> str:
    """The VM's /etc/fstab: the root, then each separate filesystem on its device (vdc onwards), `defaults`."""
    lines = [
        "# Written by `sitekit lab up`: the lab VM's disks, as a provisioning tool leaves them.",
        "/dev/vda / ext4 rw,errors=remount-ro 0 1",
    ]
    for index, (mountpoint, _) in enumerate(SEPARATE_FILESYSTEMS):
        lines.append(f"{filesystem_device(index)} {mountpoint} ext4 defaults 0 2")
    return "\n".join(lines) + "\n"


def _make_fs(source: Path, image: Path, size: str, label: str) -> None:
    """An ext4 image holding `source`'s tree, its root folder with `source`'s own mode and owner (mke2fs
    gives the root of a populated filesystem 0755 root:root, which would make /var/tmp unwritable)."""
    image.unlink(missing_ok=True)
    run(["mke2fs", "-q", "-t", "ext4", "-L", label, "-d", source, image, size], timeout=600)
    _keep_root_owner(source, str(image))


def _keep_root_owner(source: Path, filesystem: str) -> None:
    """Give the root folder of `filesystem` (an e2fsprogs device name) `source`'s mode and owner."""
    st = source.stat()
    commands = f"sif / mode 0{st.st_mode:o}\nsif / uid {st.st_uid}\nsif / gid {st.st_gid}\n"
    script = Path(filesystem.split("?")[0]).with_suffix(".debugfs")
    script.write_text(commands)
    run(["debugfs", "-w", "-f", script, filesystem], timeout=60)
    script.unlink()


def start(layout: Layout, index: int, host: LabHost, folder: Path, kvm: bool) -> list[ProcRef]:
    """Start swtpm and QEMU for one VM; return their process references (QEMU first). The firmware boots
    the /boot disk (bootindex 0), whose GRUB loads the kernel."""
    tpm_dir = folder / "tpm"
    tpm_dir.mkdir(exist_ok=True)
    sock = folder / "swtpm.sock"
    sock.unlink(missing_ok=True)
    tpm = procs.spawn(
        [
            "swtpm",
            "socket",
            "--tpm2",
            "--tpmstate",
            f"dir={tpm_dir}",
            "--ctrl",
            f"type=unixio,path={sock}",
            "--flags",
            "startup-clear",
        ],
        folder / "swtpm.log",
    )
    refs = [r for r in (ProcRef.of(tpm.pid),) if r is not None]
    deadline = time.monotonic() + 10
    while not sock.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    if not sock.exists():
        raise LabError(f"swtpm for {host.name} did not start; see {folder}/swtpm.log")
    tap = netns.add_tap(layout.netns, index)
    qemu = procs.spawn(qemu_command(layout.netns, host, folder, kvm, tap, sock), folder / "qemu.log")
    ref = ProcRef.of(qemu.pid)
    if ref is None:
        raise LabError(f"QEMU for {host.name} exited at once; see {folder}/qemu.log")
    return [ref, *refs]


def qemu_command(netns_name: str, host: LabHost, folder: Path, kvm: bool, tap: str, sock: Path) -> list[str]:
    """The QEMU command line of one VM, run in the lab namespace: no kernel of its own (the firmware boots
    the /boot disk, bootindex 0, and its GRUB the kernel), the root disk first so it is vda."""
    accel = ["-accel", "kvm", "-cpu", "host"] if kvm else ["-accel", "tcg,thread=multi", "-cpu", "max"]
    return [
        "nsenter",
        f"--net=/run/netns/{netns_name}",
        "qemu-system-x86_64",
        *accel,
        "-machine",
        "q35",
        "-smp",
        "2",
        "-m",
        str(MEMORY_MB),
        "-nodefaults",
        "-display",
        "none",
        "-serial",
        f"file:{folder / 'console.log'}",
        "-drive",
        f"file={folder / 'disk.raw'},if=none,id=root,format=raw,cache=unsafe",
        "-device",  # before the data disk: devices enumerate in command-line order, so the root is vda
        "virtio-blk-pci,drive=root,serial=sitekit-root",
        "-drive",
        f"file={folder / 'data.raw'},if=none,id=data,format=raw,cache=unsafe",
        "-device",
        f"virtio-blk-pci,drive=data,serial={DATA_DISK_SERIAL}",
        *_filesystem_drives(folder),
        "-netdev",
        f"tap,id=n0,ifname={tap},script=no,downscript=no",
        "-device",
        f"virtio-net-pci,netdev=n0,mac={mac_for(host)}",
        "-chardev",
        f"socket,id=chrtpm,path={sock}",
        "-tpmdev",
        "emulator,id=tpm0,chardev=chrtpm",
        "-device",
        "tpm-tis,tpmdev=tpm0",
        "-device",
        "virtio-rng-pci",
    ]


def _filesystem_drives(folder: Path) -> list[str]:
    """QEMU arguments for the separate filesystems' disks, after the data disk (so they are vdc onwards); the
    /boot disk is the one the firmware boots."""
    args: list[str] = []
    for index in range(len(SEPARATE_FILESYSTEMS)):
        args += [
            "-drive",
            f"file={folder / f'fs{index}.raw'},if=none,id=fs{index},format=raw,cache=unsafe",
            "-device",
            f"virtio-blk-pci,drive=fs{index},serial=sitekit-fs{index}"  # virtio serials: 20 bytes at most
            + (",bootindex=0" if index == BOOT_INDEX else ""),
        ]
    return args


def start_all(
    state: LabState, layout: Layout, root: Path, lab: Path, key: Path, keyring: bytes
) -> tuple[dict[str, list[str]], dict[str, float]]:
    """Build every VM's disk and boot them all; return each host's SSH host keys and boot start time."""
    require_tools("qemu-system-x86_64", "swtpm", "mke2fs", "debugfs", "sfdisk")
    kernel, _ = kernel_files(root)
    kvm = kvm_usable(kernel)
    print(f"  VM acceleration: {'KVM' if kvm else 'software emulation (TCG)'}", file=sys.stderr)
    pub = key.with_suffix(".pub").read_text()
    host_keys: dict[str, list[str]] = {}
    started: dict[str, float] = {}
    for index, host in enumerate(layout.hosts):
        folder = container.host_dir(lab, host.name)
        if folder.exists() and not container.is_mounted(folder / "root"):
            shutil.rmtree(folder)
        folder.mkdir(parents=True, exist_ok=True)
        rec = state.host(host.name)
        rec.address = str(host.address)
        host_keys[host.name] = build_disk(root, layout, host, folder, pub, keyring, state)
        started[host.name] = time.monotonic()
        rec.procs = start(layout, index, host, folder, kvm)
        state.save()
    return host_keys, started
