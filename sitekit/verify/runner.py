"""`sitekit verify`: run the testinfra checks of tests/hosts against every host of an inventory.

One pytest process per host, all hosts in parallel. Each process reaches its host through testinfra's
ansible backend, which reads the connection variables from the inventory and talks plain `ssh` with
ControlMaster/ControlPersist; we point its ControlPath at a private folder of this run (an ansible.cfg
of our own, merged over the operator's), so each host is one TCP+SSH handshake however many checks run.
The raw rows from `sitekit.verify.plugin` become per-host evidence (JSON + JUnit XML).
"""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sitekit.errors import UserError
from sitekit.hostchecks.catalogue import catalogue_digest, catalogue_path, load_controls
from sitekit.hostchecks.inventory import InventoryHost, hosts_of, load_inventory
from sitekit.verify.evidence import HostEvidence, write_evidence

PERSIST_SECONDS = 60


@dataclass
class VerifyOptions:
    """What to verify and where the evidence goes."""

    country: str
    inventory: Path
    out_dir: Path
    tests_dir: Path
    limit: str | None = None
    jobs: int = 8
    controls: Sequence[str] = ()
    timeout_s: int = 900
    pytest_args: Sequence[str] = ()
    keep_run_dir: bool = False
    catalogue: Path = field(default_factory=catalogue_path)
    env: dict[str, str] = field(default_factory=dict)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def write_ansible_cfg(run_dir: Path, root: Path) -> Path:
    """An ansible.cfg for this run: the operator's own (if any) plus a private ControlPath."""
    cfg = configparser.RawConfigParser()
    for candidate in (os.environ.get("ANSIBLE_CONFIG"), str(Path.cwd() / "ansible.cfg"), str(root / "ansible.cfg")):
        if candidate and Path(candidate).is_file():
            cfg.read(candidate)
            break
    for section in ("defaults", "ssh_connection", "persistent_connection"):
        if not cfg.has_section(section):
            cfg.add_section(section)
    cp = run_dir / "cp"
    cp.mkdir(mode=0o700, exist_ok=True)
    # testinfra substitutes %(directory)s with control_path_dir; %%C is ssh's hash of the connection.
    cfg.set("ssh_connection", "control_path", "%(directory)s/%%C")
    cfg.set("persistent_connection", "control_path_dir", str(cp))
    cfg.set("defaults", "host_key_checking", cfg.get("defaults", "host_key_checking", fallback="True"))
    path = run_dir / "ansible.cfg"
    with path.open("w") as fh:
        fh.write("# written by `sitekit verify` for one run; removed afterwards\n")
        cfg.write(fh)
    return path


def _close_masters(run_dir: Path) -> None:
    for sock in (run_dir / "cp").glob("*"):
        subprocess.run(
            ["ssh", "-o", f"ControlPath={sock}", "-O", "exit", "sitekit-verify"],
            capture_output=True,
            check=False,
            timeout=10,
        )


def pytest_argv(opts: VerifyOptions, host: InventoryHost, raw: Path) -> list[str]:
    argv = [
        sys.executable,
        "-m",
        "pytest",
        str(opts.tests_dir),
        "-p",
        "sitekit.verify.plugin",
        "-p",
        "no:cacheprovider",
        "--sitekit-evidence",
        str(raw),
        f"--hosts=ansible://{host.name}",
        f"--ansible-inventory={opts.inventory}",
        "-q",
        "--tb=line",
        "-o",
        "addopts=",
        "-o",
        "console_output_style=classic",
        "--rootdir",
        str(opts.tests_dir),
    ]
    if needs_sudo(host):
        argv.append("--sudo")  # the checks read root-only state (sshd -T, nft, auditctl, shadow modes)
    if opts.controls:
        argv += ["-k", " or ".join(opts.controls)]
    argv += list(opts.pytest_args)
    return argv


def needs_sudo(host: InventoryHost) -> bool:
    """Whether commands must go through sudo: the login user is not root (and become is not already on)."""
    v = host.variables
    user = v.get("ansible_user") or v.get("ansible_ssh_user") or v.get("ansible_remote_user")
    become = str(v.get("ansible_become", "")).lower() in ("1", "true", "yes")
    return bool(user) and user != "root" and not become


def _host_tier(host: InventoryHost, facts: dict[str, Any]) -> str:
    return str(facts.get("tier") or host.variables.get("sitekit_lab_tier") or "unknown")


