"""`sitekit verify`, `sitekit scan` and `sitekit report`: host evidence and the fleet view."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from sitekit.context import CommandContext, country_code
from sitekit.errors import CheckFailed, UserError
from sitekit.paths import state_dir


def _root(args: argparse.Namespace) -> Path:
    return CommandContext.of(args).root


def _inventory(args: argparse.Namespace) -> Path:
    """`--inventory`, else the lab's inventory with `--lab`, else the rendered `inventories/<cc>`."""
    if args.inventory:
        return Path(args.inventory).resolve()
    if args.lab:
        path: Path = CommandContext.of(args).state().lab / "inventory"
        if not path.exists():
            raise UserError(f"no lab inventory at {path}; run `sitekit lab up {args.cc}` first")
        return path
    return _root(args) / "inventories" / str(args.cc)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("cc", type=country_code, help="country code (ee, ke, cl, ...)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--inventory", "-i", type=Path, help="Ansible inventory (default: inventories/<cc>)")
    where.add_argument("--lab", action="store_true", help="use the lab's inventory ($SITEKIT_STATE/lab/<cc>)")
    p.add_argument("--limit", "-l", help="only these hosts or groups (comma-separated)")
    p.add_argument("--out", type=Path, help="evidence folder (default: $SITEKIT_STATE/evidence/<cc>/)")


def register(subparsers: Any) -> None:
    v = subparsers.add_parser(
        "verify",
        help="run the host checks (tests/hosts) against an inventory and write evidence per host",
        description="Run tests/hosts with testinfra against every host of the inventory, in parallel over "
        "persistent SSH connections; write <host>.json and <host>.junit.xml; exit 1 if a control failed.",
    )
    _common(v)
    v.add_argument("--jobs", "-j", type=int, default=8, help="hosts verified at once (default 8)")
    v.add_argument("--control", "-c", action="append", default=[], help="only this control ID (repeatable)")
    v.add_argument("--tests", type=Path, help="folder of host checks (default: <root>/tests/hosts)")
    v.add_argument("--timeout", type=int, default=900, help="seconds allowed per host (default 900)")
    v.add_argument("--keep-run-dir", action="store_true", help="keep the per-run folder (pytest logs)")
    v.set_defaults(func=cmd_verify)

    s = subparsers.add_parser(
        "scan",
        help="scan a host with OpenSCAP (SSG Debian 12, ANSSI-BP-028 enhanced) and explain every failure",
        description="Fetch Debian 13's ssg-debian (content for Debian 12) into the cache without touching this "
        "machine's apt sources, scan one host over SSH with oscap, count pass/fail/notapplicable and list "
        "every failure with its accepted reason (sitekit/openscap_accepted.yaml) or as unexplained.",
    )
    _common(s)
    s.add_argument("--host", help="host to scan (default: the first host of the inventory or --limit)")
    s.add_argument("--profile", default="anssi_bp28_enhanced", help="SSG profile (default anssi_bp28_enhanced)")
    s.add_argument("--accepted", type=Path, help="rule -> reason map (default sitekit/openscap_accepted.yaml)")
    s.add_argument(
        "--install-scanner", action="store_true", help="apt-get install openscap-scanner on the host if it lacks oscap"
    )
    s.add_argument("--fetch-only", action="store_true", help="only fetch the content and print its path")
    s.add_argument("--strict", action="store_true", help="exit 1 if any failure has no accepted reason")
    s.set_defaults(func=cmd_scan)

    r = subparsers.add_parser("report", help="fleet view of the evidence of every country")
    r.add_argument("--evidence", type=Path, help="evidence root (default: $SITEKIT_STATE/evidence)")
    r.add_argument("--json", action="store_true", help="print the fleet view as JSON")
    r.add_argument("--html", type=Path, metavar="DIR", help="also write DIR/fleet.html, one self-contained page")
    r.set_defaults(func=cmd_report)


def cmd_verify(args: argparse.Namespace) -> int:
    from sitekit.verify.evidence import summary_table
    from sitekit.verify.runner import VerifyOptions, verify

    root = _root(args)
    out = (args.out or CommandContext.of(args).state().evidence).resolve()
    opts = VerifyOptions(
        country=args.cc,
        inventory=_inventory(args),
        out_dir=out,
        tests_dir=(args.tests or root / "tests" / "hosts").resolve(),
        limit=args.limit,
        jobs=args.jobs,
        controls=args.control,
        timeout_s=args.timeout,
        keep_run_dir=args.keep_run_dir,
    )

    def progress(msg: str) -> None:
        sys.stderr.write(f"verify: {msg}\n")

    evidence = verify(opts, progress)
    print(summary_table(evidence))
    print(f"\nevidence: {out}/<host>.json and <host>.junit.xml")
    bad = [ev.host for ev in evidence if not ev.ok]
    if bad:
        raise CheckFailed(f"verify {args.cc}: controls failed or could not be checked on {', '.join(bad)}")
    return 0


def cmd_scan(args: argparse.Namespace) -> int:
    from sitekit.scan import openscap
    from sitekit.scan.content import fetch_content

    ds = fetch_content()
    if args.fetch_only:
        print(ds)
        return 0
    out = (args.out or CommandContext.of(args).state().evidence / "openscap").resolve()
    result = openscap.scan_inventory(
        inventory=_inventory(args),
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


def cmd_report(args: argparse.Namespace) -> int:
    import json

    from sitekit.report.fleet import fleet_view, render_fleet

    root = (args.evidence or state_dir() / "evidence").resolve()
    if args.html:
        from sitekit.fleetpage.cli import write_fleet_page

        write_fleet_page(args, root)
    view = fleet_view(root)
    if args.json:
        print(json.dumps(view, indent=2))
    else:
        print(render_fleet(view))
    return 0
