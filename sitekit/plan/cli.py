"""`sitekit plan <cc>`: the country's cluster as manifests, checked offline."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from sitekit.context import CommandContext, country_code
from sitekit.errors import CheckFailed, UserError


def register(subparsers: Any) -> None:
    """Add the `plan` subcommand."""
    parser = subparsers.add_parser(
        "plan",
        help="run the stack program under mocks, write manifests and check them offline",
        description="Run stacks/ under recording Pulumi mocks (no cluster, no Pulumi CLI), write every "
        "Kubernetes object as a manifest, then check schemas (strict, the site's Kubernetes version), "
        "the sitekit policies and network reachability. Exit 1 if any check fails.",
    )
    parser.add_argument("cc", type=country_code, help="country code of the site, e.g. ee")
    parser.add_argument("--out", type=Path, default=None, help="manifest folder; default <root>/build/plan/<cc>/")
    parser.add_argument("--program", type=Path, default=None, help="stack program folder; default <root>/stacks")
    parser.add_argument("-v", "--verbose", action="store_true", help="also print what every pod can reach")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Plan one country; print the summary; raise `CheckFailed` if anything failed."""
    from sitekit.plan.program import rendered_config
    from sitekit.plan.report import render
    from sitekit.plan.runner import plan_site, require_ok
    from sitekit.spec import site_digest

    ctx = CommandContext.of(args)
    root, site = ctx.root, ctx.site()
    out = args.out.resolve() if args.out else root / "build" / "plan" / site.cc
    program = args.program.resolve() if args.program else root / "stacks"
    stack_file = root / f"Pulumi.{site.cc}.yaml"
    config = rendered_config(stack_file)
    try:
        result = plan_site(site, out, program, config)
    except (CheckFailed, UserError):
        raise
    except Exception as exc:
        raise CheckFailed(f"the stack program refused {stack_file.name}: {exc}") from exc
    if config.get("sitekit:specDigest") != site_digest(site):
        raise CheckFailed(
            f"{stack_file.name} was not rendered from the current spec (its sitekit:specDigest differs from "
            f"sites/): run `sitekit render {site.cc}`"
        )
    sys.stdout.write(render(result, verbose=args.verbose) + "\n")
    require_ok(result)
    return 0
