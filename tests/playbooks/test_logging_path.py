"""Logs stay in the country: a record written on a GPU worker reaches the country's collector over mutual
TLS, and the collector refuses clients that do not hold a certificate of the country's logging CA.

It shares the hardening lab of test_harden.py (conftest.py: a private copy of the ee demo, code ZH, brought
up and converged once per session: harden.yml with the firewall's log path, then the country's keys in the
lab's state (SoftHSM2, as ee) and `playbooks/logging.yml` in check mode, then twice), checks that check
mode wrote nothing and the re-run changed nothing, then:

- `logger` writes a unique nonce on a GPU worker; the collector's file receives it from the worker's
  address within a bounded wait;
- from another host of the country (inside the firewall's allowed sources, so only TLS can refuse), the
  same framed syslog message is sent with `openssl s_client` three ways: with another country's logging
  certificate (built with sitekit's own PKI code in a temporary state), with a Kubernetes client
  certificate of the country's own hierarchy that names a permitted host (the collector trusts the
  logging intermediate alone), and with no certificate. Each is refused: its nonce never lands, and the
  collector's rsyslog logs the rejection. A control message sent the same way with the host's own
  logging certificate does land, so the method itself can succeed and the refusals are not a broken probe.
"""

from __future__ import annotations

import json
import re
import secrets
import shlex
import subprocess
import time
from pathlib import Path

import pytest
from hardenlab import CC, HOSTS, Lab
from labcopy import play_recap, private_fleet

from sitekit.pki.hierarchy import Hierarchy
from sitekit.pki.layout import Layout
from sitekit.pki.logcerts import log_certificate
from sitekit.spec import load_fleet

pytestmark = [pytest.mark.lab, pytest.mark.slow]

COLLECTOR, WORKER, OTHER = HOSTS  # the spec's logging.collector is the control-plane host
REMOTE_FILE = "/var/log/sitekit/remote.log"  # the logging role's logging_collector_file default
WAIT = 90.0  # seconds a record may take to arrive (rsyslog's first connection, a loaded CI machine)
FOREIGN = "/root/sk-foreign"  # on OTHER: the refused clients' certificates (throwaway test keys)


