"""One command's context: the country code, the fleet and site, the state paths and the journal.

Every area's CLI takes these from here, so there is one rule for each: a country code is parsed by
`sitekit.spec.codes` (two ASCII letters, either case, never a path), the fleet is loaded once per command
from `--sites`, a country's state folders come from `sitekit.paths.country_state`, and its operations
journal is `journal(cc)`. `sitekit.cli` builds the context before a command runs; the areas never import
`sitekit.cli` (which imports them).
"""

from __future__ import annotations

import argparse
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from sitekit.errors import UserError
from sitekit.paths import CountryState, country_state, repo_root
from sitekit.spec.codes import CountryCodeError
from sitekit.spec.codes import country_code as _country_code

if TYPE_CHECKING:
    from sitekit.journal.store import Journal
    from sitekit.spec.loader import Fleet
    from sitekit.spec.models import Site


def country_code(text: str) -> str:
    """argparse `type=` for every command's country argument: `ee` or `EE` give `ee`; anything else exits 2.

    One rule for all commands (`sitekit.spec.codes.country_code`), so `verify`, `lab` or `keys` never
    take `../etc` or `eee` as a country and put it in a path.
    """
    try:
        return _country_code(text)
    except CountryCodeError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def default_root(args: argparse.Namespace) -> Path:
    """Where rendered files go: `--root`, else the current folder if it holds sites/, else the checkout."""
    if getattr(args, "root", None):
        return Path(args.root).resolve()
    cwd = Path.cwd()
    if (cwd / "sites").is_dir():
        return cwd
    return repo_root()


def default_sites(args: argparse.Namespace) -> Path:
    """The fleet spec folder: `--sites`, else `<root>/sites`."""
    if getattr(args, "sites", None):
        return Path(args.sites).resolve()
    return default_root(args) / "sites"


class CommandContext:
    """What a command needs about where it runs, built once per command (`CommandContext.of(args)`)."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.root = default_root(args)
        self.sites = default_sites(args)

    @classmethod
    def of(cls, args: argparse.Namespace) -> CommandContext:
        """The context `sitekit.cli` attached to `args`, or a new one (for a caller that built `args` itself)."""
        ctx = getattr(args, "ctx", None)
        if isinstance(ctx, CommandContext):
            return ctx
        ctx = cls(args)
        args.ctx = ctx
        return ctx

    @property
    def cc(self) -> str | None:
        """The command's country code, if it takes one (already checked by `country_code`)."""
        value = getattr(self.args, "cc", None)
        return value if isinstance(value, str) else None

    @cached_property
    def fleet(self) -> Fleet:
        """The fleet spec, loaded and checked once; `SpecError` (a `UserError`) names file and field."""
        from sitekit.spec.loader import load_fleet

        return load_fleet(self.sites)

    def site(self, cc: str | None = None) -> Site:
        """One country's resolved site (the command's own country by default); unknown codes are bad input."""
        code = cc or self.cc
        if code is None:
            raise UserError("this command needs a country code")
        return self.fleet.site(code)

    def state(self, cc: str | None = None) -> CountryState:
        """The state folders (keys, lab, evidence, journal) of a country."""
        code = cc or self.cc
        if code is None:
            raise UserError("this command needs a country code")
        return country_state(code)

    def journal(self, cc: str | None = None) -> Journal:
        """The country's operations journal."""
        from sitekit.journal.store import Journal

        state = self.state(cc)
        return Journal(state.cc, state.journal)