def run_host(opts: VerifyOptions, host: InventoryHost, run_dir: Path, env: dict[str, str]) -> HostEvidence:
    """Run the suite against one host and build its evidence."""
    raw = run_dir / f"{host.name}.raw.json"
    started, t0 = _now(), time.monotonic()
    try:
        proc = subprocess.run(
            pytest_argv(opts, host, raw),
            env=env,
            capture_output=True,
            text=True,
            timeout=opts.timeout_s,
            check=False,
            cwd=opts.tests_dir.parent.parent if opts.tests_dir.parent.parent.is_dir() else None,
        )
        output, rc = proc.stdout + proc.stderr, proc.returncode
    except subprocess.TimeoutExpired as exc:
        output, rc = f"timed out after {exc.timeout}s", -1
    elapsed = round(time.monotonic() - t0, 3)
    (run_dir / f"{host.name}.log").write_text(output)
    ev = HostEvidence(
        country=opts.country,
        host=host.name,
        inventory=str(opts.inventory),
        catalogue_sha256=catalogue_digest(opts.catalogue),
        started=started,
        finished=_now(),
        duration_s=elapsed,
        facts={"groups": list(host.groups), "address": host.address},
    )
    if not raw.is_file():
        ev.errors.append(f"pytest exited {rc} without evidence: {output.strip()[-1500:]}")
        return ev
    import json

    data = json.loads(raw.read_text())
    ev.facts.update(data.get("facts", {}).get(host.name, {}))
    ev.facts["tier"] = _host_tier(host, ev.facts)
    ev.errors += data.get("errors", [])
    ev.results = sorted(
        (r for r in data.get("rows", []) if r.get("host") in (None, host.name)),
        key=lambda r: (str(r.get("control") or "~"), str(r.get("test_id"))),
    )
    if rc not in (0, 1, 5) and not ev.results:
        ev.errors.append(f"pytest exited {rc}: {output.strip()[-1500:]}")
    if not opts.controls and not opts.pytest_args and not ev.errors:
        _add_unchecked(opts, ev)
    return ev


def _add_unchecked(opts: VerifyOptions, ev: HostEvidence) -> None:
    """A catalogued control that produced no result is an error: applied but not verified."""
    seen = {r.get("control") for r in ev.results}
    try:
        controls = load_controls(opts.catalogue)
    except UserError:
        return
    for c in controls:
        if c.id not in seen:
            ev.results.append(
                {
                    "control": c.id,
                    "title": c.title,
                    "check": c.check,
                    "test_id": "",
                    "result": "error",
                    "reason": f"no check ran for this control (check {c.check!r} not found in {opts.tests_dir})",
                    "time": ev.finished,
                    "duration_s": 0.0,
                }
            )


def verify(opts: VerifyOptions, progress: Callable[[str], None] | None = None) -> list[HostEvidence]:
    """Verify every selected host in parallel; write and return their evidence."""
    if not opts.tests_dir.is_dir():
        raise UserError(f"host checks not found at {opts.tests_dir}")
    hosts = hosts_of(load_inventory(opts.inventory), opts.limit)
    if not hosts:
        raise UserError(f"inventory {opts.inventory} has no hosts" + (f" matching {opts.limit}" if opts.limit else ""))
    run_dir = Path(tempfile.mkdtemp(prefix="skv-", dir="/tmp"))  # short: ssh sockets need short paths
    try:
        env = dict(os.environ)
        env.update(opts.env)
        env["ANSIBLE_CONFIG"] = str(write_ansible_cfg(run_dir, opts.tests_dir.parent.parent))
        env["SITEKIT_VERIFY_COUNTRY"] = opts.country
        env.setdefault("PYTHONDONTWRITEBYTECODE", "1")
        # testinfra calls ansible-inventory from PATH: make it the one next to this interpreter (the venv).
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
        env.pop("PYTEST_ADDOPTS", None)
        with ThreadPoolExecutor(max_workers=max(1, min(opts.jobs, len(hosts)))) as pool:
            futures = [pool.submit(run_host, opts, h, run_dir, env) for h in hosts]
            evidence = []
            for f in futures:
                ev = f.result()
                write_evidence(ev, opts.out_dir)
                if progress:
                    s = ev.summary
                    progress(
                        f"{ev.host}: {s['passed']} passed, {s['failed']} failed, {s['skipped']} skipped, "
                        f"{s['error']} errors in {ev.duration_s:.1f}s"
                    )
                evidence.append(ev)
        return evidence
    finally:
        _close_masters(run_dir)
        if opts.keep_run_dir:
            if progress:
                progress(f"run folder kept: {run_dir}")
        else:
            shutil.rmtree(run_dir, ignore_errors=True)
