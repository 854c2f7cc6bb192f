"""Hardening benchmark: first converge, idempotent re-run and `sitekit verify` on fresh lab hosts.

For 1 host and for all hosts of the country's lab (3 for ee), on freshly started lab hosts:

    first converge   ansible-playbook -i <lab inventory> playbooks/harden.yml --limit <hosts>
    re-run           the same command again (must report changed=0)
    verify           sitekit verify <cc> --lab --limit <hosts>

and prints the wall times with the ratio re-run / first converge. With `--strategies linear,mitogen` it
measures each size under Ansible's own linear strategy and under Mitogen's `mitogen_linear` (one
persistent interpreter per host instead of a Python start per task), each on freshly started hosts, and
prints Mitogen's times as ratios of linear's. Run as root on the lab machine:

    .venv/bin/python benchmarks/harden.py [--country ee] [--tier container] [--sizes 1,3]
        [--strategies linear,mitogen] [--json out.json]

The lab is started with `sitekit lab up` and removed afterwards (unless --keep); use a SITEKIT_STATE of
your own if another lab of the same country may be running.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import re
import shlex
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sitekit.controls import load_controls

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _sitekit(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "sitekit"), *args], cwd=ROOT, capture_output=True, text=True, check=check)


def _state() -> Path:
    sys.path.insert(0, str(ROOT))
    from sitekit.paths import state_dir

    return state_dir()


def _timed(cmd: list[str], log: Path, env: dict[str, str]) -> tuple[float, int, str]:
    t0 = time.monotonic()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env, check=False)
    elapsed = time.monotonic() - t0
    log.write_text(proc.stdout + proc.stderr)
    return elapsed, proc.returncode, proc.stdout + proc.stderr


def _recap(output: str) -> dict[str, dict[str, int]]:
    recap: dict[str, dict[str, int]] = {}
    for m in re.finditer(r"^(\S+)\s+:\s+((?:\w+=\d+\s*)+)$", output, flags=re.M):
        recap[m.group(1)] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(2))}
    return recap


def _hosts(inventory: Path) -> list[str]:
    out = subprocess.run(
        [str(BIN / "ansible-inventory"), "-i", str(inventory), "--list"], capture_output=True, text=True, check=True
    ).stdout
    data = json.loads(out)
    return sorted(data.get("_meta", {}).get("hostvars", {}))


def strategy_env(strategy: str) -> dict[str, str]:
    """Ansible settings that select `strategy` (linear: Ansible's own; mitogen: Mitogen's mitogen_linear)."""
    if strategy == "linear":
        return {"ANSIBLE_STRATEGY": "linear"}
    if strategy == "mitogen":
        spec = importlib.util.find_spec("ansible_mitogen")
        if spec is None or spec.origin is None:
            raise SystemExit("Mitogen is not installed: .venv/bin/pip install mitogen")
        plugins = Path(spec.origin).parent / "plugins" / "strategy"
        return {"ANSIBLE_STRATEGY_PLUGINS": str(plugins), "ANSIBLE_STRATEGY": "mitogen_linear"}
    raise SystemExit(f"unknown strategy {strategy!r}: linear or mitogen")


def run_size(
    cc: str, tier: str, size: int, logs: Path, play_args: list[str] | None = None, strategy: str = "linear"
) -> dict[str, Any]:
    _sitekit("lab", "down", cc, check=False)
    t0 = time.monotonic()
    up = _sitekit("lab", "up", cc, "--tier", tier, check=False)
    if up.returncode != 0:
        raise SystemExit(f"sitekit lab up {cc} failed:\n{up.stdout}{up.stderr}")
    lab_up = time.monotonic() - t0
    inventory = _state() / "lab" / cc / "inventory"
    hosts = _hosts(inventory)[:size]
    limit = ",".join(hosts)
    env = dict(os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("ANSIBLE_CONFIG", str(ROOT / "ansible.cfg"))
    env.update(strategy_env(strategy))
    logs = logs / strategy
    logs.mkdir(parents=True, exist_ok=True)
    play = [str(BIN / "ansible-playbook"), "-i", str(inventory), "playbooks/harden.yml", "--limit", limit]
    play += play_args or []
    first, rc1, _out1 = _timed(play, logs / f"{cc}-{size}-first.log", env)
    rerun, rc2, out2 = _timed(play, logs / f"{cc}-{size}-rerun.log", env)
    verify_cmd = [
        str(BIN / "sitekit"),
        "verify",
        cc,
        "--lab",
        "--limit",
        limit,
        "--out",
        str(logs / f"evidence-{size}"),
    ]
    # Only what harden.yml applies: the keys role's controls (SK-KEY-*) need keys.yml, not run here.
    verify_cmd += [f"--control={c.id}" for c in load_controls() if c.role != "keys"]
    verify, rc3, _out3 = _timed(verify_cmd, logs / f"{cc}-{size}-verify.log", env)
    recap2 = _recap(out2)
    per_host = {}
    for h in hosts:
        p = logs / f"evidence-{size}" / f"{h}.json"
        if p.is_file():
            ev = json.loads(p.read_text())
            per_host[h] = {"summary": ev["summary"], "duration_s": ev["duration_s"]}
    return {
        "country": cc,
        "tier": tier,
        "strategy": strategy,
        "hosts": hosts,
        "lab_up_s": round(lab_up, 1),
        "first_converge_s": round(first, 1),
        "first_rc": rc1,
        "rerun_s": round(rerun, 1),
        "rerun_rc": rc2,
        "rerun_changed": sum(r.get("changed", 0) for r in recap2.values()),
        "rerun_failed": sum(r.get("failed", 0) + r.get("unreachable", 0) for r in recap2.values()),
        "ratio_rerun_first": round(rerun / first, 3) if first else None,
        "verify_s": round(verify, 1),
        "verify_rc": rc3,
        "verify_per_host": per_host,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--country", default="ee")
    ap.add_argument("--tier", default="container", choices=["container", "vm"])
    ap.add_argument("--sizes", default="1,3", help="host counts to measure (default 1,3)")
    ap.add_argument("--json", type=Path, help="also write the figures as JSON")
    ap.add_argument("--logs", type=Path, default=Path("/tmp/sitekit-bench-harden"), help="play and verify logs")
    ap.add_argument("--strategies", default="linear", help="comma list of linear, mitogen (default linear)")
    ap.add_argument("--keep", action="store_true", help="leave the lab up after the last size")
    ap.add_argument("--play-args", default="", help="extra ansible-playbook arguments (reported with the figures)")
    args = ap.parse_args(argv)
    args.logs.mkdir(parents=True, exist_ok=True)
    rows = []
    load_before = os.getloadavg()[0]
    try:
        strategies = [x.strip() for x in args.strategies.split(",") if x.strip()]
        for strategy in strategies:
            strategy_env(strategy)  # fail before any lab starts if a strategy is unusable
        for size in (int(s) for s in args.sizes.split(",")):
            for strategy in strategies:
                rows.append(run_size(args.country, args.tier, size, args.logs, shlex.split(args.play_args), strategy))
    finally:
        if not args.keep:
            _sitekit("lab", "down", args.country, check=False)
    machine = f"{platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, {platform.release()}"
    when = datetime.now(UTC).isoformat(timespec="minutes")
    load = (
        f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after (other work on the machine skews times)"
    )
    print(f"harden benchmark, {args.country} lab ({args.tier} tier), {when}, {machine}; {load}")
    if args.play_args:
        print(f"ansible-playbook extra arguments: {args.play_args}")
    head = f"{'strategy':>8} {'hosts':>5} {'first':>8} {'re-run':>8} {'ratio':>6} {'changed':>7} {'verify':>8}"
    print(f"{head} {'verify/host':>11}  rc")
    for r in rows:
        per = [v["duration_s"] for v in r["verify_per_host"].values()] or [0.0]
        print(
            f"{r['strategy']:>8} {len(r['hosts']):>5} {r['first_converge_s']:>7.1f}s {r['rerun_s']:>7.1f}s "
            f"{r['ratio_rerun_first'] or 0:>6.2f} {r['rerun_changed']:>7} {r['verify_s']:>7.1f}s "
            f"{max(per):>10.1f}s  {r['first_rc']}/{r['rerun_rc']}/{r['verify_rc']}"
        )
    base = {len(r["hosts"]): r for r in rows if r["strategy"] == "linear"}
    for r in rows:
        b = base.get(len(r["hosts"]))
        if r["strategy"] != "linear" and b and b["first_converge_s"] and b["rerun_s"]:
            print(
                f"{r['strategy']} / linear, {len(r['hosts'])} host(s): first converge "
                f"{r['first_converge_s'] / b['first_converge_s']:.2f}, re-run {r['rerun_s'] / b['rerun_s']:.2f}"
            )
    if args.json:
        args.json.write_text(
            json.dumps({"date": when, "machine": machine, "load": load, "runs": rows}, indent=2) + "\n"
        )
    ok = all(r["first_rc"] == 0 and r["rerun_rc"] == 0 and r["rerun_changed"] == 0 for r in rows)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
