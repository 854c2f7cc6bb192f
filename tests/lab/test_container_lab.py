"""The container tier end to end: up, SSH, Ansible, testinfra, the mirror, containment, coexistence, down.

One `ee` lab is shared by the read-only checks of this module; the tests that create or destroy labs use
the second demo country (`cl`) so the shared lab stays up until the last test takes it down.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from labkit import REPO, SITES, machine_snapshot, settled_snapshot, sitekit

pytestmark = [pytest.mark.lab, pytest.mark.slow]

EE_HOSTS = ("ee-cp-1", "ee-gpu-1", "ee-gpu-2")


def kernel_facts() -> dict[str, str]:
    """The machine's kernel-wide sysctls, root-namespace net.* and loaded firewall (never changed by us)."""
    out = subprocess.run(["sysctl", "-a"], capture_output=True, text=True, check=False).stdout
    volatile = ("kernel.random.", "kernel.ns_last_pid", "fs.", "kernel.pty.nr", "net.netfilter.nf_conntrack_count")
    facts = {
        line.split(" = ")[0]: line.partition(" = ")[2]
        for line in out.splitlines()
        if " = " in line and line.startswith(("kernel.", "vm.", "net.")) and not line.startswith(volatile)
    }
    for cmd in (["nft", "list", "ruleset"], ["iptables-save"]):
        if shutil.which(cmd[0]) is None:
            continue
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        facts[" ".join(cmd)] = "\n".join(line for line in proc.stdout.splitlines() if not line.startswith("#"))
    return facts


@pytest.fixture(scope="module")
def before(lab_state: Path) -> dict[str, object]:
    """The machine as it was before this module started any lab."""
    return {"snapshot": machine_snapshot(lab_state), "kernel": kernel_facts()}


@pytest.fixture(scope="module")
def ee(lab_state: Path, before: dict[str, object]) -> dict[str, Path]:
    """The shared `ee` lab (three hosts)."""
    proc = sitekit("lab", "up", "ee")
    for name in ("build root", "build mirror", "start hosts", "wait ssh"):
        assert name in proc.stderr, proc.stderr
    lab = lab_state / "lab" / "ee"
    return {"lab": lab, "inventory": lab / "inventory", "ssh_config": lab / "ssh_config"}


