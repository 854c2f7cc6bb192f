"""SK-LOG-002..005: logs stay in the country. The host's journal reaches the country's own collector over
mutual TLS with certificates of the country's logging intermediate, the firewall opens exactly that path,
and audit records join it where auditd runs.

Everything expected (collector, port, peers, files) comes from the logging and firewall roles' variables
as the play renders them for this host. A site whose spec names no collector has nothing to verify: the
checks skip saying so, never pass.
"""

from __future__ import annotations

import shlex
import time
from typing import Any

import pytest

from sitekit.hostchecks.nft import Ruleset, new_connection_paths, within_any


def _active(expect: Any) -> None:
    if not expect.get("logging_active"):
        pytest.skip("not applicable: the site's spec names no log collector (logging.collector)")


def _collector(expect: Any) -> tuple[str, int]:
    collector = expect.get("logging_collector")
    return str(collector["address"]), int(expect.get("logging_port"))


def _sessions(probe: Any, address: str, port: int) -> list[str]:
    out = probe.host.run(f"ss -Htn state established '( dst {address} and dport = :{port} )'").stdout
    return [line for line in out.splitlines() if line.strip()]


def test_sk_log_002(probe: Any, expect: Any, observe: Any, control: Any) -> None:
    _active(expect)
    address, port = _collector(expect)
    rsyslog = probe.cmd(f"systemctl is-active {shlex.quote(str(expect.get('logging_service')))}").stdout.strip()
    if expect.get("logging_is_collector"):
        listening = probe.cmd(f"ss -Hltn '( sport = :{port} )'").stdout.strip()
        target = str(expect.get("logging_collector_file"))
        folder = probe.cmd(f"stat -c '%U:%G %a' {shlex.quote(target.rsplit('/', 1)[0])}").stdout.strip()
        observe(
            {"rsyslog": rsyslog, "listening": listening, "received records folder": folder},
            {"rsyslog": "active", "listening": f"tcp :{port}", "received records folder": "root:adm 750"},
        )
        assert rsyslog == "active", f"rsyslog is {rsyslog or 'absent'} on the collector"
        assert listening, f"the collector does not listen on tcp/{port}"
        assert folder == "root:adm 750", f"received records' folder is {folder or 'missing'}, not root:adm 750"
        return
    sessions = _sessions(probe, address, port)
    if not sessions and rsyslog == "active":
        # rsyslog connects when it has a record to send: give it one, then look again (bounded).
        probe.host.run("logger -t sitekit-verify 'SK-LOG-002: a record for the collector'")
        for _ in range(10):
            time.sleep(1)
            sessions = _sessions(probe, address, port)
            if sessions:
                break
    observe(
        {"rsyslog": rsyslog, "sessions to the collector": sessions},
        {"rsyslog": "active", "sessions to the collector": f"established to {address}:{port}"},
    )
    assert rsyslog == "active", f"rsyslog is {rsyslog or 'absent'}: the journal is not forwarded"
    assert sessions, f"no established session to the collector {address}:{port}: records are not leaving"


def _subjects(probe: Any, path: str) -> list[str]:
    out = probe.cmd(
        f"openssl crl2pkcs7 -nocrl -certfile {shlex.quote(path)} | openssl pkcs7 -print_certs -noout"
    ).stdout
    return [
        line.split("=", 1)[1].strip() if "=" in line else line
        for line in out.splitlines()
        if line.startswith("subject")
    ]


