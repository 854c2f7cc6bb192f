"""`sitekit report --html DIR`: gather the fleet's state and write the page (called by `sitekit report`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sitekit.errors import UserError


def write_fleet_page(args: argparse.Namespace, evidence_root: Path) -> Path:
    """Write `<args.html>/fleet.html` for the fleet spec of `args` and the evidence under `evidence_root`."""
    from sitekit.cli import default_root, default_sites
    from sitekit.fleetpage.html import write_page
    from sitekit.fleetpage.model import gather
    from sitekit.spec import SpecError, load_fleet

    try:
        fleet = load_fleet(default_sites(args))
    except SpecError as exc:
        raise UserError(str(exc)) from exc
    path = write_page(gather(fleet, default_root(args), evidence_root), Path(args.html).resolve())
    sys.stderr.write(f"report: fleet page written to {path}\n")
    return path
