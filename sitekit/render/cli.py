"""`sitekit render [--check] [cc ...]`."""

from __future__ import annotations

import argparse
from typing import Any

from sitekit.context import CommandContext, country_code
from sitekit.errors import CheckFailed
from sitekit.render import check, render


def _render(args: argparse.Namespace) -> int:
    ctx = CommandContext.of(args)
    fleet, root = ctx.fleet, ctx.root
    codes = list(args.cc) or None  # already lower case: `country_code`
    for cc in codes or []:
        fleet.site(cc)  # unknown code -> UserError before anything is written
    if args.check:
        drift = check(fleet, root, codes)
        if drift:
            lines = [f"  {path}: {why}" for path, why in drift]
            raise CheckFailed("rendered files differ from the fleet spec (run `sitekit render`):\n" + "\n".join(lines))
        print(f"rendered files under {root} match the fleet spec")
        return 0
    result = render(fleet, root, codes)
    for path in result.written:
        print(f"wrote     {path}")
    print(f"{len(result.written)} written, {len(result.unchanged)} unchanged under {root}")
    return 0


def register(sub: Any) -> None:
    """Add the render command."""
    p = sub.add_parser("render", help="render Pulumi.<cc>.yaml and inventories/<cc>/ from the fleet spec")
    p.add_argument("cc", nargs="*", type=country_code, help="countries to render (default: all)")
    p.add_argument("--check", action="store_true", help="write nothing; exit 1 naming files that differ")
    p.set_defaults(func=_render)
