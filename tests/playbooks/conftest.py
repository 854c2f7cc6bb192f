"""Session fixtures of the playbook tests: the hardening lab, brought up and converged once, shared by
test_harden.py (check mode, idempotence, lockout safety), test_drift.py (drift found and repaired) and
test_logging_path.py (the log path). The converge is the site's: harden.yml, then the country's keys and
logging.yml (the spec names a log collector, so its controls are among those every host must pass)."""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Iterator

import pytest
from aidebuild import describe, wait_for_build
from hardenlab import CC, HOSTS, LOG_CONFIG, OCTET, TOOLS, Lab, fingerprint
from labcopy import private_fleet


@pytest.fixture(scope="session")
def harden_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    if os.geteuid() != 0:
        pytest.skip("the lab needs root")
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        pytest.skip(f"missing tools: {', '.join(missing)}")
    state = tmp_path_factory.mktemp("harden-lab-state")
    sites = private_fleet(state / "sites", CC, OCTET)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SITEKIT_STATE", str(state))
        lab = Lab(state, sites)
        lab.sitekit("render")  # the lab copies the rendered group_vars of <root>/inventories/<cc>/
        up = lab.sitekit("lab", "up", CC, check=False)
        if up.returncode == 2 and "exists but no lab" in up.stderr:
            pytest.skip(f"another lab of that name is running on this machine: {up.stderr.strip()}")
        assert up.returncode == 0, up.stderr
        try:
            for host in HOSTS:  # booted hosts still settling answer sudo slowly
                lab.ssh(host, "systemctl is-system-running --wait; sudo -n true", timeout=180)
            yield lab
        finally:
            lab.sitekit("lab", "down", CC, check=False)


@pytest.fixture(scope="session")
def harden_converged(harden_lab: Lab) -> dict[str, object]:
    lab = harden_lab
    before = {h: fingerprint(lab, h) for h in HOSTS}
    check = lab.playbook("--check")
    after_check = {h: fingerprint(lab, h) for h in HOSTS}
    t0 = time.monotonic()
    first = lab.playbook()
    t1 = time.monotonic()
    second = lab.playbook()
    t2 = time.monotonic()
    print(
        f"\nharden.yml on {len(HOSTS)} hosts: first converge {t1 - t0:.1f} s, re-run {t2 - t1:.1f} s "
        f"(ratio {(t2 - t1) / (t1 - t0):.2f})"
    )
    # Lab.sitekit and Lab.playbook run with hardenlab.lab_env(): the lab token's PINs, no SOFTHSM2_CONF.
    lab.sitekit("keys", "init", CC)
    command = f"logging_sitekit_command='{sys.executable} -m sitekit.cli --sites {lab.sites}'"
    log_check = lab.playbook("--check", "-e", command, playbook="logging.yml")
    log_untouched = lab.ssh(HOSTS[0], f"test -e {LOG_CONFIG}; echo $?").stdout.strip()
    t3 = time.monotonic()
    log_first = lab.playbook("-e", command, playbook="logging.yml")
    t4 = time.monotonic()
    log_second = lab.playbook("-e", command, playbook="logging.yml")
    print(f"logging.yml: first converge {t4 - t3:.1f} s, re-run {time.monotonic() - t4:.1f} s")
    # The converges started the AIDE database builds without waiting for them; verify needs them done.
    aide = {h: wait_for_build(lambda c, h=h: lab.ssh(h, c)) for h in HOSTS}
    for host, build in aide.items():
        print(describe(host, build))
    return {
        "before": before,
        "after_check": after_check,
        "check": check.stdout,
        "first": first.stdout,
        "second": second.stdout,
        "log_check": log_check.stdout,
        "log_untouched": log_untouched,
        "log_first": log_first.stdout,
        "log_second": log_second.stdout,
        "aide": aide,
    }
