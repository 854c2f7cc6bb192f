"""`sitekit scan`: scan a host with OpenSCAP and explain every failure."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from sitekit.context import CommandContext
from sitekit.errors import CheckFailed
from sitekit.targets import add_target_args, inventory_of


def register(subparsers: Any) -> None:
    s = subparsers.add_parser(
        "scan",
        help="scan a host with OpenSCAP (SSG Debian 12, ANSSI-BP-028 enhanced) and explain every failure",
        description="Fetch Debian 13's ssg-debian (content for Debian 12) into the cache without touching this "
        "machine's apt sources, scan one host over SSH with oscap, count pass/fail/notapplicable and list "
        "every failure with its accepted reason (sitekit/openscap_accepted.yaml) or as unexplained.",
    )
    add_target_args(s)
    s.add_argument("--host", help="host to scan (default: the first host of the inventory or --limit)")
    s.add_argument("--profile", default="anssi_bp28_enhanced", help="SSG profile (default anssi_bp28_enhanced)")
    s.add_argument("--accepted", type=Path, help="rule -> reason map (default sitekit/openscap_accepted.yaml)")
    s.add_argument(
        "--install-scanner", action="store_true", help="apt-get install openscap-scanner on the host if it lacks oscap"
    )
    s.add_argument("--fetch-only", action="store_true", help="only fetch the content and print its path")
    s.add_argument("--strict", action="store_true", help="exit 1 if any failure has no accepted reason")
    s.set_defaults(func=cmd_scan)


def cmd_scan(args: argparse.Namespace) -> int:
    from sitekit.scan import openscap
    from sitekit.scan.content import fetch_content

    ds = fetch_content()
    if args.fetch_only:
        print(ds)
        return 0
    out = (args.out or CommandContext.of(args).state().evidence / "openscap").resolve()
    result = openscap.scan_inventory(
        inventory=inventory_of(args),
        host=args.host,
        limit=args.limit,
        datastream=ds,
        profile=args.profile,
        out_dir=out,
        accepted=args.accepted,
        install_scanner=args.install_scanner,
    )
    print(openscap.render_summary(result))
    if args.strict and result.unexplained:
        raise CheckFailed(f"scan {args.cc}: {len(result.unexplained)} failing rules have no accepted reason")
    return 0
