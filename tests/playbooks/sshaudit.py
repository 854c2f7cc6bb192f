"""ssh-audit run against a lab host through the lab's own ProxyCommand, and its report judged: shared by the
container-tier lab test (test_ssh_audit.py) and the VM tier (test_harden_vm.py)."""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

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


def _proxy_template(ssh_config: Path) -> str:
    text = ssh_config.read_text()
    match = re.search(r"^\s*ProxyCommand (.+)$", text, re.M)
    assert match, f"no ProxyCommand in {ssh_config}"
    return match.group(1).strip()


def _address(ssh_config: Path, host: str) -> str:
    match = re.search(rf"^Host {re.escape(host)}\n\s+HostName (\S+)", ssh_config.read_text(), re.M)
    assert match, f"{host} has no HostName in {ssh_config}"
    return match.group(1)


def audit(ssh_config: Path, host: str) -> tuple[int, dict[str, Any]]:
    proxy = _proxy_template(ssh_config).replace("%h", _address(ssh_config, host)).replace("%p", "22")
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


def judge(host: str, rc: int, report: dict[str, Any]) -> None:
    """No fail or warn note, exit 0, the post-quantum hybrid key exchange first, Ed25519 host keys only and a
    host certificate from an Ed25519 CA (so the CA itself was audited)."""
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
