"""The lab VM's boot disk: an MBR-partitioned image whose one partition is the ext4 /boot, with GRUB's
i386-pc boot code installed, so the VM boots as a bare-metal host does (BIOS -> GRUB -> kernel) and the
kernel arguments the roles write to GRUB's configuration take effect at the next reboot.

Built without a loop device: `sfdisk` partitions the image file, `mke2fs -E offset=` makes the filesystem
inside the partition, and the boot code is written at the offsets `grub-bios-setup` would use: boot.img
into sector 0 (its first 440 bytes; the disk signature and partition table stay), core.img from sector 1.
That placement needs no patching of either image: boot.img loads the sector its `kernel_sector` field
names (1 by default), and that first sector of core.img (diskboot.img) loads the rest from the sector its
default blocklist names (2) for the length `grub-mkimage` fills in. core.img carries a small config that
finds /boot by its filesystem UUID, so it boots whichever BIOS disk number the boot disk gets.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

from sitekit.lab.util import LabError, run

SECTOR = 512
PARTITION_START = 2048
"""The partition's first sector (1 MiB, as installers align it); the gap before holds core.img."""
PARTITION_OFFSET = PARTITION_START * SECTOR
BOOT_CODE_SIZE = 440
"""boot.img's code bytes: from 440 on the MBR holds the disk signature and the partition table."""
DRIVE_CHECK = 0x66
"""Offset of boot.img's jump over its "trust the BIOS drive number" workaround; grub-bios-setup replaces it
with two NOPs on hard disks (always use the drive number the BIOS passed), and so do we."""
CORE_MODULES = ("biosdisk", "part_msdos", "ext2", "search_fs_uuid", "serial", "terminal")
"""What core.img needs to reach /boot/grub (the rest loads from /boot/grub/i386-pc), and the serial console
from its first message on, so a boot that stops in GRUB says why in the VM's console log."""
GRUB_LIB = "usr/lib/grub/i386-pc"
SERIAL = "serial --unit=0 --speed=115200"


@dataclass(frozen=True)
class BootDisk:
    """What the VM's boot configuration refers to: the /boot filesystem's UUID."""

    fs_uuid: str


def new_boot_disk() -> BootDisk:
    """A fresh identity for one VM's /boot filesystem."""
    return BootDisk(fs_uuid=str(uuid.uuid4()))


def embedded_config(disk: BootDisk) -> str:
    """core.img's own config: the serial console, then find /boot by UUID wherever the BIOS put its disk and
    load normal from it (`search.fs_uuid` is what grub-install's own embedded config uses)."""
    return (
        f"{SERIAL}\nterminal_input --append serial\nterminal_output --append serial\n"
        f"search.fs_uuid {disk.fs_uuid} root\nset prefix=($root)/grub\n"
    )


def default_grub(cmdline: str) -> str:
    """/etc/default/grub as an installer leaves it: the lab's kernel arguments (less root= and rw, which
    update-grub supplies), no menu delay, the serial console, no other systems to probe."""
    args = " ".join(a for a in cmdline.split() if not a.startswith("root=") and a not in ("rw", "ro"))
    return (
        "# Written by `sitekit lab up`, as an installer writes it; drop-ins in /etc/default/grub.d/ add to it.\n"
        "GRUB_DEFAULT=0\n"
        "GRUB_TIMEOUT=0\n"
        "GRUB_DISTRIBUTOR=Debian\n"
        'GRUB_CMDLINE_LINUX_DEFAULT=""\n'
        f'GRUB_CMDLINE_LINUX="{args}"\n'
        "GRUB_TERMINAL=serial\n"
        f'GRUB_SERIAL_COMMAND="{SERIAL}"\n'
        "GRUB_DISABLE_OS_PROBER=true\n"
        "GRUB_DISABLE_RECOVERY=true\n"
    )


def first_grub_cfg(disk: BootDisk, kernel: str, initrd: str, cmdline: str) -> str:
    """The grub.cfg the VM first boots with (update-grub inside the VM replaces it): the root's kernel and
    initramfs, paths relative to /boot since /boot is its own filesystem."""
    return (
        "# Written by `sitekit lab up` for the first boot; `update-grub` regenerates it.\n"
        f"{SERIAL}\nterminal_input serial\nterminal_output serial\n"
        "set default=0\nset timeout=0\n"
        "insmod part_msdos\ninsmod ext2\n"
        f"search --no-floppy --fs-uuid --set=root {disk.fs_uuid}\n"
        "menuentry 'Debian GNU/Linux' {\n"
        "\tinsmod gzio\n"
        f"\tlinux /{kernel} {cmdline}\n"
        f"\tinitrd /{initrd}\n"
        "}\n"
    )


