"""`up`, `status` and `down` of a country's lab: the orchestration over the smaller modules.

Order matters for crash safety: every resource is written into the lab's state record *before* it is
created, so a `down` after a SIGKILLed `up` finds it; `down` only acts on what that record (or the lab's
own folder, for processes) names, and tolerates any of it being already gone.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from sitekit.atomic import write_atomic
from sitekit.errors import UserError
from sitekit.lab import container, inventory, keys, mirror, netns, ntp, probe, procs, rootfs, vm
from sitekit.lab.layout import Layout, check_cc, layout_for
from sitekit.lab.procs import ProcRef
from sitekit.lab.state import LabState, known_labs, lab_dir
from sitekit.lab.util import phase, require_root, require_tools, run
from sitekit.spec import load_fleet

TIERS = ("container", "vm")
SSH_TIMEOUT = {"container": 90.0, "vm": 600.0}


@dataclass
class UpResult:
    """What `up` made and how long each phase took (the benchmark reads this)."""

    cc: str
    inventory: Path
    ssh_config: Path
    timings: dict[str, float] = field(default_factory=dict)
    reused: bool = False


def load_layout(cc: str, sites: Path, only: tuple[str, ...] = ()) -> Layout:
    """The lab layout of `cc` from the fleet spec at `sites`."""
    if not sites.is_dir():
        raise UserError(f"no fleet spec folder at {sites} (use --sites)")
    site = load_fleet(sites).site(cc)
    return layout_for(cc, site, only)


def paths(cc: str) -> tuple[Path, Path, Path]:
    """(lab folder, inventory folder, ssh_config) of a country's lab."""
    lab = lab_dir(cc)
    return lab, lab / "inventory", lab / "ssh_config"


def _healthy(state: LabState) -> bool:
    """A lab counts as up when its record says ready and every recorded process still runs."""
    if not state.ready or not state.netns or not netns.exists(state.netns):
        return False
    refs = [*state.procs, *(p for h in state.hosts for p in h.procs)]
    if state.cluster is not None:
        refs += state.cluster.procs.values()
    return bool(refs) and all(r.alive() for r in refs)


def up(cc: str, tier: str, sites: Path, project: Path, only: tuple[str, ...] = ()) -> UpResult:
    """Start the lab of `cc` (idempotent: a healthy lab of the same tier and hosts is left as is)."""
    cc = check_cc(cc)
    if tier not in TIERS:
        raise UserError(f"unknown tier {tier!r}; choose one of {', '.join(TIERS)}")
    require_root()
    runner = "systemd-nspawn" if tier == "container" else "qemu-system-x86_64"
    require_tools("ip", "nsenter", "mount", "ssh-keygen", "nc", "gpg", runner)
    layout = load_layout(cc, sites, only)
    lab, inv, config = paths(cc)
    existing = LabState.load(cc)
    if existing is not None:
        same_hosts = sorted(h.name for h in existing.hosts) == sorted(h.name for h in layout.hosts)
        if existing.tier == tier and same_hosts and _healthy(existing):
            print(f"lab {cc} is already up ({tier}); inventory: {inv}", file=sys.stderr)
            return UpResult(cc, inv, config, reused=True)
        print(f"lab {cc}: cleaning a previous, incomplete or different lab first", file=sys.stderr)
        down(cc)
    timings: dict[str, float] = {}
    print(f"lab {cc} ({tier}): {len(layout.hosts)} hosts", file=sys.stderr)
    with phase("build root", timings):
        root, _ = rootfs.ensure_root(tier)
    with phase("build mirror", timings):
        pool, _ = mirror.ensure_pool(root, rootfs.root_key(tier))
    if netns.exists(layout.netns):
        raise UserError(
            f"network namespace {layout.netns} exists but no lab of {cc} in {lab} recorded it; "
            f"remove it yourself (ip netns delete {layout.netns}) if it is a leftover"
        )
    lab.mkdir(parents=True, exist_ok=True)
    os.chmod(lab, 0o700)
    state = LabState(cc=cc, tier=tier, netns=layout.netns, created_netns_root=not netns.netns_root_mounted())
    state.save()
    try:
        return _start(state, layout, tier, root, pool, project, timings)
    except BaseException:
        print(
            f"lab {cc} is incomplete; its logs are in {lab}/hosts/*/ and `sitekit lab down {cc}` removes it",
            file=sys.stderr,
        )
        raise


