"""Waiting for services inside the lab namespace: the SSH banner, not just an accepted TCP connection.

The controller process lives in the machine's namespace, so the probe runs as a short Python program
inside the lab namespace (`nsenter --net`), waiting for every address at once and reporting how long each
took. A TCP accept is not enough (QEMU's forwarder and systemd's socket activation both accept before
sshd is ready); the banner proves sshd answers.
"""

from __future__ import annotations

import json
import sys

from sitekit.lab.util import LabError, run

_PROBE = r"""
import json, socket, sys, time
targets = json.loads(sys.argv[1]); deadline = time.monotonic() + float(sys.argv[2]); t0 = time.monotonic()
done = {}
while len(done) < len(targets) and time.monotonic() < deadline:
    for addr, port, prefix in targets:
        key = f"{addr}:{port}"
        if key in done:
            continue
        try:
            with socket.create_connection((addr, port), timeout=1) as s:
                if prefix:
                    s.settimeout(2); data = s.recv(64)
                    if not data.startswith(prefix.encode()):
                        continue
                done[key] = round(time.monotonic() - t0, 2)
        except OSError:
            pass
    time.sleep(0.1)
print(json.dumps(done))
"""


def wait_for(netns: str, targets: list[tuple[str, int, str]], timeout: float) -> dict[str, float]:
    """Wait until every (address, port, banner prefix) answers inside `netns`; return seconds to each."""
    out = run(
        ["nsenter", f"--net=/run/netns/{netns}", sys.executable, "-c", _PROBE, json.dumps(targets), str(timeout)],
        timeout=timeout + 30,
    ).stdout
    done: dict[str, float] = json.loads(out)
    missing = [f"{a}:{p}" for a, p, _ in targets if f"{a}:{p}" not in done]
    if missing:
        raise LabError(f"no answer within {timeout:.0f} s from {', '.join(missing)} in namespace {netns}")
    return done
