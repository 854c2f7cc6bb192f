"""How long `sitekit plan` takes for sites of about 50, 200 and 1000 Kubernetes objects.

Sites are grown from the Estonian demo site by adding tenants and models (the realistic way a country
grows). For each size it prints the bare mocked run of the stack program, the whole plan (program,
manifests on disk, strict schemas, policies, reachability) and their ratio: the cost of checking.
Times are medians of a few runs in one process, after a warm-up, on this machine.

    .venv/bin/python benchmarks/plan.py [--repeat N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sitekit.plan.program import run_program, stack_config  # noqa: E402
from sitekit.plan.runner import plan_site  # noqa: E402
from sitekit.spec import Site, load_fleet  # noqa: E402

TARGETS = (50, 200, 1000)


def grown(base: Site, tenants: int, models: int) -> Site:
    """The base site with extra tenants and models appended."""
    data: dict[str, Any] = base.model_dump(mode="json")
    model = data["models"][0]
    for i in range(models):
        data["models"].append({**model, "name": f"bench-model-{i}"})
    for i in range(tenants):
        data["tenants"].append({"name": f"bench-{i}", "kind": "startup", "gpu_quota": 0, "groups": [f"bench-{i}"]})
    # GPU workers for the added models (16 L40S each), so the site passes the program's capacity check.
    for i in range(-(-models // 16)):
        data["hosts"].append(
            {
                "name": f"ee-bench-gpu-{i}",
                "address": f"10.20.0.{100 + i}",
                "role": "gpu-worker",
                "gpu": {"model": model["gpu_model"], "count": 16},
            }
        )
    return Site.model_validate(data)


def objects_of(site: Site) -> int:
    """Kubernetes objects the program declares for a site (one mocked run)."""
    recording = run_program(ROOT / "stacks", site.cc, stack_config(site))
    return sum(1 for r in recording.resources if r.is_kubernetes_object)


def sized(base: Site, target: int) -> Site:
    """A site whose object count is close to `target` (one tenant adds 8 objects, one model 8)."""
    extra = max(0, target - objects_of(base))
    models = extra // 40
    tenants = max(0, round((extra - models * 8) / 8))
    return grown(base, tenants, models)


def median_time(fn: Any, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    base = load_fleet(ROOT / "sites").site("ee")
    program = ROOT / "stacks"
    print(f"{'objects':>8} {'bare run s':>11} {'whole plan s':>13} {'ratio':>6}  phases of the whole plan (s)")
    with tempfile.TemporaryDirectory(prefix="sitekit-bench-") as tmp:
        plan_site(base, Path(tmp) / "warm", program)  # imports, schema cache
        for target in TARGETS:
            site = sized(base, target)
            config = stack_config(site)
            out = Path(tmp) / str(target)
            bare = median_time(lambda s=site, c=config: run_program(program, s.cc, c), args.repeat)
            result = plan_site(site, out, program)
            whole = median_time(lambda s=site, o=out: plan_site(s, o, program), args.repeat)
            phases = " ".join(f"{k}={v:.3f}" for k, v in result.timings.items())
            status = "" if result.ok else "  (plan FAILED)"
            print(f"{len(result.manifests):>8} {bare:>11.3f} {whole:>13.3f} {whole / bare:>6.2f}  {phases}{status}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
