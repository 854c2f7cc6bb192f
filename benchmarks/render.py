"""Validate and render time per country for synthetic fleets of growing size.

Prints, measured in this one run, the time per country of `load_fleet` (parse, merge, validate, fleet
checks) and of `render` for each fleet size, and the ratio of the largest fleet's per-country time to
the smallest's: near 1 means the work grows linearly with the number of countries.

ISO 3166-1 alpha-2 has 26 x 26 = 676 possible codes (249 assigned), so a fleet of 1000 countries cannot
be written as site files; the largest fleet here uses every possible code.

    .venv/bin/python benchmarks/render.py [--sizes 10,100,676] [--repeat 3]
"""

from __future__ import annotations

import argparse
import itertools
import shutil
import statistics
import string
import tempfile
import time
from ipaddress import IPv4Network
from pathlib import Path

import yaml

from sitekit.render import render
from sitekit.spec import load_fleet

ROOT = Path(__file__).resolve().parent.parent


def codes(n: int) -> list[str]:
    """The first `n` two-letter codes (aa, ab, ...)."""
    letters = string.ascii_lowercase
    return ["".join(p) for p in itertools.islice(itertools.product(letters, repeat=2), n)]


def site(cc: str, index: int) -> dict[str, object]:
    """A country overlay like the demo's, on its own /20 of 10.0.0.0/8."""
    block = list(IPv4Network("10.0.0.0/8").subnets(new_prefix=20))[index]
    subs = list(block.subnets(new_prefix=24))
    domain = f"{cc}.sovereign.example"

    def endpoint(kind: str, host: int) -> dict[str, object]:
        return {"url": f"https://{kind}.{domain}/", "addresses": [str(subs[1][host])]}

    gpus = [
        {"name": f"{cc}-gpu-{i}", "address": str(subs[0][20 + i]), "role": "gpu-worker",
         "gpu": {"model": "H100-SXM5-80GB", "count": 8}}
        for i in range(1, 5)
    ]
    return {
        "identity": {"code": cc.upper(), "name": f"Country {cc.upper()}", "locales": ["en-GB"], "domains": [domain]},
        "residency": {
            "address_ranges": [str(block)],
            "dns_servers": [str(subs[1][53])],
            "ntp_servers": [str(subs[1][123])],
            "package_mirror": endpoint("mirror", 10),
            "container_registry": endpoint("registry", 20),
            "chart_repository": endpoint("charts", 30),
            "operator_networks": [str(subs[15])],
        },
        "network": {
            "node_cidr": str(subs[0]),
            "pod_cidr": str(list(block.subnets(new_prefix=22))[1]),
            "service_cidr": str(subs[8]),
            "ingress_domain": f"ai.{domain}",
        },
        "hosts": [{"name": f"{cc}-cp-1", "address": str(subs[0][11]), "role": "control-plane"}, *gpus],
        "models": [
            {"name": "assistant", "image": f"registry.{domain}/m/vllm@sha256:{'a' * 64}", "gpus_per_replica": 2,
             "min_replicas": 1, "max_replicas": 4, "gpu_model": "H100-SXM5-80GB", "languages": ["en"],
             "locale": {"system_prompt_language": "en", "default_locale": "en-GB"}}
        ],
        "tenants": [{"name": f"t{i}", "kind": "startup", "gpu_quota": 4, "groups": [f"g{i}"]} for i in range(4)],
        "keys": {"custodians": [{"name": f"Custodian {i}", "role": "officer"} for i in range(3)]},
    }


def build(folder: Path, n: int) -> None:
    folder.mkdir(parents=True)
    shutil.copy(ROOT / "sites" / "baseline.yaml", folder / "baseline.yaml")
    for i, cc in enumerate(codes(n)):
        (folder / f"{cc}.yaml").write_text(yaml.safe_dump(site(cc, i)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100,676")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = []
    with tempfile.TemporaryDirectory(prefix="sitekit-bench-render-") as tmp:
        for n in sizes:
            folder = Path(tmp) / f"fleet{n}" / "sites"
            build(folder, n)
            v, r = [], []
            for rep in range(args.repeat):
                t0 = time.perf_counter()
                fleet = load_fleet(folder)
                t1 = time.perf_counter()
                out = Path(tmp) / f"out{n}-{rep}"
                render(fleet, out)
                t2 = time.perf_counter()
                v.append((t1 - t0) / n)
                r.append((t2 - t1) / n)
            rows.append((n, statistics.median(v), statistics.median(r)))
    print(f"{'countries':>9} {'validate ms/country':>20} {'render ms/country':>18}")
    for n, v_, r_ in rows:
        print(f"{n:>9} {v_ * 1000:>20.2f} {r_ * 1000:>18.2f}")
    (n0, v0, r0), (n1, v1, r1) = rows[0], rows[-1]
    print(f"ratio {n1}/{n0} countries, per-country time: validate {v1 / v0:.2f}, render {r1 / r0:.2f} (1.0 = linear)")
    worst = max(max(v_, r_) for _, v_, r_ in rows) * 1000
    print(f"goal: under 10 ms per country for each step: worst {worst:.2f} ms -> {'met' if worst < 10 else 'NOT met'}")


if __name__ == "__main__":
    main()
