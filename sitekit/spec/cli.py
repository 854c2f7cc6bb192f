"""`sitekit validate`, `sitekit show <cc>` and `sitekit schema`."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import yaml

from sitekit.context import CommandContext, country_code
from sitekit.spec.loader import site_digest
from sitekit.spec.models import Site


def _validate(args: argparse.Namespace) -> int:
    ctx = CommandContext.of(args)
    folder, fleet = ctx.sites, ctx.fleet
    for cc in fleet.codes():
        site = fleet.site(cc)
        print(
            f"ok  {cc}  {site.identity.name:<12} hosts={len(site.hosts)} gpus={site.gpu_capacity} "
            f"models={len(site.models)} tenants={len(site.tenants)} digest={site_digest(site)[:12]}"
        )
    print(f"fleet spec in {folder} is valid: {len(fleet.sites)} countries")
    return 0


def _show(args: argparse.Namespace) -> int:
    site = CommandContext.of(args).site()
    data = site.model_dump(mode="json")
    if args.format == "json":
        print(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False))
    else:
        sys.stdout.write(yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=4096))
    return 0


def _drop_required(node: Any) -> Any:
    """An overlay may leave any field to the baseline, so its schema requires nothing."""
    if isinstance(node, dict):
        return {k: _drop_required(v) for k, v in node.items() if k != "required"}
    if isinstance(node, list):
        return [_drop_required(v) for v in node]
    return node


def site_schema(overlay: bool = False) -> dict[str, Any]:
    """JSON schema of a resolved site, or of an overlay file (nothing required)."""
    schema = Site.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "sitekit site overlay" if overlay else "sitekit site"
    return _drop_required(schema) if overlay else schema


def _schema(args: argparse.Namespace) -> int:
    print(json.dumps(site_schema(args.overlay), indent=2, sort_keys=True))
    return 0


def register(sub: Any) -> None:
    """Add the spec commands."""
    p = sub.add_parser("validate", help="validate the fleet spec (every error, with file and field)")
    p.set_defaults(func=_validate)
    p = sub.add_parser("show", help="print one country's resolved site (baseline plus overlay)")
    p.add_argument("cc", type=country_code, help="country code, e.g. ee")
    p.add_argument("--format", choices=("yaml", "json"), default="yaml")
    p.set_defaults(func=_show)
    p = sub.add_parser("schema", help="print the JSON schema of a site file, for editors")
    p.add_argument("--overlay", action="store_true", help="schema for an overlay file: no field is required")
    p.set_defaults(func=_schema)
