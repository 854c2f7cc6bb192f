"""Initialising a SoftHSM2 token for the lab and tests (a real HSM's token is set up by its vendor tools).

`softhsm2-util --init-token --free` is the only way to create a SoftHSM2 token; it takes the PINs as
arguments, so they are visible in the process table for the tool's lifetime. That is acceptable for the
lab's software token and is why this command refuses any module that is not SoftHSM2.
"""

from __future__ import annotations

import shutil
import subprocess

from sitekit.errors import UserError
from sitekit.pki import tokenlock
from sitekit.pki.backends import reload_on_next_use, select_softhsm_conf
from sitekit.pki.hierarchy import token_label
from sitekit.pki.layout import Layout
from sitekit.pki.secrets import PIN_ENV, SO_PIN_ENV, secret_from_env_or_prompt
from sitekit.spec.models import Site


def is_softhsm(site: Site) -> bool:
    p11 = site.keys.pkcs11
    return site.keys.backend == "pkcs11" and p11 is not None and "softhsm" in p11.module


def token_exists(label: str) -> bool:
    tool = shutil.which("softhsm2-util")
    if tool is None:
        return False
    out = subprocess.run([tool, "--show-slots"], capture_output=True, text=True, check=False).stdout
    return any(line.split(":", 1)[-1].strip() == label for line in out.splitlines() if "Label:" in line)


def init_softhsm_token(site: Site) -> str:
    """Create the country's SoftHSM2 token in its state dir if missing; returns its label."""
    if not is_softhsm(site):
        raise UserError(f"{site.cc} does not use SoftHSM2; initialise the HSM's token with the vendor's tools")
    tool = shutil.which("softhsm2-util")
    if tool is None:
        raise UserError("softhsm2-util is not installed (apt-get install softhsm2)")
    layout = Layout.for_country(site.cc)
    select_softhsm_conf(layout.softhsm)
    lock = layout.softhsm_lock
    tokenlock.acquire(lock)
    try:
        return _create(site, tool)
    finally:
        tokenlock.release(lock)


def _create(site: Site, tool: str) -> str:
    label = token_label(site)
    if token_exists(label):
        return label
    pin = secret_from_env_or_prompt(PIN_ENV, f"New user PIN for token {label}", confirm=True)
    so_pin = secret_from_env_or_prompt(SO_PIN_ENV, f"New SO PIN for token {label}", confirm=True)
    proc = subprocess.run(
        [tool, "--init-token", "--free", "--label", label, "--pin", pin, "--so-pin", so_pin],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise UserError(f"softhsm2-util could not create token {label}: {proc.stderr.strip() or proc.stdout.strip()}")
    assert site.keys.pkcs11 is not None
    reload_on_next_use(site.keys.pkcs11.module)
    return label
