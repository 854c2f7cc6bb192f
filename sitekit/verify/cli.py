"""`sitekit verify`: run the host checks against an inventory and write evidence per host."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from sitekit.context import CommandContext
from sitekit.errors import CheckFailed
from sitekit.targets import add_target_args, inventory_of


def register(subparsers: Any) -> None:
    v = subparsers.add_parser(
        "verify",
        help="run the host checks (tests/hosts) against an inventory and write evidence per host",
        description="Run tests/hosts with testinfra against every host of the inventory, in parallel over "
        "persistent SSH connections; write <host>.json and <host>.junit.xml; exit 1 if a control failed.",
    )
    add_target_args(v)
    v.add_argument("--jobs", "-j", type=int, default=8, help="hosts verified at once (default 8)")
    v.add_argument("--control", "-c", action="append", default=[], help="only this control ID (repeatable)")
    v.add_argument("--tests", type=Path, help="folder of host checks (default: <root>/tests/hosts)")
    v.add_argument("--timeout", type=int, default=900, help="seconds allowed per host (default 900)")
    v.add_argument("--keep-run-dir", action="store_true", help="keep the per-run folder (pytest logs)")
    v.set_defaults(func=cmd_verify)


def cmd_verify(args: argparse.Namespace) -> int:
    from sitekit.verify.evidence import summary_table
    from sitekit.verify.runner import VerifyOptions, verify

    ctx = CommandContext.of(args)
    root = ctx.root
    out = (args.out or ctx.state().evidence).resolve()
    opts = VerifyOptions(
        country=args.cc,
        inventory=inventory_of(args),
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
