"""Password history (SK-PAM-003) on a hardened lab host: a change through PAM to a recent password is refused.

`passwd` goes through the PAM stack the baseline role generated (pwquality, pwhistory, unix), so the test
drives it under a pseudo-terminal on the lab host, as root changing a throwaway account's password
(enforce_for_root: root's changes are held to the history too). It shares the converged hardening lab of
conftest.py, creates the account and deletes it again. The passwords are random per run and meet the
quality policy (SK-PAM-002), so only the history can refuse one.
"""

from __future__ import annotations

import secrets
import shlex
import time
from collections.abc import Iterator

import pytest
from hardenlab import HOSTS, Lab

HOST = HOSTS[0]
ACCOUNT = "sk-pwhist-probe"
pytestmark = [pytest.mark.lab, pytest.mark.slow]

# Run on the lab host as root: `passwd ACCOUNT` under a pseudo-terminal, answering each password prompt
# with argv[2]; prints passwd's output (password masked) and its exit status.
PASSWD_UNDER_PTY = r"""
import os, pty, sys, time
user, password = sys.argv[1], sys.argv[2]
pid, fd = pty.fork()
if pid == 0:
    os.execv("/usr/bin/passwd", ["passwd", user])
out, answered, deadline = b"", 0, time.monotonic() + 60
while time.monotonic() < deadline:
    try:
        chunk = os.read(fd, 1024)
    except OSError:
        break
    if not chunk:
        break
    out += chunk
    if out.lower().count(b"password:") > answered:
        answered += 1
        os.write(fd, password.encode() + b"\n")
_, status = os.waitpid(pid, 0)
print(out.decode(errors="replace").replace(password, "<password>"))
print("exit", os.waitstatus_to_exitcode(status))
"""


def _password() -> str:
    """A fresh password of all four classes, 31 characters from a 64-symbol alphabet: only the history can
    refuse it (hex digits alone are sometimes too few distinct characters for cracklib's "systematic" check)."""
    return "Aa1%" + secrets.token_urlsafe(20)


def _root(lab: Lab, command: str) -> str:
    out = lab.ssh(HOST, "sudo sh -c " + shlex.quote(command), timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


def _change(lab: Lab, password: str) -> tuple[int, str, float]:
    """passwd's exit status and output for one change, and how long it took."""
    command = f"python3 -c {shlex.quote(PASSWD_UNDER_PTY)} {ACCOUNT} {shlex.quote(password)}"
    t = time.monotonic()
    text = _root(lab, command)
    took = time.monotonic() - t
    status = int(text.strip().rsplit("exit", 1)[1])
    return status, text, took


def _hash(lab: Lab) -> str:
    return _root(lab, f"getent shadow {ACCOUNT} | cut -d: -f2").strip()


@pytest.fixture(scope="module")
def account(harden_lab: Lab, harden_converged: dict[str, object]) -> Iterator[Lab]:
    _root(harden_lab, f"useradd -m {ACCOUNT}")
    try:
        yield harden_lab
    finally:
        _root(harden_lab, f"userdel -r {ACCOUNT} 2>/dev/null; true")


def test_recent_password_is_refused_and_a_fresh_one_accepted(account: Lab) -> None:
    lab = account
    used = [_password() for _ in range(3)]
    for password in used:
        status, text, took = _change(lab, password)
        assert status == 0, text
        print(f"\npasswd with a new password: {took:.2f} s")
    current = _hash(lab)
    assert current.startswith("$y$"), current[:4]
    for recent in used[:2]:  # two and three changes back, inside remember=5
        status, text, _ = _change(lab, recent)
        assert status != 0, text
        assert "already used" in text, text
        assert _hash(lab) == current, "a refused change still replaced the hash"
    status, text, _ = _change(lab, _password())
    assert status == 0, text
    assert _hash(lab) != current


def test_login_and_sudo_still_work(account: Lab) -> None:
    out = account.ssh(HOST, "sudo -n true && echo fresh-login-ok")
    assert out.returncode == 0 and "fresh-login-ok" in out.stdout, out.stderr
