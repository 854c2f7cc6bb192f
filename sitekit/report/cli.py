"""`sitekit report`: the fleet view of every country's evidence (text, JSON, or also an HTML page)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from sitekit.paths import state_dir


def register(subparsers: Any) -> None:
    r = subparsers.add_parser("report", help="fleet view of the evidence of every country")
    r.add_argument("--evidence", type=Path, help="evidence root (default: $SITEKIT_STATE/evidence)")
    r.add_argument("--json", action="store_true", help="print the fleet view as JSON")
    r.add_argument("--html", type=Path, metavar="DIR", help="also write DIR/fleet.html, one self-contained page")
    r.set_defaults(func=cmd_report)


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
