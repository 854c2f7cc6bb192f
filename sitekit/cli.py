"""The `sitekit` command.

Each area of sitekit registers its own subcommands (`register(subparsers)` in `<area>/cli.py`), so this
module only wires them together and maps outcomes to exit codes: 0 success, 1 a failed check or an
internal error, 2 bad input (an invalid spec or a usage error). Bad input never shows a traceback.
Every command gets its `CommandContext` (sitekit.context) here and runs through the journal's one wrapper
(sitekit.journal.wrap), which records state-changing commands in the country's operations journal.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path

from sitekit.context import CommandContext, country_code, default_root, default_sites
from sitekit.errors import CheckFailed, UserError
from sitekit.journal.wrap import run_journalled

__all__ = ["build_parser", "country_code", "default_root", "default_sites", "main"]

# Areas whose `cli.register` adds subcommands; an area that is absent from an install is skipped.
_AREAS = (
    "sitekit.spec.cli",
    "sitekit.render.cli",
    "sitekit.plan.cli",
    "sitekit.pki.cli",
    "sitekit.lab.cli",
    "sitekit.verify.cli",
    "sitekit.scan.cli",
    "sitekit.report.cli",
    "sitekit.pack.cli",
    "sitekit.engine.cli",
    "sitekit.access.cli",
    "sitekit.journal.cli",
)


class _Parser(argparse.ArgumentParser):
    """argparse exits 2 on usage errors already; keep its message but make it ours."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        sys.stderr.write(f"sitekit: error: {message}\n")
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    """The full parser; areas add their subcommands through `register`."""
    parser = _Parser(prog="sitekit", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--sites",
        type=Path,
        default=None,
        help="folder with the fleet spec (baseline.yaml plus one <cc>.yaml per country); default ./sites",
    )
    parser.add_argument(
        "--root",
        type=Path,
        default=None,
        help="project folder that receives rendered files (Pulumi.<cc>.yaml, inventories/); default .",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name in _AREAS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name and name.startswith(exc.name):
                continue
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        ctx = CommandContext.of(args)
        rc = run_journalled(ctx, list(sys.argv[1:] if argv is None else argv), lambda: int(args.func(args) or 0))
    except UserError as exc:
        sys.stderr.write(f"sitekit: {exc}\n")
        return 2
    except CheckFailed as exc:
        sys.stderr.write(f"sitekit: {exc}\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("sitekit: interrupted\n")
        return 130
    return int(rc or 0)


if __name__ == "__main__":
    raise SystemExit(main())