def _root(
    lab: Lab, host: str, command: str, data: str | None = None, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    """A command as root inside a lab host (fresh login, sudo), optionally fed `data` on stdin."""
    return subprocess.run(
        [
            "ssh",
            "-F",
            str(lab.ssh_config),
            "-o",
            "ControlPath=none",
            "-o",
            "BatchMode=yes",
            host,
            "sudo sh -c " + shlex.quote(command),
        ],
        input=data,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _collector_has(lab: Lab, nonce: str) -> str:
    out = _root(lab, COLLECTOR, f"grep -F {shlex.quote(nonce)} {REMOTE_FILE} || true")
    return out.stdout.strip()


def _wait_for(lab: Lab, nonce: str, timeout: float = WAIT) -> tuple[str, float]:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        line = _collector_has(lab, nonce)
        if line:
            return line, time.monotonic() - t0
        time.sleep(2)
    return "", time.monotonic() - t0


@pytest.fixture(scope="module")
def logging_lab(harden_lab: Lab, harden_converged: dict[str, object]) -> dict[str, object]:
    """The shared lab after the session's converge, which ends with the country's keys and logging.yml."""
    return {
        "lab": harden_lab,
        "check": harden_converged["log_check"],
        "untouched": harden_converged["log_untouched"],
        "first": harden_converged["log_first"],
        "second": harden_converged["log_second"],
    }


def test_check_mode_changes_nothing_and_converge_is_idempotent(logging_lab: dict[str, object]) -> None:
    check, first, second = (str(logging_lab[k]) for k in ("check", "first", "second"))
    assert logging_lab["untouched"] == "1", "check mode wrote the rsyslog configuration"
    assert all(r["failed"] == 0 for r in play_recap(check).values()), check[-3000:]
    recap = play_recap(second)
    assert set(recap) == set(HOSTS), second[-3000:]
    assert all(r["changed"] == 0 and r["failed"] == 0 for r in recap.values()), second[-3000:]
    assert any(r["changed"] > 0 for r in play_recap(first).values())
    assert "PRIVATE KEY" not in check + first + second


def test_a_record_written_on_a_gpu_worker_arrives_at_the_collector(logging_lab: dict[str, object]) -> None:
    lab = logging_lab["lab"]
    assert isinstance(lab, Lab)
    nonce = f"sitekit-log-path-{secrets.token_hex(8)}"
    # The nonce goes on stdin: in the command line, sudo's own log record of the command would carry it too.
    wrote = _root(lab, WORKER, "logger -t sitekit-test", nonce + "\n")
    assert wrote.returncode == 0, wrote.stderr
    line, took = _wait_for(lab, nonce)
    print(f"\nrecord from {WORKER} at the collector after {took:.1f} s: {line}")
    assert line, f"the record {nonce} written on {WORKER} did not reach {COLLECTOR}:{REMOTE_FILE} in {WAIT:.0f} s"
    worker = next(h for h in load_fleet(lab.sites).site(CC).hosts if h.name == WORKER)
    assert f" {worker.address} " in f" {line} ", f"the record did not come from {WORKER}'s address: {line}"
    # It came over the TLS listener: the worker holds an established session to the collector's port.
    ss = _root(lab, WORKER, "ss -Htn state established '( dport = :6514 )'")
    assert ss.stdout.strip(), f"{WORKER} has no established session to the collector's port 6514"


def _foreign_certificate(tmp: Path) -> tuple[str, str]:
    """A logging client certificate and key of another country (ZQ), made with sitekit's own PKI code."""
    sites = private_fleet(tmp / "sites", "zq", 96)
    site = load_fleet(sites).site("zq")
    site = site.model_copy(update={"keys": site.keys.model_copy(update={"backend": "file", "pkcs11": None})})
    with Hierarchy(site, Layout(cc="zq", base=tmp / "keys")) as h:
        h.init()
        leaf = log_certificate(h, "zq-gpu-2")
    return leaf.fullchain_pem, leaf.key_pem


def _own_kubernetes_client_certificate(lab: Lab, name: str, address: str) -> tuple[str, str]:
    """A Kubernetes client certificate of the country's own hierarchy, naming a permitted log client."""
    out = lab.sitekit(
        "keys",
        "issue",
        CC,
        "--ca",
        "kubernetes",
        "--profile",
        "client",
        "--name",
        name,
        "--name",
        address,
        "--cn",
        name,
    )
    paths = dict(re.findall(r"^(certificate|key):\s+(\S+)$", out.stdout, re.M))
    return Path(paths["certificate"]).read_text(), Path(paths["key"]).read_text()


def _send(lab: Lab, nonce: str, cert: str | None) -> str:
    """One RFC 5425 (octet-counted) syslog message to the collector from OTHER over TLS; s_client's output."""
    collector = next(h for h in load_fleet(lab.sites).site(CC).hosts if h.name == COLLECTOR)
    msg = f"<14>1 - {OTHER} sitekit-test - - - {nonce}"
    framed = f"{len(msg.encode())} {msg}"
    auth = f"-cert {FOREIGN}/{cert}.pem -key {FOREIGN}/{cert}.key" if cert else ""
    if cert == "own":
        auth = "-cert /etc/sitekit/logging/cert.pem -key /etc/sitekit/logging/key.pem"
    # The client verifies the collector as the role's clients do (the logging CA alone, so -partial_chain;
    # the collector's name), so a refusal can only come from the collector. The message goes on stdin (not
    # the command line, which sudo logs and the host forwards); -quiet keeps the session open after it
    # until the collector closes it or the timeout ends it.
    command = (
        f"timeout 8 openssl s_client -connect {collector.address}:6514 -CAfile /etc/sitekit/logging/ca.pem"
        f" -partial_chain -verify_return_error -verify_hostname {COLLECTOR}.{CC}.sovereign.example -quiet {auth}"
        ' 2>&1; echo "rc=$?"'
    )
    return _root(lab, OTHER, command, framed).stdout


def _rsyslog_since(lab: Lab, since: str) -> str:
    return _root(lab, COLLECTOR, f"journalctl -u rsyslog.service --since '{since}' --no-pager -o cat").stdout


def test_clients_without_the_countrys_logging_certificate_are_refused(
    logging_lab: dict[str, object], tmp_path: Path
) -> None:
    lab = logging_lab["lab"]
    assert isinstance(lab, Lab)
    other = next(h for h in load_fleet(lab.sites).site(CC).hosts if h.name == OTHER)
    dns = f"{OTHER}.{CC}.sovereign.example"
    with pytest.MonkeyPatch.context() as mp:  # lab.sitekit brings the lab token's PINs (hardenlab.lab_env)
        mp.setenv("SITEKIT_KEY_PASSPHRASE", "foreign-country-test-passphrase")  # ZQ's file backend
        foreign = _foreign_certificate(tmp_path)
        kubernetes = _own_kubernetes_client_certificate(lab, dns, str(other.address))
    assert "PRIVATE KEY" in foreign[1] and "PRIVATE KEY" in kubernetes[1]
    for label, (cert, key) in (("foreign", foreign), ("kubernetes", kubernetes)):
        put = _root(lab, OTHER, f"umask 077; mkdir -p {FOREIGN} && cat > {FOREIGN}/{label}.pem", cert)
        put2 = _root(lab, OTHER, f"umask 077; cat > {FOREIGN}/{label}.key", key)
        assert put.returncode == 0 and put2.returncode == 0, put.stderr + put2.stderr
    since = _root(lab, COLLECTOR, "date '+%Y-%m-%d %H:%M:%S'").stdout.strip()
    try:
        refused = {
            label: f"sitekit-refused-{label}-{secrets.token_hex(6)}" for label in ("foreign", "kubernetes", "none")
        }
        outputs = {label: _send(lab, nonce, None if label == "none" else label) for label, nonce in refused.items()}
        # The control: the same probe with this host's own logging certificate is accepted, and since the
        # collector handles sessions in order of arrival, once it lands the refused ones had their chance.
        control = f"sitekit-accepted-own-{secrets.token_hex(6)}"
        control_out = _send(lab, control, "own")
        line, took = _wait_for(lab, control)
        assert line, f"the control message with {OTHER}'s own logging certificate never arrived:\n{control_out}"
        print(f"\ncontrol message accepted after {took:.1f} s: {line}")
        assert f" {other.address} " in line, f"the control message did not come from {OTHER}: {line}"
        time.sleep(3)
        for label, nonce in refused.items():
            print(f"--- {label} client, openssl s_client:\n{outputs[label].strip()[-600:]}")
            # The client accepted the collector's certificate, so the refusal is the collector's.
            assert "verify error" not in outputs[label], f"{label}: the probe refused the collector: {outputs[label]}"
            assert not _collector_has(lab, nonce), f"the {label} client's message landed at the collector"
        rejections = _rsyslog_since(lab, since)
        print(f"--- the collector's rsyslog since {since}:\n{rejections.strip()[-3000:]}")
        # The collector (rsyslog, GnuTLS) says why it closed each session: the chain does not lead to the
        # logging CA (the other country's client; the country's own Kubernetes client, though it names a
        # permitted host), or no certificate at all.
        reasons = {
            "foreign": "DN: CN=zq-gpu-2.zq.sovereign.example; Issuer DN: C=ZQ,O=sitekit Estonia,OU=logging",
            "kubernetes": f"DN: CN={dns}; Issuer DN: C={CC.upper()},O=sitekit Estonia,OU=kubernetes",
        }
        refusals = rejections.split("not permitted to talk to peer, certificate invalid: signer not found")
        for label, dn in reasons.items():
            assert any(dn in part for part in refusals[1:]), f"no 'signer not found' refusal of the {label} client"
        assert "peer did not provide a certificate, not permitted to talk to it" in rejections, (
            "no refusal of the client without a certificate"
        )
    finally:
        _root(lab, OTHER, f"rm -rf {FOREIGN}")


def test_the_daily_aide_report_of_a_changed_file_reaches_the_collector(logging_lab: dict[str, object]) -> None:
    """SK-FIM-001's findings leave the host: a file added on a GPU worker after its AIDE database was built
    shows up, by name, in the report of Debian's own daily check (dailyaidecheck.service, run now), which
    the baseline role's MAILCMD writes to the system log and the logging role forwards to the collector."""
    lab = logging_lab["lab"]
    assert isinstance(lab, Lab)
    added = f"/etc/sitekit-aide-report-{secrets.token_hex(6)}"
    # The path goes on stdin: in the command line, sudo's own log record of the command would carry it too.
    plant = 'read -r path && echo planted > "$path"'
    assert _root(lab, WORKER, plant, added + "\n").returncode == 0
    try:
        t0 = time.monotonic()
        # The unit allows one start in two hours (StartLimitBurst=1): clear the count a drift test may have used.
        run = _root(
            lab,
            WORKER,
            "systemctl reset-failed dailyaidecheck.service 2>/dev/null; systemctl start dailyaidecheck.service; "
            "systemctl show --property=Result --value dailyaidecheck.service",
            timeout=900,
        )
        print(f"\ndailyaidecheck on {WORKER}: {run.stdout.strip()} after {time.monotonic() - t0:.1f} s")
        line, took = _wait_for(lab, added)
        assert line, f"the daily AIDE report naming {added} did not reach {COLLECTOR}:{REMOTE_FILE} in {WAIT:.0f} s"
        print(f"the report's line at the collector after {took:.1f} s: {line}")
        worker = next(h for h in load_fleet(lab.sites).site(CC).hosts if h.name == WORKER)
        assert f" {worker.address} " in f" {line} ", f"the report did not come from {WORKER}'s address: {line}"
        assert " aide" in line, f"the report's record does not carry the tag aide: {line}"
    finally:
        _root(lab, WORKER, 'read -r path && rm -f "$path"', added + "\n")


def test_verify_passes_the_log_controls_on_every_host(logging_lab: dict[str, object], tmp_path: Path) -> None:
    """`sitekit verify` runs the SK-LOG checks against the converged lab: they pass where they apply."""
    lab = logging_lab["lab"]
    assert isinstance(lab, Lab)
    tests = str(Path(__file__).resolve().parents[1] / "hosts")
    lab.sitekit("verify", CC, "--lab", "--out", str(tmp_path), "--tests", tests, check=False)
    for host in HOSTS:
        rows = json.loads((tmp_path / f"{host}.json").read_text())["results"]
        log = {str(r["control"]): str(r["result"]) for r in rows if str(r.get("control", "")).startswith("SK-LOG-")}
        print(f"\n{host}: {log}")
        for control in ("SK-LOG-002", "SK-LOG-003", "SK-LOG-004"):
            assert log.get(control) == "passed", f"{host} {control}: {log.get(control)}"
        assert log.get("SK-LOG-005") == "skipped", f"{host}: audit is a vm-tier control: {log.get('SK-LOG-005')}"
        fw = {str(r["control"]): str(r["result"]) for r in rows if str(r.get("control", "")).startswith("SK-FW-")}
        assert fw.get("SK-FW-002") == "passed" and fw.get("SK-FW-005") == "passed", f"{host}: {fw}"