def test_sk_log_003(probe: Any, expect: Any, observe: Any, control: Any) -> None:
    _active(expect)
    ca = str(expect.get("logging_ca_file"))
    cert = str(expect.get("logging_cert_file"))
    key = str(expect.get("logging_key_file"))
    subjects = _subjects(probe, ca)
    verified = probe.cmd(f"openssl verify -partial_chain -purpose any -CAfile {shlex.quote(ca)} {shlex.quote(cert)}")
    key_mode = probe.cmd(f"stat -c '%U:%G %a' {shlex.quote(key)}").stdout.strip()
    pub_cert = probe.cmd(f"openssl x509 -in {shlex.quote(cert)} -noout -pubkey").stdout.strip()
    pub_key = probe.cmd(f"openssl pkey -in {shlex.quote(key)} -pubout").stdout.strip()
    seen: dict[str, Any] = {
        "trusted CAs": subjects,
        "certificate verifies against them": verified.rc == 0,
        "key matches certificate": bool(pub_cert) and pub_cert == pub_key,
        "key file": key_mode,
    }
    want: dict[str, Any] = {
        "trusted CAs": "the logging intermediate only (OU=logging)",
        "certificate verifies against them": True,
        "key matches certificate": True,
        "key file": "root:root 600",
    }
    live = None
    if not expect.get("logging_is_collector"):
        address, port = _collector(expect)
        peer = str(expect.get("logging_permitted_peers")[0])
        live = probe.cmd(
            f"timeout 15 openssl s_client -connect {address}:{port} -CAfile {shlex.quote(ca)} -partial_chain"
            f" -verify_return_error -verify_hostname {shlex.quote(peer)} -cert {shlex.quote(cert)}"
            f" -key {shlex.quote(key)} </dev/null 2>&1"
        ).stdout
        seen["collector's certificate"] = "verified" if "Verify return code: 0 (ok)" in live else live[-300:]
        want["collector's certificate"] = f"verified for {peer} by the logging CA"
    observe(seen, want)
    assert subjects, f"{ca} holds no certificate"
    assert all("OU=logging" in s or "OU = logging" in s for s in subjects), (
        f"{ca} trusts more than the logging intermediate: {subjects}"
    )
    assert verified.rc == 0, f"{cert} does not verify against {ca}: {verified.stdout.strip()[-200:]}"
    assert seen["key matches certificate"], f"{key} is not the key of {cert}"
    assert key_mode == "root:root 600", f"{key} is {key_mode or 'missing'}, not root:root 600"
    if live is not None:
        assert "Verify return code: 0 (ok)" in live, f"the collector's certificate did not verify: {live[-300:]}"


def test_sk_log_004(probe: Any, expect: Any, observe: Any, control: Any) -> None:
    collector = expect.get("firewall_log_collector") or {}
    if not collector:
        pytest.skip("not applicable: the site's spec names no log collector (logging.collector)")
    port = int(expect.get("firewall_log_port"))
    rs = Ruleset(probe.nft())
    assert not rs.empty, "no nftables ruleset is loaded"
    if expect.get("firewall_log_collector_here"):
        sources = [f"{a}/32" for a in expect.get("firewall_log_sources") or []]
        paths = [p for c in rs.base_chains("input") for p in new_connection_paths(c, port=port, proto="tcp")]
        observe({f"tcp/{port} accepted": [p.describe() for p in paths]}, {"from exactly": sources})
        assert paths, f"the collector does not accept tcp/{port} at all: no host can send its logs"
        wide = [p.describe() for p in paths if not within_any(p.saddr, sources)]
        assert not wide, f"tcp/{port} accepted from outside the country's hosts {sources}: {wide}"
        return
    dest = [f"{collector['address']}/32"]
    paths = [p for c in rs.base_chains("output") for p in new_connection_paths(c, port=port, proto="tcp")]
    to_collector = [p.describe() for p in paths if p.daddr is not None and within_any(p.daddr, dest)]
    observe(
        {f"new outbound tcp/{port} paths to the collector": to_collector},
        {"to": f"{collector['address']}:{port}/tcp"},
    )
    assert to_collector, f"no output path to the collector {collector['address']}:{port}/tcp"


def test_sk_log_005(probe: Any, expect: Any, observe: Any, control: Any) -> None:
    _active(expect)
    if not expect.get("logging_audit_applicable"):
        pytest.skip("not applicable: auditd does not run on this host (it shares its kernel)")
    plugin = probe.cmd("pgrep -a -x audisp-syslog").stdout.strip()
    observe({"audisp-syslog": plugin or "not running"}, {"audisp-syslog": "running (auditd's syslog plugin)"})
    assert plugin, "auditd's syslog plugin is not running: audit records do not reach syslog or the collector"
