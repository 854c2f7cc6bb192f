"""The lab VM's boot disk and disk wiring (sitekit.lab.bootdisk, sitekit.lab.vm), read back with the standard
tools rather than our own code: the partition table with `sfdisk --json`, the filesystem inside the partition
with `dumpe2fs` and `debugfs` at the partition's offset, the boot sector byte by byte.

GRUB's own images are not needed here (the machine has no GRUB): stand-ins of the right sizes show where
each byte lands. That real GRUB boots from this layout is proven by the VM tier (tests/lab/test_vm_lab.py).
"""

from __future__ import annotations

import ipaddress
import json
import subprocess
from pathlib import Path

import pytest

from sitekit.lab import bootdisk, vm
from sitekit.lab.layout import LabHost
from sitekit.lab.util import LabError

SIZE = 64 * 1024 * 1024
DISK = bootdisk.BootDisk(fs_uuid="0b6a1c1e-6d2f-4d3e-9a57-3c2f0e8d1a42")


def _tool(*args: str) -> str:
    return subprocess.run(list(args), check=True, capture_output=True, text=True).stdout


@pytest.fixture
def disk(tmp_path: Path) -> Path:
    tree = tmp_path / "boot"
    (tree / "grub").mkdir(parents=True)
    (tree / "vmlinuz-6.1.0-1-cloud-amd64").write_bytes(b"kernel " * 1000)
    (tree / "grub" / "grub.cfg").write_text("set timeout=0\n")
    image = tmp_path / "boot.raw"
    bootdisk.make_boot_disk(tree, image, SIZE, "boot", DISK)
    return image


