"""The hardening playbook on the lab's VM tier: the controls a container cannot own, applied and verified.

A container-tier host shares the machine's kernel, so audit, kernel-wide sysctls, the clock and /dev/shm
are skipped there with the reason. This test boots one GPU worker of a private copy of the ee demo site
(code ZV, 10.96/16, so it never meets anyone's ee lab) as a QEMU VM with its own kernel and TPM, then:

- converges `harden.yml` on it (auditd and its rules from the lab's in-country mirror, global sysctls,
  chrony against the NTP server the lab serves at the spec's address);
- runs `sitekit verify` and expects every control to pass, the vm-tier ones included; the only skips
  allowed are those with a stated reason that cannot hold on this host (the lab VM has no boot loader,
  so GRUB kernel arguments never take effect there);
- re-runs the playbook and expects changed=0.

Slow under software emulation (several minutes per converge): marked `vm`, so `SITEKIT_FAST=1` skips it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from labcopy import play_recap, private_fleet

from sitekit.controls import load_controls

REPO = Path(__file__).resolve().parents[2]
CC = "zv"
HOST = f"{CC}-gpu-1"
TOOLS = ("systemd-nspawn", "mmdebstrap", "nsenter", "nc", "ssh", "qemu-system-x86_64")
pytestmark = [pytest.mark.lab, pytest.mark.vm, pytest.mark.slow]
# The only vm-tier skip a VM may report, and why (see tests/hosts/test_gpu.py).
ALLOWED_SKIPS = {"SK-GPU-005": "boots its kernel directly"}


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

    def playbook(self) -> subprocess.CompletedProcess[str]:
        env = {
            **os.environ,
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_TIMEOUT": "60",
            "ANSIBLE_SSH_CONTROL_PATH_DIR": str(self.state / "ansible-cp"),
        }
        cmd = [str(Path(sys.executable).with_name("ansible-playbook")), "-i", str(self.inventory)]
        cmd.append(str(REPO / "playbooks" / "harden.yml"))
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=2400, env=env, cwd=REPO)
        assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
        return proc


@pytest.fixture(scope="module")
def vm_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VmLab]:
    if os.geteuid() != 0:
        pytest.skip("the lab needs root")
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        pytest.skip(f"missing tools: {', '.join(missing)}")
    state = tmp_path_factory.mktemp("harden-vm-state")
    sites = private_fleet(state / "sites", CC, 96)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SITEKIT_STATE", str(state))
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


@pytest.fixture(scope="module")
def converged(vm_lab: VmLab) -> dict[str, str]:
    t0 = time.monotonic()
    first = vm_lab.playbook()
    t1 = time.monotonic()
    print(f"\nharden.yml on one VM-tier host: first converge {t1 - t0:.1f} s")
    return {"first": first.stdout}


def test_vm_tier_controls_pass(vm_lab: VmLab, converged: dict[str, str], tmp_path: Path) -> None:
    assert play_recap(converged["first"])[HOST]["failed"] == 0
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
    for control in ("SK-AUD-001", "SK-AUD-002", "SK-AUD-009", "SK-SYS-007", "SK-SYS-013", "SK-TIME-002"):
        assert control in passed, rows[control]


def test_vm_second_converge_changes_nothing(vm_lab: VmLab, converged: dict[str, str]) -> None:
    t0 = time.monotonic()
    again = vm_lab.playbook()
    print(f"\nharden.yml re-run on one VM-tier host: {time.monotonic() - t0:.1f} s")
    assert play_recap(again.stdout)[HOST]["changed"] == 0, again.stdout[-4000:]
