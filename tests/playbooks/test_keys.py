"""The `keys` role against a lab: check mode, converge, idempotence, then SSH certificates end to end.

The lab is a private copy of the ee demo site (code ZK, 10.97/16: lab network namespaces are named after
the country, so a copy keeps this test clear of anyone's ee lab). It runs `sitekit lab up zk` in a private
SITEKIT_STATE, creates the hierarchy in a SoftHSM2 token there (pkcs11 backend, as ee),
converges `playbooks/keys.yml`, and proves what the role is for: a user certificate from the country's CA
logs in (host verified only through the host CA's `@cert-authority` line, StrictHostKeyChecking yes), a
plain key that is not listed does not, a certificate whose principal the host role does not accept does
not, and the data key never appears in the playbook output.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from labcopy import private_fleet

REPO = Path(__file__).resolve().parents[2]
CC = "zk"  # a private copy of ee: its own netns and addresses, so parallel ee labs never collide
SITES: Path = REPO / "sites"
TOOLS = ("systemd-nspawn", "mmdebstrap", "nsenter", "nc", "ssh", "ssh-keygen", "softhsm2-util")
pytestmark = [pytest.mark.lab, pytest.mark.slow]


def _sitekit(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "sitekit.cli", "--sites", str(SITES), "--root", str(SITES.parent), *args],
        capture_output=True,
        text=True,
        timeout=1800,
        env=os.environ.copy(),
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"sitekit {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
    return proc


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("the lab needs root")
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        pytest.skip(f"missing tools: {', '.join(missing)}")
    state = tmp_path_factory.mktemp("keys-lab-state")
    global SITES
    SITES = private_fleet(state / "sites", CC, 97)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SITEKIT_STATE", str(state))
        mp.setenv("SITEKIT_PKCS11_PIN", "lab-pin-2468")
        mp.setenv("SITEKIT_PKCS11_SO_PIN", "lab-so-pin-1357")
        mp.delenv("SOFTHSM2_CONF", raising=False)
        _sitekit("render")  # the lab copies the rendered group_vars of <root>/inventories/<cc>/
        up = _sitekit("lab", "up", CC, check=False)
        if up.returncode == 2 and "exists but no lab" in up.stderr:
            pytest.skip(f"another lab of that name is running on this machine: {up.stderr.strip()}")
        assert up.returncode == 0, up.stderr
        try:
            cfg = str(state / "lab" / CC / "ssh_config")
            for host in (f"{CC}-cp-1", f"{CC}-gpu-1", f"{CC}-gpu-2"):  # booted hosts still settling answer sudo slowly
                subprocess.run(
                    ["ssh", "-F", cfg, host, "systemctl is-system-running --wait; sudo -n true"],
                    capture_output=True,
                    timeout=180,
                    check=False,
                )
            _sitekit("keys", "init", CC)
            yield state
        finally:
            _sitekit("lab", "down", CC, check=False)


def _playbook(state: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    cmd = [
        str(Path(sys.executable).with_name("ansible-playbook")),
        "-i",
        str(state / "lab" / CC / "inventory"),
        str(REPO / "playbooks" / "keys.yml"),
        "-e",
        f"keys_sitekit_command='{sys.executable} -m sitekit.cli --sites {SITES}'",
        *extra,
    ]
    # A private ControlPath dir: labs of other runs reuse the same addresses and user, so a shared
    # ~/.ansible/cp could hand this run another lab's (or a torn-down lab's) master connection.
    env = {
        **os.environ,
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_TIMEOUT": "60",
        "ANSIBLE_SSH_CONTROL_PATH_DIR": str(state / "ansible-cp"),
    }
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env, cwd=REPO)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    return proc


def _changed(output: str) -> dict[str, int]:
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)", output, re.M)}


@pytest.fixture(scope="module")
def converged(lab: Path) -> dict[str, str]:
    check = _playbook(lab, "--check")
    first = _playbook(lab)
    second = _playbook(lab)
    return {"check": check.stdout, "first": first.stdout, "second": second.stdout}


def test_converges_and_is_idempotent(converged: dict[str, str]) -> None:
    assert set(_changed(converged["first"])) == {f"{CC}-cp-1", f"{CC}-gpu-1", f"{CC}-gpu-2"}
    assert all(v > 0 for v in _changed(converged["first"]).values())
    assert _changed(converged["second"]) == {f"{CC}-cp-1": 0, f"{CC}-gpu-1": 0, f"{CC}-gpu-2": 0}


def test_data_key_never_in_output(lab: Path, converged: dict[str, str]) -> None:
    config = _sitekit("keys", "encryption-config", CC).stdout
    secrets = re.findall(r"secret: (\S+)", config)
    assert secrets and all(len(base64.b64decode(s)) == 32 for s in secrets)
    for out in converged.values():
        for secret in secrets:
            assert secret not in out


def _proxy_command(lab: Path) -> str:
    """The lab's way into its network namespace, as its ssh_config says."""
    text = (lab / "lab" / CC / "ssh_config").read_text()
    match = re.search(r"^\s*ProxyCommand (.+)$", text, re.M)
    assert match, text
    return match.group(1).strip()


