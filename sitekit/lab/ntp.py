"""The lab's in-country NTP server: real chronyd, serving time on the spec's NTP addresses.

Lab hosts have no route off the machine, so the NTP servers a site names (`residency.ntp_servers`) must be
served inside the lab, as the package mirror is, or the time controls (chrony synchronised to an
in-country source) could only fail there. The server is chronyd from the chrony package the lab mirror
already holds (unpacked into the cache with `dpkg -x`: installing Debian's package would start a chrony
service that disciplines this machine's clock). It runs inside the lab's network namespace with `-x`, so
it never touches the machine's clock, serves its local clock at stratum 8, and answers only the site's
own ranges. `down` stops it by its recorded pid like every other lab process.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from sitekit.atomic import write_atomic
from sitekit.lab import procs
from sitekit.lab.layout import Layout
from sitekit.lab.procs import ProcRef
from sitekit.lab.util import LabError, build_lock, require_tools, run
from sitekit.paths import cache_dir

STRATUM = 8
"""Stratum of the lab's local clock: low enough that clients accept it, high enough to never win."""


def chronyd_binary(pool: Path) -> Path:
    """chronyd unpacked from the mirror pool's chrony .deb into the cache (once per package version)."""
    debs = sorted((pool / "pool").glob("chrony_*.deb"))
    if not debs:
        raise LabError(f"the lab mirror pool {pool} holds no chrony package to serve NTP with")
    deb = debs[-1]
    final = cache_dir() / "lab" / "chrony" / deb.stem
    binary = final / "usr" / "sbin" / "chronyd"
    if binary.exists():
        return binary
    require_tools("dpkg")
    with build_lock(final):
        if binary.exists():
            return binary
        tmp = final.with_name(final.name + ".unpacking")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        run(["dpkg", "-x", str(deb), str(tmp)])
        tmp.rename(final)
    return binary


def config(layout: Layout, lab: Path) -> str:
    """chronyd's configuration: local clock only, the site's ranges only, no command port, no files of ours
    outside the lab folder."""
    lines = [
        "# Written by `sitekit lab up`: the lab's in-country NTP server (chronyd -x: never sets this clock).",
        f"local stratum {STRATUM}",
        "port 123",
        "cmdport 0",
        f"pidfile {lab / 'chronyd.pid'}",
        f"driftfile {lab / 'chronyd.drift'}",
    ]
    # The hosts' node network and the operator network: the lab namespace carries nothing else.
    lines += [f"allow {net}" for net in dict.fromkeys([layout.gateway.network, layout.operator.network])]
    return "\n".join(lines) + "\n"


def serve(lab: Path, layout: Layout, pool: Path) -> ProcRef | None:
    """Start chronyd in the lab namespace; None when the site names no NTP server the lab carries."""
    if not layout.ntp_addresses:
        return None
    binary = chronyd_binary(pool)
    conf = lab / "chrony.conf"
    write_atomic(conf, config(layout, lab))
    # -d: stay in the foreground (the recorded pid is chronyd's); -x: never adjust the system clock;
    # -u root: the package's _chrony user does not exist on this machine; -F 0: no seccomp filter
    # (its syscall list is tuned for the packaged service, not for this unpacked copy).
    argv = ["nsenter", f"--net=/run/netns/{layout.netns}", str(binary), "-d", "-x", "-u", "root", "-F", "0"]
    proc = procs.spawn([*argv, "-f", str(conf)], lab / "ntp.log")
    ref = ProcRef.of(proc.pid)
    if ref is None or proc.poll() is not None:
        raise LabError(f"the lab NTP server (chronyd) exited at once; see {lab / 'ntp.log'}")
    return ref
