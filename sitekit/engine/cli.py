"""The `sitekit engine` command: build the Pulumi engine, and print the environment that runs it."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def _build(args: argparse.Namespace) -> int:
    from sitekit.engine.engine import ensure_engine

    engine = ensure_engine(log=lambda line: print(f"  {line}", file=sys.stderr, flush=True))
    for build in engine.builds:
        how = "cached" if build.cached else "built"
        print(f"{build.tool:28} {build.version:28} {how:6} {build.seconds:8.1f}s  {build.folder}")
    print(f"{'bin':28} {engine.bin_dir}")
    print(f"{'PULUMI_HOME':28} {engine.pulumi_home} (resource-kubernetes-v{engine.kubernetes_version} installed)")
    return 0


def _env(args: argparse.Namespace) -> int:
    from sitekit.engine.engine import default_backend_url, ensure_engine, shell_exports

    engine = ensure_engine()
    print(shell_exports(engine.variables(args.backend or default_backend_url())))
    print("# stack secrets: export PULUMI_CONFIG_PASSPHRASE_FILE=<file holding the passphrase> (not printed here)")
    return 0


def register(subparsers: Any) -> None:
    """Add `sitekit engine build|env`."""
    engine = subparsers.add_parser("engine", help="the Pulumi engine, built from Go modules and run offline")
    sub = engine.add_subparsers(dest="engine_command", metavar="ACTION")
    sub.required = True
    p_build = sub.add_parser("build", help="build (or find cached) the pulumi CLI, language host and k8s provider")
    p_build.set_defaults(func=_build)
    p_env = sub.add_parser("env", help="print `export` lines that run pulumi offline (no secrets)")
    p_env.add_argument("--backend", default=None, help="backend URL (default file://$SITEKIT_STATE/pulumi)")
    p_env.set_defaults(func=_env)
