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

import sys
from collections.abc import Iterator

import pytest
from hardenlab import CC, HOSTS, Lab
from sshaudit import audit, findings, judge


@pytest.fixture(scope="module")
def keyed(harden_lab: Lab, harden_converged: dict[str, object]) -> Iterator[Lab]:
    """The hardened lab with the country's keys on its hosts (host certificates from the SSH host CA)."""
    lab = harden_lab
    lab.sitekit("keys", "init", CC)  # the lab's token and PINs (hardenlab.lab_env), as the other modules
    command = f"{sys.executable} -m sitekit.cli --sites {lab.sites} --root {lab.state}"
    lab.playbook("--tags", "keys_ssh", "-e", f"keys_sitekit_command='{command}'", playbook="keys.yml")
    yield lab


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
    rc, report = audit(keyed.ssh_config, host)
    judge(host, rc, report)