def _start(
    state: LabState,
    layout: Layout,
    tier: str,
    root: Path,
    pool: Path,
    project: Path,
    timings: dict[str, float],
) -> UpResult:
    """The part of `up` that creates things (each recorded in `state` before it exists)."""
    cc = layout.cc
    lab, inv, config = paths(cc)
    with phase("network", timings):
        netns.create(layout.netns, layout.bridge_addresses())
        key = keys.client_key(lab / "ssh", f"sitekit-lab-{cc}")
        keyring = mirror.publish(pool, lab, layout).read_bytes()
        state.procs.append(mirror.serve(lab, layout))
        state.save()
        ntp_server = ntp.serve(lab, layout, pool)
        if ntp_server is not None:
            state.procs.append(ntp_server)
            state.save()
    host_keys: dict[str, list[str]] = {}
    booted: dict[str, float] = {}
    with phase("start hosts", timings):
        if tier == "vm":
            host_keys, booted = vm.start_all(state, layout, root, lab, key, keyring)
        else:
            pub = key.with_suffix(".pub").read_text()
            for index, host in enumerate(layout.hosts):
                rec = state.host(host.name)
                rec.address = str(host.address)
                folder = container.host_dir(lab, host.name)
                rec.mount = str(folder / "root")
                state.save()
                merged = container.mount_layer(root, folder)
                host_keys[host.name] = container.write_host_files(merged, layout, host, pub, keyring)
                nspawn, leader = container.start(layout, host, merged, folder)
                rec.procs = [leader, nspawn]
                state.save()
                container.connect(layout, index, host, leader)
    inventory.control_dir(layout).mkdir(mode=0o700, parents=True, exist_ok=True)
    known = lab / "known_hosts"
    write_atomic(known, inventory.known_hosts(layout, host_keys))
    write_atomic(config, inventory.ssh_config(layout, key, known))
    inventory.write(layout, tier, inv, project / "inventories" / cc, key, config)
    with phase("wait ssh", timings):
        targets = [(str(h.address), 22, "SSH-") for h in layout.hosts]
        targets.append((str(layout.mirror_address), 80, ""))
        probe_start = time.monotonic()
        answered = probe.wait_for(layout.netns, targets, SSH_TIMEOUT[tier])
    for h in layout.hosts:
        if h.name in booted:
            took = probe_start - booted[h.name] + answered[f"{h.address}:22"]
            timings[f"boot to ssh {h.name}"] = took
            print(f"  boot to SSH {h.name}: {took:.1f} s", file=sys.stderr)
    state.ready = True
    state.save()
    print(f"lab {cc} is up; inventory: {inv}\n  ssh -F {config} {layout.hosts[0].name}", file=sys.stderr)
    return UpResult(cc, inv, config, timings)


def _mounts_under(folder: Path) -> list[str]:
    """Mount points at or below `folder` (deepest first), read from the machine's mount table."""
    prefix = str(folder).rstrip("/") + "/"
    with open("/proc/self/mountinfo") as fh:
        points = [line.split()[4] for line in fh]
    return sorted({p for p in points if p.startswith(prefix)}, key=len, reverse=True)


def down(cc: str) -> dict[str, float]:
    """Remove everything the lab of `cc` created; safe to run after a crash or twice."""
    cc = check_cc(cc)
    require_root()
    timings: dict[str, float] = {}
    lab = lab_dir(cc)
    state = LabState.load(cc)
    if state is None and not lab.exists():
        print(f"no lab for {cc}", file=sys.stderr)
        return timings
    with phase("stop", timings):
        host_refs = [p for h in (state.hosts if state else []) for p in h.procs]
        cp_dir = Path.home() / ".ansible" / "cp" / state.netns if state and state.netns else None
        strays = procs.with_arg(str(lab) + "/") + (procs.with_arg(str(cp_dir) + "/") if cp_dir else [])
        # Container PID 1s first (recorded, or children of an nspawn an interrupted `up` did not get to
        # record): SIGKILL ends the whole PID namespace at once, whereas systemd takes SIGTERM as a
        # request to re-execute itself and nspawn would wait for a clean shutdown.
        leaders = [p for p in host_refs if p.alive() and procs.net_ns(p.pid) != procs.net_ns(os.getpid())]
        for ref in [*host_refs, *strays]:
            leaders += [c for c in map(ProcRef.of, procs.children(ref.pid)) if c is not None]
        for ref in leaders if (state is None or state.tier == "container") else []:
            if procs.net_ns(ref.pid) != procs.net_ns(os.getpid()):
                ref.signal(signal.SIGKILL)
        cluster_refs = list(state.cluster.procs.values()) if state and state.cluster else []
        procs.stop([*cluster_refs, *host_refs, *(state.procs if state else []), *strays])
    with phase("unmount", timings):
        for point in _mounts_under(lab):
            if run(["umount", point], check=False).returncode != 0:
                run(["umount", "--lazy", point], check=False)
        for rec in state.hosts if state else []:
            with contextlib.suppress(OSError):
                Path("/run/systemd/nspawn/propagate", container.machine_name(cc, rec.name)).rmdir()
    with phase("network", timings):
        if state and state.netns:
            netns.delete(state.netns)
            if state.created_netns_root and netns.netns_root_mounted() and not any(netns.NETNS_DIR.iterdir()):
                run(["umount", str(netns.NETNS_DIR)], check=False)
                with contextlib.suppress(OSError):
                    netns.NETNS_DIR.rmdir()
    with phase("files", timings):
        if cp_dir is not None:
            shutil.rmtree(cp_dir, ignore_errors=True)
        if _mounts_under(lab):
            raise RuntimeError(f"mounts remain under {lab}; not removing it")
        shutil.rmtree(lab, ignore_errors=True)
    print(f"lab {cc} is down", file=sys.stderr)
    return timings


def status(cc: str | None) -> list[str]:
    """One line per lab host (or a note that there is none)."""
    codes = [check_cc(cc)] if cc else known_labs()
    lines: list[str] = []
    for code in codes:
        state = LabState.load(code)
        if state is None:
            lines.append(f"{code}: no lab")
            continue
        health = "up" if _healthy(state) else ("starting or broken" if state.ready is False else "degraded")
        mirror_ok = all(p.alive() for p in state.procs)
        services = "" if state.tier == "cluster" else f", mirror and NTP {'up' if mirror_ok else 'down'}"
        lines.append(f"{code}: {health} ({state.tier}), netns {state.netns}{services}")
        for rec in state.hosts:
            alive = bool(rec.procs) and all(p.alive() for p in rec.procs)
            lines.append(f"  {rec.name:<16} {rec.address:<15} {'running' if alive else 'stopped'}")
        if state.tier != "cluster":
            lines.append(f"  inventory: {lab_dir(code) / 'inventory'}")
        if state.cluster is not None:
            from sitekit.cluster.controlplane import status_lines

            lines += status_lines(code, state.cluster)
    return lines or ["no labs"]
