"""ssh-audit against every host of the shared hardening lab: no failure and no warning.

Runs on the lab `harden_converged` left (conftest.py: no new lab), after giving its hosts their keys
(`sitekit keys init`, then `keys.yml --tags keys_ssh`), so each sshd presents an Ed25519 host key, a host
certificate from the country's SSH host CA, and the role's algorithm lists. ssh-audit (PyPI, pinned in the
dev extra) reaches each host through the lab's own way in (the ProxyCommand of its ssh_config, from the
operator address the firewall admits) by a local TCP relay, and its JSON is judged: any `fail` or `warn`
note on a key exchange, host key (including the CA that signed the host certificate), cipher or MAC
fails the test and is named. The module sorts after test_harden.py and test_drift.py, so the keys it
adds never change what they see.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hardenlab import CC, HOSTS, Lab

SSH_AUDIT = Path(sys.executable).with_name("ssh-audit")
SECTIONS = ("kex", "key", "enc", "mac")


class Relay:
    """127.0.0.1:<port> -> the lab's ProxyCommand for one host: each connection gets its own proxy process.

    The proxy process reads and writes the accepted socket directly, so nothing is copied here; every
    process is reaped (killed if still running) when the relay closes.
    """

    def __init__(self, proxy: list[str]) -> None:
        self._proxy = proxy
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._procs: list[subprocess.Popen[bytes]] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            with conn:
                fd = conn.fileno()
                self._procs.append(subprocess.Popen(self._proxy, stdin=fd, stdout=fd, stderr=subprocess.DEVNULL))

    def close(self) -> None:
        self._listener.close()
        self._thread.join(timeout=5)
        for proc in self._procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=10)


def _proxy_template(lab: Lab) -> str:
    text = lab.ssh_config.read_text()
    match = re.search(r"^\s*ProxyCommand (.+)$", text, re.M)
    assert match, f"no ProxyCommand in {lab.ssh_config}"
    return match.group(1).strip()


def _address(lab: Lab, host: str) -> str:
    match = re.search(rf"^Host {re.escape(host)}\n\s+HostName (\S+)", lab.ssh_config.read_text(), re.M)
    assert match, f"{host} has no HostName in {lab.ssh_config}"
    return match.group(1)


@pytest.fixture(scope="module")
def keyed(harden_lab: Lab, harden_converged: dict[str, object]) -> Iterator[Lab]:
    """The hardened lab with the country's keys on its hosts (host certificates from the SSH host CA)."""
    lab = harden_lab
    lab.sitekit("keys", "init", CC)  # the lab's token and PINs (hardenlab.lab_env), as the other modules
    command = f"{sys.executable} -m sitekit.cli --sites {lab.sites} --root {lab.state}"
    lab.playbook("--tags", "keys_ssh", "-e", f"keys_sitekit_command='{command}'", playbook="keys.yml")
    yield lab


def _audit(lab: Lab, host: str) -> tuple[int, dict[str, Any]]:
    proxy = _proxy_template(lab).replace("%h", _address(lab, host)).replace("%p", "22")
    relay = Relay(shlex.split(proxy))
    try:
        proc = subprocess.run(
            [str(SSH_AUDIT), "--json", "--timeout=20", "--port", str(relay.port), "127.0.0.1"],
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
            env={**os.environ, "NO_COLOR": "1"},
        )
    finally:
        relay.close()
    try:
        return proc.returncode, json.loads(proc.stdout)
    except json.JSONDecodeError as exc:
        raise AssertionError(f"ssh-audit on {host} gave no JSON (rc {proc.returncode}): {proc.stderr}") from exc


def findings(report: dict[str, Any]) -> list[str]:
    """Every `fail` and `warn` note of the report, as `level section algorithm: note`."""
    out: list[str] = []
    for section in SECTIONS:
        for entry in report.get(section) or []:
            notes = entry.get("notes") or {}
            name = entry["algorithm"]
            if entry.get("ca_algorithm"):
                name += f" (CA {entry['ca_algorithm']})"
            for level in ("fail", "warn"):
                out += [f"{level} {section} {name}: {note}" for note in notes.get(level) or []]
    for level in ("critical", "warning"):
        for action, algs in (report.get("recommendations", {}).get(level) or {}).items():
            for kind, items in (algs or {}).items():
                out += [f"{level} recommendation: {action} {kind} {item.get('name', item)}" for item in items]
    return out


def test_findings_name_each_failing_algorithm() -> None:
    """The judge itself: a report with a NIST-curve CA and a weak cipher yields both, named."""
    report = {
        "kex": [{"algorithm": "curve25519-sha256", "notes": {"info": ["fine"]}}],
        "key": [
            {
                "algorithm": "ssh-ed25519-cert-v01@openssh.com",
                "ca_algorithm": "ecdsa-sha2-nistp384",
                "notes": {"fail": ["CA key uses elliptic curves that are suspected as being backdoored"]},
            }
        ],
        "enc": [{"algorithm": "aes128-cbc", "notes": {"warn": ["vulnerable to the Terrapin attack"]}}],
        "mac": [],
        "recommendations": {"critical": {"del": {"enc": [{"name": "aes128-cbc", "notes": ""}]}}},
    }
    got = findings(report)
    assert any(f.startswith("fail key ssh-ed25519-cert-v01@openssh.com (CA ecdsa-sha2-nistp384)") for f in got)
    assert any(f.startswith("warn enc aes128-cbc:") for f in got)
    assert "critical recommendation: del enc aes128-cbc" in got
    assert findings({"kex": [], "key": [], "enc": [], "mac": [], "recommendations": {}}) == []


@pytest.mark.lab
@pytest.mark.slow
@pytest.mark.parametrize("host", HOSTS)
def test_ssh_audit_finds_no_failure_and_no_warning(keyed: Lab, host: str) -> None:
    rc, report = _audit(keyed, host)
    problems = findings(report)
    offered = [e["algorithm"] + (f" (CA {e['ca_algorithm']})" if e.get("ca_algorithm") else "") for e in report["key"]]
    first = report["kex"][0]["algorithm"]
    print(f"\nssh-audit {host}: exit {rc}, {len(problems)} fail/warn, kex {first} first, host keys {offered}")
    assert not problems, f"ssh-audit on {host}:\n" + "\n".join(problems)
    assert rc == 0, f"ssh-audit on {host} exited {rc} without naming a fail or warn note: {report}"
    kex = [e["algorithm"] for e in report["kex"]]
    assert kex[0] == "sntrup761x25519-sha512@openssh.com", f"post-quantum hybrid not first on {host}: {kex}"
    keys = {e["algorithm"]: e for e in report["key"]}
    assert set(keys) <= {"ssh-ed25519", "ssh-ed25519-cert-v01@openssh.com"}, f"{host} offers {sorted(keys)}"
    cert = keys.get("ssh-ed25519-cert-v01@openssh.com")
    assert cert is not None and cert.get("ca_algorithm") == "ssh-ed25519", (
        f"{host} presents no host certificate from an Ed25519 CA, so the CA was not audited: {keys}"
    )