def ansible(inventory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ad-hoc Ansible from the machine's namespace against the lab inventory."""
    exe = Path(sys.executable).with_name("ansible")
    return subprocess.run(
        [str(exe), "-i", str(inventory), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "ANSIBLE_HOST_KEY_CHECKING": "True"},
        cwd=REPO,
    )


def test_inventory_layout(ee: dict[str, Path]) -> None:
    inv = ee["inventory"]
    text = (inv / "hosts.yml").read_text()
    for host in EE_HOSTS:
        assert host in text
    assert "ansible_user: ansible" in text
    overrides = (inv / "group_vars" / "all" / "sitekit_lab.yml").read_text()
    assert "sitekit_lab: true" in overrides
    assert "sitekit_package_mirror_url: http://10.20.1.10/debian" in overrides
    key = ee["lab"] / "ssh" / "id_ed25519"
    assert key.stat().st_mode & 0o777 == 0o600
    assert not str(key).startswith(str(REPO))


def test_ansible_ping_every_host(ee: dict[str, Path]) -> None:
    proc = ansible(ee["inventory"], "all", "-m", "ping")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for host in EE_HOSTS:
        assert f"{host} | SUCCESS" in proc.stdout


def test_testinfra_every_host(ee: dict[str, Path]) -> None:
    import testinfra

    for name in EE_HOSTS:
        host = testinfra.get_host(f"ssh://{name}", ssh_config=str(ee["ssh_config"]), sudo=True)
        assert host.check_output("hostname") == name
        assert host.service("ssh").is_running
        assert host.check_output("systemctl is-system-running --wait") in {"running", "degraded"}
        assert host.user("ansible").exists
        assert host.interface("eth0").addresses[0].startswith("10.20.0.")


def test_mirror_serves_signed_packages(ee: dict[str, Path]) -> None:
    proc = ansible(
        ee["inventory"], "ee-cp-1", "--become", "-m", "apt", "-a", "name=acl state=present update_cache=true"
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = ansible(ee["inventory"], "ee-cp-1", "-m", "command", "-a", "getfacl --version")
    assert proc.returncode == 0, proc.stdout


def test_hosts_have_no_route_off_the_machine(ee: dict[str, Path]) -> None:
    proc = ansible(
        ee["inventory"], "ee-gpu-1", "-m", "command", "-a", "timeout 3 bash -c 'echo > /dev/tcp/151.101.2.132/80'"
    )
    assert proc.returncode != 0


def test_up_twice_is_idempotent(ee: dict[str, Path]) -> None:
    state = json.loads((ee["lab"] / "state.json").read_text())
    proc = sitekit("lab", "up", "ee")
    assert "already up" in proc.stderr
    assert json.loads((ee["lab"] / "state.json").read_text()) == state
    assert "ee: up (container)" in sitekit("lab", "status", "ee").stdout


def test_root_in_a_host_cannot_change_the_machines_kernel(ee: dict[str, Path], before: dict[str, object]) -> None:
    # Every write uses the machine's *current* value, so even a containment failure changes nothing;
    # the exit status tells whether the write was allowed.
    kptr = before["kernel"]["kernel.kptr_restrict"]  # type: ignore[index]
    swappiness = before["kernel"]["vm.swappiness"]  # type: ignore[index]
    must_fail = (
        f"sysctl -w kernel.kptr_restrict={kptr}",
        f"sysctl -w vm.swappiness={swappiness}",
        f"sh -c 'echo {kptr} > /proc/sys/kernel/kptr_restrict'",
        "mount -o remount,rw /proc/sys",
        "mount -t proc proc /mnt",
        "modprobe dummy",
        # Asking PID 1 for a unit must not hand back the capabilities sshd's sessions lack.
        "systemd-run --wait --pipe --quiet mount -o remount,rw /proc/sys",
        "systemd-run --wait --pipe --quiet mount -t proc proc /mnt",
    )
    for cmd in must_fail:
        proc = ansible(ee["inventory"], "all", "--become", "-m", "shell", "-a", cmd)
        assert proc.returncode != 0, f"{cmd} succeeded in a lab host:\n{proc.stdout}"
    # Allowed, and local to each host's own network namespace.
    for cmd in ("sysctl -w net.ipv4.ip_forward=1", "nft add table inet sitekit_probe"):
        proc = ansible(ee["inventory"], "all", "--become", "-m", "shell", "-a", cmd)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    # A full converge of the real playbooks (its outcome is the hardening tests' business; here only
    # what it does to the machine matters).
    site = REPO / "playbooks" / "site.yml"
    if site.exists():
        exe = Path(sys.executable).with_name("ansible-playbook")
        subprocess.run(
            [str(exe), "-i", str(ee["inventory"]), str(site)],
            capture_output=True,
            text=True,
            timeout=1200,
            cwd=REPO,
            env=os.environ.copy(),
            check=False,
        )
    assert kernel_facts() == before["kernel"]


def test_two_countries_coexist_and_a_killed_up_is_cleaned(ee: dict[str, Path], lab_state: Path) -> None:
    clean = machine_snapshot(lab_state)
    proc = subprocess.Popen(
        [sys.executable, "-m", "sitekit.cli", "--sites", str(SITES), "--root", str(REPO), "lab", "up", "cl"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    state_file = lab_state / "lab" / "cl" / "state.json"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if state_file.exists() and any(h.get("procs") for h in json.loads(state_file.read_text())["hosts"]):
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert machine_snapshot(lab_state) != clean
    sitekit("lab", "down", "cl")
    assert settled_snapshot(lab_state, clean) == clean

    sitekit("lab", "up", "cl")
    cl = ansible(lab_state / "lab" / "cl" / "inventory", "all", "-m", "ping")
    assert cl.returncode == 0, cl.stdout
    assert ansible(ee["inventory"], "all", "-m", "ping").returncode == 0
    sitekit("lab", "down", "cl")
    assert settled_snapshot(lab_state, clean) == clean
    assert ansible(ee["inventory"], "all", "-m", "ping").returncode == 0


def test_down_leaves_the_machine_as_it_was(ee: dict[str, Path], lab_state: Path, before: dict[str, object]) -> None:
    proc = sitekit("lab", "down", "ee")
    assert "is down" in proc.stderr
    assert settled_snapshot(lab_state, before["snapshot"]) == before["snapshot"]  # type: ignore[arg-type]
    assert not (lab_state / "lab" / "ee").exists()
    assert "no lab" in sitekit("lab", "down", "ee").stderr


def test_bad_country_is_a_user_error(lab_state: Path) -> None:
    proc = sitekit("lab", "up", "zz", check=False)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    proc = sitekit("lab", "up", "e1", check=False)
    assert proc.returncode == 2
