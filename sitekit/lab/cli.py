"""The `sitekit lab` command: up, status and down of a country's local lab."""

from __future__ import annotations

import argparse
from typing import Any

from sitekit.context import CommandContext, country_code


def _up(args: argparse.Namespace) -> int:
    from sitekit.lab.lab import up

    if args.tier == "cluster":
        from sitekit.cluster.controlplane import up_cluster

        up_cluster(args.cc, CommandContext.of(args).sites)
        return 0
    only = tuple(n.strip() for n in (args.hosts or "").split(",") if n.strip())
    ctx = CommandContext.of(args)
    up(args.cc, args.tier, ctx.sites, ctx.root, only)
    return 0


def _status(args: argparse.Namespace) -> int:
    from sitekit.lab.lab import status

    print("\n".join(status(args.cc)))
    return 0


def _down(args: argparse.Namespace) -> int:
    from sitekit.lab.lab import down
    from sitekit.lab.state import known_labs

    for cc in [args.cc] if args.cc else known_labs():
        down(cc)
    return 0


def _deploy(args: argparse.Namespace) -> int:
    import sys

    from sitekit.lab.deploy import up

    stack, out = up(args.cc, CommandContext.of(args).root)
    sys.stdout.write(out)
    print(
        f'deployed {args.cc}\'s stack to its lab control plane. More pulumi commands: eval "$(sitekit engine env)"; '
        f"export PULUMI_BACKEND_URL=file://{stack.backend} PULUMI_CONFIG_PASSPHRASE_FILE={stack.passphrase_file}; "
        f"cd {stack.project}"
    )
    return 0


def register(subparsers: Any) -> None:
    """Add `sitekit lab up|status|down`."""
    lab = subparsers.add_parser("lab", help="local lab hosts (containers or VMs) for rehearsal and tests")
    sub = lab.add_subparsers(dest="lab_command", metavar="ACTION")
    sub.required = True
    p_up = sub.add_parser("up", help="start one lab host per spec host of a country")
    p_up.add_argument("cc", type=country_code, help="country code, e.g. ee")
    p_up.add_argument(
        "--tier",
        choices=("container", "vm", "cluster"),
        default="container",
        help="container: systemd-nspawn hosts (default, seconds); vm: QEMU VMs for kernel-level controls; "
        "cluster: a Kubernetes control plane with one simulated node per spec host (joins a running lab)",
    )
    p_up.add_argument("--hosts", default=None, help="only these spec hosts, comma-separated (default: all)")
    p_up.set_defaults(func=_up)
    p_status = sub.add_parser("status", help="show running labs")
    p_status.add_argument("cc", nargs="?", type=country_code, default=None, help="country code (default: all)")
    p_status.set_defaults(func=_status)
    p_down = sub.add_parser("down", help="remove a lab (all labs if no country is given)")
    p_down.add_argument("cc", nargs="?", type=country_code, default=None, help="country code (default: all)")
    p_down.set_defaults(func=_down)
    p_deploy = sub.add_parser(
        "deploy",
        help="pulumi up of the country's stack against its lab control plane (after lab up --tier cluster)",
    )
    p_deploy.add_argument("cc", type=country_code, help="country code, e.g. ee")
    p_deploy.set_defaults(func=_deploy)
