"""The hardening playbook on the lab's VM tier: the controls a container cannot own, applied and verified.

A container-tier host shares the machine's kernel, so audit, kernel-wide sysctls, the clock and /dev/shm
are skipped there with the reason. This test boots one GPU worker of a private copy of the ee demo site
(code ZV, 10.96/16, so it never meets anyone's ee lab) as a QEMU VM with its own kernel and TPM, then:

- converges `harden.yml` on it (auditd and its rules from the lab's in-country mirror, global sysctls,
  chrony against the NTP server the lab serves at the spec's address);
- waits for the AIDE database build the converge started and did not wait for (aidebuild.py), reboots
  the VM (it boots through GRUB, so the kernel arguments the roles set there, IOMMU and AppArmor, take
  effect as on bare metal: IOMMU, AppArmor and the SK-BOOT-001 hardening arguments) and proves the running
  kernel has them, then runs `sitekit verify` and expects
  every control to pass, the vm-tier ones included, with no skip;
- injects kernel-wide drift (a blocked module loaded past the blocklist, a global runtime sysctl, a
  separate filesystem remounted exec, an fstab option undone, a grub.cfg stripped of an argument), expects
  verify to fail naming each control, re-runs the playbook and expects it to repair exactly that and to
  change nothing else (the VM tier's idempotence check), then verify to pass;
- before that reboot, creates the site's keys in a SoftHSM2 token and gives GRUB its superuser (keys_boot:
  the host's own password sealed on the controller, its hash in grub.cfg, every Linux entry unrestricted),
  so the reboot proves the host still boots with no one at the console;
- converges the keys role's model volume (tag keys_luks):
  LUKS2 on the VM's empty data disk, a key slot sealed to its swtpm TPM, the recovery key escrowed on the
  controller first; then proves the recovery key opens it, the TPM alone reopens it, a re-run changes
  nothing, the key never shows in the output, and a device that holds data is refused untouched;
- gives the VM its SSH host certificate (keys_ssh) and audits its sshd with ssh-audit: no fail, no warn.

Slow under software emulation (several minutes per converge): marked `vm`, so `SITEKIT_FAST=1` skips it.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from aidebuild import describe, wait_for_build
from labcopy import changed_tasks, play_recap, private_fleet
from sshaudit import audit, judge

from sitekit.controls import load_controls

REPO = Path(__file__).resolve().parents[2]
CC = "zv"
HOST = f"{CC}-gpu-1"
TOOLS = ("systemd-nspawn", "mmdebstrap", "nsenter", "nc", "ssh", "qemu-system-x86_64")
pytestmark = [pytest.mark.lab, pytest.mark.vm, pytest.mark.slow]
# The vm-tier skips a VM may report, and why: none, since the VM boots through GRUB like bare metal.
ALLOWED_SKIPS: dict[str, str] = {}
ROLE_DEFAULTS = {
    role: yaml.safe_load((REPO / "playbooks" / "roles" / role / "defaults" / "main.yml").read_text())
    for role in ("baseline", "gpu_host")
}


class VmLab:
    """One private VM-tier lab: its state folder, fleet copy and ways in."""

    def __init__(self, state: Path, sites: Path) -> None:
        self.state = state
        self.sites = sites
        self.inventory = state / "lab" / CC / "inventory"

    def sitekit(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [sys.executable, "-m", "sitekit.cli", "--sites", str(self.sites), "--root", str(self.state), *args],
            capture_output=True,
            text=True,
            timeout=2400,
            env=os.environ.copy(),
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"sitekit {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
        return proc

    def playbook(self, name: str = "harden.yml", *extra: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        env = {
            **os.environ,
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_TIMEOUT": "60",
            "ANSIBLE_SSH_CONTROL_PATH_DIR": str(self.state / "ansible-cp"),
        }
        cmd = [str(Path(sys.executable).with_name("ansible-playbook")), "-i", str(self.inventory)]
        cmd += [str(REPO / "playbooks" / name), *extra]
        if name in ("keys.yml", "logging.yml"):
            role = name.removesuffix(".yml")
            cmd += ["-e", f"{role}_sitekit_command='{sys.executable} -m sitekit.cli --sites {self.sites}'"]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=2400, env=env, cwd=REPO)
        if check:
            assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
        return proc

    def ssh(self, command: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        cfg = str(self.state / "lab" / CC / "ssh_config")
        return subprocess.run(
            ["ssh", "-F", cfg, HOST, command], input=stdin, capture_output=True, text=True, timeout=300, check=False
        )


@pytest.fixture(scope="module")
def vm_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VmLab]:
    if os.geteuid() != 0:
        pytest.skip("the lab needs root")
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        pytest.skip(f"missing tools: {', '.join(missing)}")
    state = tmp_path_factory.mktemp("harden-vm-state")
    sites = private_fleet(state / "sites", CC, 96)
    # One VM is the whole lab: it is its own log collector, so the log path's controls (SK-LOG-005, audit
    # records into syslog, among them) run for real on the tier where auditd does.
    overlay = sites / f"{CC}.yaml"
    text = overlay.read_text()
    assert f"collector: {CC}-cp-1" in text, "the demo overlay no longer names its control plane as collector"
    overlay.write_text(text.replace(f"collector: {CC}-cp-1", f"collector: {HOST}"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SITEKIT_STATE", str(state))
        mp.setenv("SITEKIT_PKCS11_PIN", "lab-pin-8642")
        mp.setenv("SITEKIT_PKCS11_SO_PIN", "lab-so-pin-9753")
        mp.delenv("SOFTHSM2_CONF", raising=False)
        lab = VmLab(state, sites)
        lab.sitekit("render")
        up = lab.sitekit("lab", "up", CC, "--tier", "vm", "--hosts", HOST, check=False)
        if up.returncode == 2 and "exists but no lab" in up.stderr:
            pytest.skip(f"another lab of that name is running on this machine: {up.stderr.strip()}")
        assert up.returncode == 0, up.stderr
        try:
            yield lab
        finally:
            lab.sitekit("lab", "down", CC, check=False)


def reboot(lab: VmLab, timeout: float = 900) -> float:
    """Reboot the VM (firmware, GRUB, kernel) and wait until SSH answers from the new boot; return seconds."""
    cfg = str(lab.state / "lab" / CC / "ssh_config")

    def boot_id() -> str:
        try:
            proc = subprocess.run(
                ["ssh", "-F", cfg, "-o", "ConnectTimeout=10", HOST, "cat /proc/sys/kernel/random/boot_id"],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return ""
        return proc.stdout.strip() if proc.returncode == 0 else ""

    before = boot_id()
    assert before, "no SSH answer from the VM before its reboot"
    t0 = time.monotonic()
    # Deferred by a second so the SSH command returns before the connection goes down with the host.
    lab.ssh("sudo systemd-run --quiet --on-active=1 systemctl reboot")
    while time.monotonic() - t0 < timeout:
        time.sleep(5)
        now = boot_id()
        if now and now != before:
            return time.monotonic() - t0
    raise AssertionError(f"the VM did not answer over SSH within {timeout:.0f} s of its reboot")


@pytest.fixture(scope="module")
def converged(vm_lab: VmLab) -> dict[str, str]:
    t0 = time.monotonic()
    first = vm_lab.playbook()
    t1 = time.monotonic()
    print(f"\nharden.yml on one VM-tier host: first converge {t1 - t0:.1f} s")
    # The converge started the AIDE database build without waiting for it: let it finish before the reboot
    # that brings in the kernel arguments the roles set in GRUB (SK-GPU-005, SK-MAC-001).
    build = wait_for_build(vm_lab.ssh)
    # GRUB's superuser (SK-BOOT-002) before the reboot: the reboot then proves the host still boots unattended.
    vm_lab.sitekit("keys", "token-init", CC)
    vm_lab.sitekit("keys", "init", CC)
    t0 = time.monotonic()
    boot = vm_lab.playbook("keys.yml", "--tags", "keys_boot")
    again = vm_lab.playbook("keys.yml", "--tags", "keys_boot")
    print(f"keys.yml --tags keys_boot, then its re-run: {time.monotonic() - t0:.1f} s")
    print(f"reboot through GRUB (superuser set) to SSH: {reboot(vm_lab):.1f} s")
    return {"first": first.stdout, "aide": describe(HOST, build), "boot": boot.stdout, "boot again": again.stdout}


def test_vm_boots_through_grub_with_the_roles_kernel_arguments(vm_lab: VmLab, converged: dict[str, str]) -> None:
    cmdline = vm_lab.ssh("cat /proc/cmdline").stdout.split()
    assert any(arg.startswith("BOOT_IMAGE=") for arg in cmdline), cmdline  # GRUB booted it, not QEMU -kernel
    wanted = (
        ROLE_DEFAULTS["gpu_host"]["gpu_host_iommu_args"]
        + ROLE_DEFAULTS["baseline"]["baseline_apparmor_boot_args"]
        + ROLE_DEFAULTS["baseline"]["baseline_kernel_hardening_args"]
    )
    assert wanted and not [a for a in wanted if a not in cmdline], (wanted, cmdline)
    # The grub.cfg that booted it is update-grub's (run by the roles inside the VM), not the lab's first one.
    cfg = vm_lab.ssh("sudo head -5 /boot/grub/grub.cfg").stdout
    assert "generated by grub-mkconfig" in cfg, cfg


def test_grub_superuser_is_set_once_and_the_vm_still_boots_unattended(vm_lab: VmLab, converged: dict[str, str]) -> None:
    """The keys role gave GRUB its superuser (the host's own password, sealed on the controller; the host holds
    its hash), its re-run changed nothing, and the reboot in `converged` came back with no one at the console."""
    assert play_recap(converged["boot"])[HOST]["changed"] > 0, converged["boot"][-3000:]
    assert not changed_tasks(converged["boot again"]), changed_tasks(converged["boot again"])
    password = vm_lab.sitekit("keys", "boot-password", CC, "--host", HOST, "--no-create").stdout
    assert password and password not in converged["boot"] + converged["boot again"]
    cfg = vm_lab.ssh("sudo cat /boot/grub/grub.cfg").stdout
    assert 'set superusers="bootadmin"' in cfg and "password_pbkdf2 bootadmin grub.pbkdf2.sha512." in cfg
    assert password not in cfg
    mode = vm_lab.ssh("stat -c %a /boot/grub/grub.cfg").stdout.strip()
    assert mode == "600", mode
    booted = vm_lab.ssh("cat /proc/cmdline").stdout
    assert booted.startswith("BOOT_IMAGE="), booted


@pytest.fixture(scope="module")
def model_volume(vm_lab: VmLab, converged: dict[str, str]) -> dict[str, str]:
    vm_lab.sitekit("keys", "token-init", CC)
    vm_lab.sitekit("keys", "init", CC)
    t0 = time.monotonic()
    first = vm_lab.playbook("keys.yml", "--tags", "keys_luks")
    print(f"\nkeys.yml --tags keys_luks on one VM-tier host: {time.monotonic() - t0:.1f} s")
    key = vm_lab.sitekit("keys", "volume-key", CC, "--host", HOST, "--no-create").stdout
    # The spec names a log collector, so the site's converge ends with logging.yml: here the audit records'
    # path to syslog (SK-LOG-005) runs for real, where auditd does.
    t0 = time.monotonic()
    vm_lab.playbook("logging.yml")
    print(f"\nlogging.yml on one VM-tier host: {time.monotonic() - t0:.1f} s")
    return {"first": first.stdout + first.stderr, "key": key}


def test_vm_tier_controls_pass(
    vm_lab: VmLab, converged: dict[str, str], model_volume: dict[str, str], tmp_path: Path
) -> None:
    assert play_recap(converged["first"])[HOST]["failed"] == 0
    print("\n" + converged["aide"])  # the database build SK-FIM-001 needs ended before the reboot
    out = tmp_path / "evidence"
    proc = vm_lab.sitekit(
        "verify", CC, "--lab", "--out", str(out), "--tests", str(REPO / "tests" / "hosts"), check=False
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    evidence = json.loads((out / f"{HOST}.json").read_text())
    assert evidence["facts"]["tier"] == "vm", evidence["facts"]
    tiers = {c.id: c.tier for c in load_controls()}
    rows = {row["control"]: row for row in evidence["results"]}
    vm_controls = sorted(c for c, t in tiers.items() if t == "vm")
    passed = [c for c in vm_controls if rows[c]["result"] == "passed"]
    skipped = {c: rows[c]["reason"] for c in vm_controls if rows[c]["result"] == "skipped"}
    assert all(c in ALLOWED_SKIPS and ALLOWED_SKIPS[c] in reason for c, reason in skipped.items()), skipped
    # The kernel-level controls really ran here: audit rules, global sysctls, the synchronised clock.
    kernel_level = (
        "SK-AUD-001",
        "SK-AUD-002",
        "SK-AUD-009",
        "SK-SYS-007",
        "SK-SYS-013",
        "SK-TIME-002",
        "SK-KEY-001",
        "SK-BOOT-002",
    )
    for control in kernel_level:
        assert control in passed, rows[control]


# Drift a container cannot carry (its kernel, its own filesystems): (what, root shell inside the VM, the
# control verify must fail).
KERNEL_DRIFTS = [
    ("a blocked protocol module loaded past the blocklist", "modprobe --ignore-install dccp", "SK-MOD-002"),
    ("a global runtime sysctl", "sysctl -qw kernel.kptr_restrict=0", "SK-SYS-008"),
    ("a separate filesystem remounted with exec", "mount -o remount,exec /var/log", "SK-FS-006"),
    (
        "an fstab line whose last option undoes a hardened one",
        r"sed -i -E 's#^(\S+\s+/home\s+\S+\s+)(\S+)#\1\2,suid#' /etc/fstab",
        "SK-FS-006",
    ),
    (
        "a grub.cfg edited so the next boot loses a hardening argument",
        "sed -i 's/ pti=on / /' /boot/grub/grub.cfg",
        "SK-BOOT-001",
    ),
]


def test_vm_kernel_drift_is_found_and_one_converge_repairs_only_it(
    vm_lab: VmLab, converged: dict[str, str], tmp_path: Path
) -> None:
    """Drift of the kernel: verify names it, and the second converge repairs it while changing nothing else.

    The second converge is also the idempotence check of the VM tier: every task other than the repairs
    must report ok. The loaded audit rules cannot drift at all: they are immutable until a reboot.
    """
    for what, command, _ in KERNEL_DRIFTS:
        inj = vm_lab.ssh("sudo sh -c " + shlex.quote(command))
        assert inj.returncode == 0, f"injecting {what}: {inj.stderr}"
    assert "dccp" in vm_lab.ssh("cut -d' ' -f1 /proc/modules").stdout.split()
    deleting = vm_lab.ssh("sudo auditctl -D")
    assert deleting.returncode != 0, "the loaded audit rules could be deleted: they must be immutable (-e 2)"
    controls = [f"--control={c}" for _, _, c in KERNEL_DRIFTS] + ["--tests", str(REPO / "tests" / "hosts")]
    out = tmp_path / "drifted"
    drifted = vm_lab.sitekit("verify", CC, "--lab", "--out", str(out), *controls, check=False)
    assert drifted.returncode != 0
    rows = {r["control"]: r for r in json.loads((out / f"{HOST}.json").read_text())["results"]}
    for what, _, control in KERNEL_DRIFTS:
        assert rows[control]["result"] == "failed", (what, rows[control])
    t0 = time.monotonic()
    again = vm_lab.playbook()
    print(f"\nharden.yml over kernel drift on one VM-tier host: {time.monotonic() - t0:.1f} s")
    changed = changed_tasks(again.stdout)
    assert len(changed) == play_recap(again.stdout)[HOST]["changed"], changed
    assert any("Unload blocked modules" in t for t in changed), changed
    assert any("running values differ" in t for t in changed), changed
    assert any("Hardened options on the lines of /etc/fstab" in t for t in changed), changed
    assert any("Remount the separate filesystems" in t for t in changed), changed
    assert any("Regenerate the GRUB configuration - SK-BOOT-001" in t for t in changed), changed
    # One task per drift, plus systemd's reload after the fstab repair and at most one more.
    assert len(changed) <= len(KERNEL_DRIFTS) + 2, f"the re-run changed more than the drift: {changed}"
    assert "dccp" not in vm_lab.ssh("cut -d' ' -f1 /proc/modules").stdout.split()
    assert "noexec" in vm_lab.ssh("findmnt -n -o OPTIONS /var/log").stdout.split(",")
    assert "pti=on" in vm_lab.ssh("sudo grep -m1 '^[[:space:]]*linux' /boot/grub/grub.cfg").stdout.split()
    out = tmp_path / "repaired"
    repaired = vm_lab.sitekit("verify", CC, "--lab", "--out", str(out), *controls, check=False)
    assert repaired.returncode == 0, repaired.stdout[-3000:]
    quiet = vm_lab.playbook("harden.yml", "--tags", "baseline_modules,baseline_sysctl,baseline_mounts,baseline_boot")
    assert play_recap(quiet.stdout)[HOST]["changed"] == 0, quiet.stdout[-4000:]


def test_model_volume_opens_with_the_escrowed_key_and_the_tpm(vm_lab: VmLab, model_volume: dict[str, str]) -> None:
    key, device = model_volume["key"], "/dev/disk/by-id/virtio-sitekit-models"
    assert len(key) == 71 and key not in model_volume["first"]  # escrowed, and never in Ansible's output
    # Without token plugins, or cryptsetup would open it through the TPM slot whatever key it is given.
    test_key = f"sudo cryptsetup open --test-passphrase --disable-external-tokens --key-file=- {device}"
    recovery = vm_lab.ssh(test_key, stdin=key)
    assert recovery.returncode == 0, recovery.stderr
    wrong = vm_lab.ssh(test_key, stdin=key[::-1])
    assert wrong.returncode != 0
    # Closed and reopened with no key given: crypttab's tpm2-device=auto through the mount's dependency.
    cycle = vm_lab.ssh(
        "sudo systemctl stop srv-models.mount systemd-cryptsetup@models.service && "
        "! test -e /dev/mapper/models && sudo systemctl start srv-models.mount && findmnt -n -o SOURCE /srv/models"
    )
    assert cycle.returncode == 0 and cycle.stdout.strip() == "/dev/mapper/models", cycle.stdout + cycle.stderr
    again = vm_lab.playbook("keys.yml", "--tags", "keys_luks")
    assert play_recap(again.stdout)[HOST]["changed"] == 0, again.stdout[-4000:]


def test_model_volume_refuses_a_device_that_holds_data(vm_lab: VmLab, model_volume: dict[str, str]) -> None:
    before = vm_lab.ssh("sudo blkid -p -o value -s UUID /dev/vda").stdout
    refused = vm_lab.playbook("keys.yml", "--tags", "keys_luks", "-e", "keys_luks_device=/dev/vda", check=False)
    assert refused.returncode != 0
    assert "holds data (TYPE=ext4): refusing to format it, nothing was changed" in " ".join(refused.stdout.split())
    assert play_recap(refused.stdout)[HOST]["changed"] == 0
    assert vm_lab.ssh("sudo blkid -p -o value -s UUID /dev/vda").stdout == before


def test_ssh_audit_finds_no_failure_and_no_warning_on_the_vm(vm_lab: VmLab, model_volume: dict[str, str]) -> None:
    """The VM's sshd with the country's host certificate (keys.yml --tags keys_ssh), judged by ssh-audit as
    on the container tier (sshaudit.py): no fail or warn note, post-quantum hybrid first, Ed25519 CA."""
    t0 = time.monotonic()
    vm_lab.playbook("keys.yml", "--tags", "keys_ssh")
    print(f"\nkeys.yml --tags keys_ssh on one VM-tier host: {time.monotonic() - t0:.1f} s")
    rc, report = audit(vm_lab.state / "lab" / CC / "ssh_config", HOST)
    judge(HOST, rc, report)
