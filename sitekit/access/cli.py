"""`sitekit access <cc> [--json]`: who holds which power over a country's site."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from sitekit.context import CommandContext, country_code


def register(subparsers: Any) -> None:
    """Add the `access` subcommand."""
    parser = subparsers.add_parser(
        "access",
        help="map who holds which power over a country's site (RBAC, SSH, sudo, keys, network paths)",
        description="Derive, from the spec, the rendered inventory and the planned Kubernetes objects, who holds "
        "which power: RBAC subjects with their verbs per namespace, SSH principals and sudo per host group, key "
        "custodians and the M-of-N to rebuild the root, who can obtain a recovery key or the Secrets data key, and "
        "every network path out of the cluster. Exit 1 if a finding is raised (ACCESS-*), 2 on bad input.",
    )
    parser.add_argument("cc", type=country_code, help="country code of the site, e.g. ee")
    parser.add_argument("--json", action="store_true", help="print the map as JSON (schema sitekit.access/v1)")
    parser.add_argument(
        "--inventory",
        type=Path,
        default=None,
        help="inventory to read (default <root>/inventories/<cc>; e.g. the lab's copy, which adds the login account)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the map; 1 if it raised a finding."""
    from sitekit.access.derive import derive_map, load_inputs
    from sitekit.access.report import render
    from sitekit.access.schema import to_json

    ctx = CommandContext.of(args)
    amap = derive_map(load_inputs(ctx.root, ctx.sites, args.cc, args.inventory))
    if args.json:
        sys.stdout.write(json.dumps(to_json(amap), indent=2, sort_keys=True) + "\n")
    else:
        sys.stdout.write(render(amap) + "\n")
    return 1 if amap.findings else 0
