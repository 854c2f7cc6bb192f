"""Lab benchmark: cold build, warm `up` of 1 and of all hosts, `down`, and optionally one VM boot.

Prints the phase timings of each run measured in this one run, and the ratios that matter (how much of a
cold `up` is the root build, warm up per host). Run as root on the lab machine:

    .venv/bin/python benchmarks/lab.py [--country ee] [--no-cold] [--vm] [--json out.json]

A cold build uses an empty temporary cache (it downloads the root and the mirror's packages from Debian:
about 30 s for the root and a few seconds for the mirror here); warm runs use the normal cache. The labs
live in a temporary SITEKIT_STATE and are removed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _timed_up(cc: str, tier: str, only: tuple[str, ...]) -> dict[str, float]:
    from sitekit.lab.lab import up

    start = time.monotonic()
    result = up(cc, tier, ROOT / "sites", ROOT, only)
    return {**result.timings, "total": time.monotonic() - start}


def _timed_down(cc: str) -> dict[str, float]:
    from sitekit.lab.lab import down

    start = time.monotonic()
    timings = down(cc)
    return {**timings, "total": time.monotonic() - start}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--country", default="ee")
    parser.add_argument("--no-cold", action="store_true", help="skip the cold build (no download)")
    parser.add_argument("--vm", action="store_true", help="also boot one VM (slow under emulation)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("benchmarks/lab.py needs root (it starts a lab)", file=sys.stderr)
        return 2
    from sitekit.lab.lab import load_layout

    cc = args.country
    hosts = [h.name for h in load_layout(cc, ROOT / "sites").hosts]
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="sitekit-bench-") as tmp:
        os.environ["SITEKIT_STATE"] = str(Path(tmp) / "state")
        if not args.no_cold:
            real_cache = os.environ.get("SITEKIT_CACHE")
            os.environ["SITEKIT_CACHE"] = str(Path(tmp) / "cache")
            try:
                print(f"== cold up of {cc} (1 host, empty cache)", file=sys.stderr)
                results["cold up (1 host)"] = _timed_up(cc, "container", (hosts[0],))
                results["down after cold (1 host)"] = _timed_down(cc)
            finally:
                if real_cache is None:
                    os.environ.pop("SITEKIT_CACHE", None)
                else:
                    os.environ["SITEKIT_CACHE"] = real_cache
        print(f"== warm up of {cc} (1 host)", file=sys.stderr)
        results["warm up (1 host)"] = _timed_up(cc, "container", (hosts[0],))
        results["down (1 host)"] = _timed_down(cc)
        print(f"== warm up of {cc} ({len(hosts)} hosts)", file=sys.stderr)
        results[f"warm up ({len(hosts)} hosts)"] = _timed_up(cc, "container", ())
        results[f"down ({len(hosts)} hosts)"] = _timed_down(cc)
        if args.vm:
            print(f"== VM up of {cc} (1 host)", file=sys.stderr)
            results["vm up (1 host)"] = _timed_up(cc, "vm", (hosts[0],))
            results["vm down (1 host)"] = _timed_down(cc)

    print(f"\nlab benchmark ({cc}, {os.cpu_count()} cores)")
    for name, timings in results.items():
        phases = ", ".join(f"{k} {v:.1f}s" for k, v in timings.items() if k != "total")
        print(f"  {name:<22} {timings['total']:7.1f} s   ({phases})")
    ratios: dict[str, Any] = {}
    cold = results.get("cold up (1 host)")
    warm1 = results["warm up (1 host)"]
    warm_all = results[f"warm up ({len(hosts)} hosts)"]
    if cold:
        ratios["cold / warm up (1 host)"] = cold["total"] / warm1["total"]
        ratios["root build share of cold up"] = cold.get("build root", 0.0) / cold["total"]
    ratios[f"warm up {len(hosts)} hosts / 1 host"] = warm_all["total"] / warm1["total"]
    for name, value in ratios.items():
        print(f"  {name:<32} {value:6.2f}")
    if args.json:
        args.json.write_text(json.dumps({"results": results, "ratios": ratios}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
