"""Where passphrases and PINs come from: the environment or an interactive prompt, never an argument.

Command-line arguments are visible to every user through /proc and end up in shell history and CI logs,
so sitekit has no option that takes a secret. Without a terminal and without the variable, the command
fails with an error that names the variable, rather than hanging on a prompt nobody can answer.
"""

from __future__ import annotations

import getpass
import os
import sys

from sitekit.errors import UserError

PASSPHRASE_ENV = "SITEKIT_KEY_PASSPHRASE"
PIN_ENV = "SITEKIT_PKCS11_PIN"
SO_PIN_ENV = "SITEKIT_PKCS11_SO_PIN"
NO_PROMPT_ENV = "SITEKIT_NO_PROMPT"
"""Set by the stack program: under `pulumi up` a prompt would hang the engine, so a missing secret fails."""


def secret_from_env_or_prompt(env: str, prompt: str, *, confirm: bool = False, min_length: int = 4) -> str:
    """Read a secret from `env`, else prompt on the terminal; refuse if neither is possible."""
    value = os.environ.get(env)
    if value is None:
        if os.environ.get(NO_PROMPT_ENV):
            raise UserError(f"set {env}: this command runs unattended (e.g. under pulumi up) and cannot prompt")
        if not sys.stdin.isatty():
            raise UserError(f"set {env} or run on a terminal to be prompted for it")
        value = getpass.getpass(f"{prompt}: ")
        if confirm and getpass.getpass(f"{prompt} (again): ") != value:
            raise UserError("the two entries differ")
    if len(value) < min_length:
        raise UserError(f"{env}: at least {min_length} characters are required")
    return value
