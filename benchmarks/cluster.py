"""What the real cluster half costs: engine and control-plane builds, the lab control plane, `pulumi up`.

For each country given (default: ee), in one run on this machine:
- the Go builds of the Pulumi engine and the control plane (cached: a lookup; `--cold`: built from scratch
  into an empty build and module-output cache, which takes tens of minutes on two cores);
- `sitekit lab up <cc> --tier cluster` (keys made first) and `lab down`;
- the first `pulumi up` of the country's stack against it, and a no-op `pulumi up --expect-no-changes`,
  with their ratio.

    sudo .venv/bin/python benchmarks/cluster.py [--countries ee,cl] [--cold]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SITEKIT = [str(Path(sys.executable).parent / "sitekit")]
PASSPHRASE = "benchmark-stack-passphrase"


def timed(cmd: list[str], env: dict[str, str], cwd: Path | None = None) -> float:
    """Seconds one command took; it must succeed."""
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return time.perf_counter() - start


@contextmanager
def cold_caches(cold: bool) -> Iterator[dict[str, str]]:
    """Environment overrides: with `cold`, empty Go build and sitekit caches for this run only."""
    if not cold:
        yield {}
        return
    with tempfile.TemporaryDirectory(prefix="sitekit-cold-") as tmp:
        yield {"SITEKIT_CACHE": f"{tmp}/cache", "GOCACHE": f"{tmp}/gocache"}


def builds(env: dict[str, str]) -> list[tuple[str, float]]:
    """Seconds to get each group of binaries (a build, or a cache lookup when warm)."""
    out = []
    start = time.perf_counter()
    subprocess.run([*SITEKIT, "engine", "build"], env=env, check=True, capture_output=True)
    out.append(("pulumi engine (CLI, language host, kubernetes provider)", time.perf_counter() - start))
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "sitekit.cluster.binaries"], env=env, check=True, capture_output=True)
    out.append(("control plane (apiserver, controller-manager, scheduler, etcd, kwok)", time.perf_counter() - start))
    return out


def country(cc: str, env: dict[str, str], state: Path) -> list[tuple[str, float]]:
    """Lab control plane up, first and no-op `pulumi up`, down, for one country."""
    from sitekit.engine import ensure_engine

    rows = [("keys init", timed([*SITEKIT, "keys", "init", cc], env))]
    rows.append((f"lab up {cc} --tier cluster", timed([*SITEKIT, "lab", "up", cc, "--tier", "cluster"], env)))
    try:
        engine = ensure_engine()
        project = state / f"project-{cc}"
        project.mkdir()
        for name in ("stacks", "policies", "sites"):
            shutil.copytree(ROOT / name, project / name)
        shutil.copy(ROOT / "Pulumi.yaml", project)
        shutil.copy(ROOT / f"Pulumi.{cc}.yaml", project)
        (project / ".venv").symlink_to(ROOT / ".venv")
        backend = state / "pulumi-state" / cc
        backend.mkdir(parents=True)
        penv = engine.env(f"file://{backend}", passphrase=PASSPHRASE, base=env)
        pulumi = [str(engine.pulumi)]
        kubeconfig = state / "lab" / cc / "cluster" / "kubeconfig"
        timed([*pulumi, "stack", "init", cc, "--secrets-provider", "passphrase", "--non-interactive"], penv, project)
        timed([*pulumi, "config", "set", "-s", cc, "sitekit:kubeconfigPath", str(kubeconfig)], penv, project)
        timed([*pulumi, "config", "set", "-s", cc, "sitekit:labSkipCharts", "true"], penv, project)
        up = [*pulumi, "up", "-s", cc, "--yes", "--non-interactive", "--policy-pack", "policies"]
        rows.append((f"pulumi up -s {cc} (first)", timed([*up, "--skip-preview"], penv, project)))
        rows.append((f"pulumi up -s {cc} (no-op)", timed([*up, "--expect-no-changes"], penv, project)))
    finally:
        rows.append((f"lab down {cc}", timed([*SITEKIT, "lab", "down", cc], env)))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--countries", default="ee")
    parser.add_argument("--cold", action="store_true", help="build everything into empty caches first")
    args = parser.parse_args()
    with cold_caches(args.cold) as overrides, tempfile.TemporaryDirectory(prefix="sitekit-bench-state-") as tmp:
        env = {
            **os.environ,
            **overrides,
            "SITEKIT_STATE": tmp,
            "SITEKIT_PKCS11_PIN": "bench-pin-2468",
            "SITEKIT_PKCS11_SO_PIN": "bench-so-pin-1357",
            "SITEKIT_KEY_PASSPHRASE": "bench-passphrase",
        }
        os.environ.update({k: v for k, v in env.items() if k.startswith("SITEKIT_")} | overrides)
        rows = builds(env)
        for cc in args.countries.split(","):
            rows += country(cc.strip(), env, Path(tmp))
    kind = "cold" if args.cold else "warm (cached)"
    print(f"{'step':<78} {'seconds':>8}")
    for name, seconds in rows:
        print(f"{name:<78} {seconds:>8.1f}")
    firsts = {n.split()[3]: s for n, s in rows if n.endswith("(first)")}
    for name, seconds in rows:
        if name.endswith("(no-op)"):
            cc = name.split()[3]
            print(f"no-op / first pulumi up for {cc}: {seconds / firsts[cc]:.2f}")
    print(f"builds: {kind}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
