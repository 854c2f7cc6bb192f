"""The VM tier: one VM boots under QEMU and answers over SSH with audit enabled (kernel-level facts).

One boot in total (software emulation is slow), through GRUB as bare metal boots: a single spec host of the
demo country, in its own state folder so it never meets the container tests' lab.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from labkit import REPO, lab_ready, machine_snapshot, settled_snapshot, sitekit

from sitekit.lab.vm import SEPARATE_FILESYSTEMS, filesystem_device

pytestmark = [pytest.mark.lab, pytest.mark.vm, pytest.mark.slow]


def test_vm_boots_with_audit_enabled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reason = lab_ready()
    if reason:
        pytest.skip(reason)
    state = tmp_path / "state"
    monkeypatch.setenv("SITEKIT_STATE", str(state))
    before = machine_snapshot(state)
    try:
        proc = sitekit("lab", "up", "ee", "--tier", "vm", "--hosts", "ee-gpu-1")
        assert "boot to SSH ee-gpu-1" in proc.stderr, proc.stderr
        inventory = state / "lab" / "ee" / "inventory"
        ansible = Path(sys.executable).with_name("ansible")

        def run(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [str(ansible), "-i", str(inventory), "ee-gpu-1", *args],
                capture_output=True,
                text=True,
                timeout=900,
                cwd=REPO,
                env=os.environ.copy(),
            )

        ping = run("-m", "ping")
        assert ping.returncode == 0, ping.stdout + ping.stderr
        # auditd comes from the lab's in-country mirror, as the hardening role would install it.
        install = run("--become", "-m", "apt", "-a", "name=auditd state=present update_cache=true")
        assert install.returncode == 0, install.stdout + install.stderr
        # auditd may still be starting right after its installation: give it up to a minute.
        status = run("--become", "-m", "shell", "-a", "for i in $(seq 60); do auditctl -s && break; sleep 1; done")
        assert status.returncode == 0, status.stdout + status.stderr
        assert "enabled 1" in status.stdout
        facts = run("-m", "shell", "-a", "cat /proc/cmdline; ls /dev/tpm0; sudo sysctl -n kernel.kptr_restrict")
        assert "audit=1" in facts.stdout and "/dev/tpm0" in facts.stdout, facts.stdout
        # The firmware booted GRUB from the /boot disk, and GRUB the kernel (it adds BOOT_IMAGE=).
        assert "BOOT_IMAGE=/vmlinuz-" in facts.stdout, facts.stdout
        # Each separate filesystem of the lab VM is its own disk, mounted (the initramfs mounts /usr); /boot is
        # the boot disk's partition.
        mounts = run("-m", "command", "-a", "findmnt -rn -o TARGET,SOURCE,FSTYPE")
        assert mounts.returncode == 0, mounts.stdout + mounts.stderr
        seen = {line.split()[0]: line.split()[1:] for line in mounts.stdout.splitlines()[1:] if line.strip()}
        for index, (mountpoint, _) in enumerate(SEPARATE_FILESYSTEMS):
            assert seen.get(mountpoint) == [filesystem_device(index), "ext4"], (mountpoint, mounts.stdout)
        tmp = run("-m", "command", "-a", "stat -c %a /var/tmp")
        assert tmp.stdout.split()[-1] == "1777", tmp.stdout
    finally:
        sitekit("lab", "down", "ee", check=False)
    assert settled_snapshot(state, before) == before