def test_partition_table_has_one_bootable_linux_partition_at_1mib_to_the_end(disk: Path) -> None:
    table = json.loads(_tool("sfdisk", "--json", str(disk)))["partitiontable"]
    assert table["label"] == "dos"
    assert [(p["start"], p["size"], p["type"], p.get("bootable")) for p in table["partitions"]] == [
        (2048, SIZE // 512 - 2048, "83", True)
    ]


def test_the_filesystem_inside_the_partition_holds_the_tree_with_its_uuid_and_label(disk: Path) -> None:
    header = _tool("dumpe2fs", "-h", bootdisk.filesystem_path(disk))
    fields = dict(line.split(":", 1) for line in header.splitlines() if ":" in line)
    assert fields["Filesystem UUID"].strip() == DISK.fs_uuid
    assert fields["Filesystem volume name"].strip() == "boot"
    block = int(fields["Block size"])
    assert int(fields["Block count"]) * block == SIZE - bootdisk.PARTITION_OFFSET  # fills the partition exactly
    cfg = _tool("debugfs", "-R", "cat /grub/grub.cfg", bootdisk.filesystem_path(disk))
    assert cfg == "set timeout=0\n"
    listing = _tool("debugfs", "-R", "ls -p /", bootdisk.filesystem_path(disk))
    assert "vmlinuz-6.1.0-1-cloud-amd64" in listing
    # Nothing of the filesystem lies before the partition: the gap stays free for core.img.
    assert disk.read_bytes()[512 : bootdisk.PARTITION_OFFSET] == bytes(bootdisk.PARTITION_OFFSET - 512)


def test_boot_code_lands_around_the_partition_table_and_leaves_it_intact(disk: Path) -> None:
    before = disk.read_bytes()[: bootdisk.SECTOR]
    boot_img = bytes(range(256)) * 2  # a stand-in of boot.img's size, every byte telling where it came from
    core_img = b"\xc0" * (54 * 512)  # about what grub-mkimage makes with CORE_MODULES
    bootdisk.install_boot_code(disk, boot_img, core_img)
    data = disk.read_bytes()
    mbr = data[: bootdisk.SECTOR]
    want = bytearray(boot_img[:440])
    want[0x66:0x68] = b"\x90\x90"  # the drive-number workaround jump, as grub-bios-setup leaves it on disks
    assert mbr[:440] == bytes(want)
    assert mbr[440:] == before[440:]  # disk signature, partition table and 0x55AA untouched
    assert mbr[510:] == b"\x55\xaa"
    signature = int.from_bytes(mbr[440:444], "little")
    assert int(json.loads(_tool("sfdisk", "--json", str(disk)))["partitiontable"]["id"], 16) == signature
    assert data[512 : 512 + len(core_img)] == core_img
    assert "Filesystem UUID" in _tool("dumpe2fs", "-h", bootdisk.filesystem_path(disk))  # still readable


def test_a_core_image_that_would_overwrite_the_partition_is_refused(disk: Path) -> None:
    with pytest.raises(LabError, match="fit before the partition"):
        bootdisk.install_boot_code(disk, bytes(512), bytes(2047 * 512 + 1))
    with pytest.raises(LabError, match="one sector"):
        bootdisk.install_boot_code(disk, bytes(440), b"")


def test_grub_config_files_boot_the_lab_kernel_and_let_update_grub_add_arguments(tmp_path: Path) -> None:
    root = tmp_path / "root"
    lib = root / bootdisk.GRUB_LIB
    lib.mkdir(parents=True)
    for name in ("linux.mod", "ext2.mod", "command.lst", "boot.img"):
        (lib / name).write_bytes(name.encode())
    boot = root / "boot"
    boot.mkdir()
    for name in ("vmlinuz-6.1.0-9-cloud-amd64", "initrd.img-6.1.0-9-cloud-amd64"):
        (boot / name).write_bytes(b"x")
    bootdisk.populate_grub_dir(root, boot, DISK, vm.KERNEL_CMDLINE)
    assert sorted(p.name for p in (boot / "grub" / "i386-pc").iterdir()) == ["command.lst", "ext2.mod", "linux.mod"]
    assert len((boot / "grub" / "grubenv").read_bytes()) == 1024
    cfg = (boot / "grub" / "grub.cfg").read_text()
    linux = [line.split() for line in cfg.splitlines() if line.strip().startswith("linux")]
    assert linux == [["linux", "/vmlinuz-6.1.0-9-cloud-amd64", *vm.KERNEL_CMDLINE.split()]]
    assert "root=/dev/vda" in linux[0]
    assert f"search --no-floppy --fs-uuid --set=root {DISK.fs_uuid}" in cfg
    assert "initrd /initrd.img-6.1.0-9-cloud-amd64" in cfg.replace("\t", "")
    default = dict(line.split("=", 1) for line in (root / "etc/default/grub").read_text().splitlines() if "=" in line)
    assert default["GRUB_CMDLINE_LINUX"] == '"console=ttyS0 audit=1 net.ifnames=0 panic=-1"'
    assert default["GRUB_TIMEOUT"] == "0" and default["GRUB_TERMINAL"] == "serial"
    assert default["GRUB_DISABLE_OS_PROBER"] == "true"


def test_core_image_config_finds_boot_by_uuid_not_by_disk_number() -> None:
    embedded = bootdisk.embedded_config(DISK)
    assert f"search.fs_uuid {DISK.fs_uuid} root" in embedded
    assert "set prefix=($root)/grub" in embedded
    assert "hd0" not in embedded


def test_boot_is_mounted_from_its_partition_and_every_other_filesystem_from_its_disk() -> None:
    lines = [line.split() for line in vm.fstab().splitlines() if line.startswith("/dev/")]
    devices = {fields[1]: fields[0] for fields in lines}
    assert devices["/"] == "/dev/vda"
    for index, (mountpoint, _) in enumerate(vm.SEPARATE_FILESYSTEMS):
        want = vm.device_of(index) + ("1" if mountpoint == "/boot" else "")
        assert devices[mountpoint] == want == vm.filesystem_device(index)
    assert devices["/boot"] == "/dev/vdj1"  # vda root, vdb data, then vdc.. in SEPARATE_FILESYSTEMS order
    assert len(set(devices.values())) == len(devices)


def test_qemu_boots_the_boot_disk_from_the_firmware_with_no_kernel_of_its_own(tmp_path: Path) -> None:
    host = LabHost("zz-gpu-1", ipaddress.IPv4Interface("10.99.1.21/16"), "gpu")
    cmd = vm.qemu_command("sitekit-zz", host, tmp_path, False, "tap0", tmp_path / "swtpm.sock")
    assert not {"-kernel", "-initrd", "-append"} & set(cmd), cmd
    devices = [cmd[i + 1] for i, arg in enumerate(cmd) if arg == "-device"]
    disks = [d.split(",drive=")[1].split(",")[0] for d in devices if d.startswith("virtio-blk-pci")]
    # Devices enumerate in command-line order: root vda, data vdb, then the separate filesystems vdc onwards.
    assert disks == ["root", "data", *[f"fs{i}" for i in range(len(vm.SEPARATE_FILESYSTEMS))]]
    assert [vm.device_of(i) for i in range(len(vm.SEPARATE_FILESYSTEMS))][vm.BOOT_INDEX] == "/dev/vdj"
    booting = [d for d in devices if "bootindex=" in d]
    assert booting == [f"virtio-blk-pci,drive=fs{vm.BOOT_INDEX},serial=sitekit-fs{vm.BOOT_INDEX},bootindex=0"]
    assert vm.SEPARATE_FILESYSTEMS[vm.BOOT_INDEX][0] == "/boot"


def test_sizes_read_as_mke2fs_reads_them() -> None:
    assert vm._bytes("256M") == 256 << 20
    assert vm._bytes("4G") == 4 << 30
    assert vm._bytes("512") == 512
