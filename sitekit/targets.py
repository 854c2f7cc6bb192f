"""The hosts a command works on: a country, its inventory (`--inventory`, `--lab` or the rendered one),
`--limit` and the evidence folder `--out`. Shared by `sitekit verify` and `sitekit scan`."""

from __future__ import annotations

import argparse
from pathlib import Path

from sitekit.context import CommandContext, country_code
from sitekit.errors import UserError


def add_target_args(p: argparse.ArgumentParser) -> None:
    """The country code, where its inventory is, which hosts, and where the evidence goes."""
    p.add_argument("cc", type=country_code, help="country code (ee, ke, cl, ...)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--inventory", "-i", type=Path, help="Ansible inventory (default: inventories/<cc>)")
    where.add_argument("--lab", action="store_true", help="use the lab's inventory ($SITEKIT_STATE/lab/<cc>)")
    p.add_argument("--limit", "-l", help="only these hosts or groups (comma-separated)")
    p.add_argument("--out", type=Path, help="evidence folder (default: $SITEKIT_STATE/evidence/<cc>/)")


def inventory_of(args: argparse.Namespace) -> Path:
    """`--inventory`, else the lab's inventory with `--lab`, else the rendered `inventories/<cc>`."""
    if args.inventory:
        return Path(args.inventory).resolve()
    ctx = CommandContext.of(args)
    if args.lab:
        path: Path = ctx.state().lab / "inventory"
        if not path.exists():
            raise UserError(f"no lab inventory at {path}; run `sitekit lab up {args.cc}` first")
        return path
    return ctx.root / "inventories" / str(args.cc)