def populate_grub_dir(root: Path, boot: Path, disk: BootDisk, cmdline: str) -> None:
    """Lay /boot/grub as grub-install would (modules, environment block) plus the first grub.cfg, and write
    /etc/default/grub. `root` is the VM's root tree, `boot` the tree that becomes /boot."""
    kernels = sorted(boot.glob("vmlinuz-*"))
    initrds = sorted(boot.glob("initrd.img-*"))
    if not kernels or not initrds:
        raise LabError(f"{boot} has no kernel or initramfs")
    grub = boot / "grub"
    modules = grub / "i386-pc"
    modules.mkdir(parents=True, exist_ok=True)
    for source in (root / GRUB_LIB).iterdir():
        if source.suffix in (".mod", ".lst"):
            (modules / source.name).write_bytes(source.read_bytes())
    # The environment block update-grub's config reads (saved entries, next_entry); 1024 bytes as grub-editenv.
    head = "# GRUB Environment Block\n"
    (grub / "grubenv").write_text(head + "#" * (1024 - len(head)))
    (grub / "grub.cfg").write_text(first_grub_cfg(disk, kernels[-1].name, initrds[-1].name, cmdline))
    (root / "etc/default").mkdir(parents=True, exist_ok=True)
    (root / "etc/default/grub").write_text(default_grub(cmdline))


def make_core_image(root: Path, disk: BootDisk) -> bytes:
    """core.img, made by the VM root's own grub-mkimage in a chroot (the machine needs no GRUB)."""
    work = root / "run" / "sitekit-grub"
    work.mkdir(parents=True, exist_ok=True)
    try:
        (work / "embed.cfg").write_text(embedded_config(disk))
        inner = "/run/sitekit-grub"
        cmd = f"grub-mkimage -O i386-pc -d /{GRUB_LIB} -c {inner}/embed.cfg -p /grub -o {inner}/core.img " + " ".join(
            CORE_MODULES
        )
        run(["chroot", root, "/bin/sh", "-c", cmd], timeout=120)
        return (work / "core.img").read_bytes()
    finally:
        for name in ("embed.cfg", "core.img"):
            (work / name).unlink(missing_ok=True)
        work.rmdir()


def make_boot_disk(tree: Path, image: Path, size_bytes: int, label: str, disk: BootDisk) -> None:
    """The partitioned image: an MBR with one bootable Linux partition at 1 MiB to the end, and an ext4
    filesystem holding `tree` in it (no boot code yet: `install_boot_code`)."""
    image.unlink(missing_ok=True)
    with image.open("wb") as handle:
        handle.truncate(size_bytes)
    run(["sfdisk", "--quiet", "--no-reread", "--no-tell-kernel", image], input_text=partition_script(), timeout=60)
    fs_bytes = size_bytes - PARTITION_OFFSET
    run(
        [
            "mke2fs", "-q", "-t", "ext4", "-L", label, "-U", disk.fs_uuid, "-d", tree,
            "-E", f"offset={PARTITION_OFFSET}", image, f"{fs_bytes // 1024}k",
        ],
        timeout=600,
    )  # fmt: skip


def partition_script() -> str:
    """sfdisk's input for the boot disk's table."""
    return f"label: dos\nstart={PARTITION_START}, type=83, bootable\n"


def filesystem_path(image: Path) -> str:
    """How e2fsprogs (debugfs, dumpe2fs) name the filesystem inside the partition of `image`."""
    return f"{image}?offset={PARTITION_OFFSET}"


def install_boot_code(image: Path, boot_img: bytes, core_img: bytes) -> None:
    """Write boot.img's code into sector 0 (keeping the disk signature and table) and core.img from sector 1."""
    if len(boot_img) != SECTOR:
        raise LabError(f"boot.img is {len(boot_img)} bytes, not one sector")
    room = (PARTITION_START - 1) * SECTOR
    if len(core_img) > room:
        raise LabError(f"core.img is {len(core_img)} bytes; only {room} fit before the partition")
    code = bytearray(boot_img[:BOOT_CODE_SIZE])
    code[DRIVE_CHECK : DRIVE_CHECK + 2] = b"\x90\x90"
    with image.open("r+b") as handle:
        handle.seek(0)
        handle.write(code)
        handle.seek(SECTOR)
        handle.write(core_img)