class _Ssh:
    def __init__(self, lab: Path, tmp: Path) -> None:
        self.tmp = tmp
        public = json.loads(_sitekit("keys", "public", CC).stdout)
        known = tmp / "known_hosts"
        known.write_text("".join(line.replace(" * ", " 10.97.0.* ", 1) + "\n" for line in public["known_hosts"]))
        self.base = [
            "ssh",
            "-F",
            "/dev/null",
            "-o",
            "ProxyCommand=" + _proxy_command(lab),
            "-o",
            f"UserKnownHostsFile={known}",
            "-o",
            "GlobalKnownHostsFile=/dev/null",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "BatchMode=yes",
            "-o",
            "ConnectTimeout=20",
        ]

    def key(self, name: str) -> Path:
        path = self.tmp / name
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
        return path

    def cert(self, key: Path, principal: str) -> Path:
        out = key.with_name(key.name + "-cert.pub")
        args = ["keys", "sign-user", CC, f"{key}.pub", "--identity", "pytest", "--principal", principal]
        _sitekit(*args, "-o", str(out))
        return out

    def run(self, key: Path, address: str, cert: Path | None = None) -> subprocess.CompletedProcess[str]:
        extra = ["-i", str(key)] + (["-o", f"CertificateFile={cert}"] if cert else [])
        return subprocess.run(
            [*self.base, *extra, f"ansible@{address}", "echo cert-login-ok"], capture_output=True, text=True, timeout=60
        )


def test_ssh_certificate_login(lab: Path, converged: dict[str, str], tmp_path: Path) -> None:
    ssh = _Ssh(lab, tmp_path)
    operator = ssh.key("operator")
    ok = ssh.run(operator, "10.97.0.11", ssh.cert(operator, "sre-admin"))
    assert ok.returncode == 0 and "cert-login-ok" in ok.stdout, ok.stderr  # host cert trusted via the CA only

    stranger = ssh.key("stranger")
    denied = ssh.run(stranger, "10.97.0.11")
    assert denied.returncode == 255 and "Permission denied" in denied.stderr

    oncall = ssh.key("oncall")
    oncall_cert = ssh.cert(oncall, "gpu-oncall")
    assert ssh.run(oncall, "10.97.0.11", oncall_cert).returncode == 255  # not a control-plane principal
    assert ssh.run(oncall, "10.97.0.21", oncall_cert).returncode == 0  # a gpu-worker principal


def test_encryption_config_only_on_control_plane(lab: Path, converged: dict[str, str]) -> None:
    cfg = str(lab / "lab" / CC / "ssh_config")
    probe = "sudo stat -c '%a %U' /etc/kubernetes/encryption-config.yaml || echo absent"
    cp = subprocess.run(["ssh", "-F", cfg, f"{CC}-cp-1", probe], capture_output=True, text=True, timeout=60)
    gpu = subprocess.run(["ssh", "-F", cfg, f"{CC}-gpu-1", probe], capture_output=True, text=True, timeout=60)
    assert cp.stdout.strip() == "600 root"
    assert gpu.stdout.strip().endswith("absent")


def test_keys_role_files_meet_the_ssh_controls(lab: Path, converged: dict[str, str], tmp_path: Path) -> None:
    """What the keys role adds to sshd (its drop-in, the CA and principals files) must satisfy the ssh
    role's own controls: the file modes and the effective sshd configuration are checked by the same
    host checks `sitekit verify` runs after a full site.yml."""
    out = tmp_path / "evidence"
    controls = [arg for c in ("SK-SSH-001", "SK-SSH-015") for arg in ("--control", c)]
    proc = _sitekit(
        "verify", CC, "--lab", "--out", str(out), "--tests", str(REPO / "tests" / "hosts"), *controls, check=False
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    for host in (f"{CC}-cp-1", f"{CC}-gpu-1", f"{CC}-gpu-2"):
        rows = json.loads((out / f"{host}.json").read_text())["results"]
        assert {r["control"]: r["result"] for r in rows} == {"SK-SSH-001": "passed", "SK-SSH-015": "passed"}, rows
