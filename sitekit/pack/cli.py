"""`sitekit pack <cc> [--out DIR]` and `sitekit pack verify DIR|TARBALL [--key PEM | --fingerprint HEX]`."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

from sitekit.context import CommandContext, country_code
from sitekit.errors import UserError
from sitekit.paths import state_dir


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "pack",
        help="write a country's signed assurance pack (OSCAL, evidence, public keys), or verify one",
        description="`sitekit pack <cc>` writes <out>/<cc>-pack/ and <out>/<cc>-pack.tar.gz: OSCAL component "
        "definition and assessment results, the evidence, the public key material, the spec digest and the "
        "rendered stack config, and a manifest of SHA-256 digests signed by the country's signing key. "
        "`sitekit pack verify DIR` checks a pack folder or tarball offline with public material only.",
    )
    p.add_argument("target", metavar="CC|verify", help="country code, or `verify` to check a pack")
    p.add_argument("path", nargs="?", type=Path, help="with verify: the pack folder or .tar.gz")
    p.add_argument("--out", type=Path, help="where to write the pack (default: $SITEKIT_STATE/packs)")
    p.add_argument("--evidence", type=Path, help="the country's evidence (default: $SITEKIT_STATE/evidence/<cc>)")
    pin = p.add_mutually_exclusive_group()
    pin.add_argument("--key", type=Path, help="with verify: the country's published signing key (PEM) to pin")
    pin.add_argument("--fingerprint", help="with verify: SHA-256 of the country's published signing key to pin")
    p.set_defaults(func=_run, parser=p)


def _run(args: argparse.Namespace) -> int:
    if args.target == "verify":
        if args.path is None:
            args.parser.error("pack verify needs the pack folder or tarball")
        return _verify(args)
    if args.path is not None or args.key or args.fingerprint:
        args.parser.error("pack <cc> takes only --out and --evidence; to check a pack, use `sitekit pack verify DIR`")
    try:
        cc = country_code(args.target)
    except argparse.ArgumentTypeError as exc:
        args.parser.error(str(exc))
    return _pack(args, cc)


def _pack(args: argparse.Namespace, cc: str) -> int:
    from sitekit.pack.build import write_pack

    ctx = CommandContext.of(args)
    site = ctx.site(cc)
    evidence = (args.evidence or state_dir() / "evidence" / cc).resolve()
    out = (args.out or state_dir() / "packs").resolve()
    pack = write_pack(site, evidence, out, root=ctx.root, sites=ctx.sites)
    print(f"{cc}: {pack.files} files listed in a manifest signed with {cc}'s signing key, sha256:{pack.fingerprint}")
    for slot, reason in sorted(pack.absent.items()):
        print(f"  empty slot {slot}: {reason}")
    print(f"folder:  {pack.folder}\ntarball: {pack.tarball}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    from sitekit.pack.build import unpack
    from sitekit.pack.manifest import load_public_key, verify_pack

    path: Path = args.path
    key = None
    if args.key:
        try:
            key = load_public_key(Path(args.key).read_bytes(), str(args.key))
        except OSError as exc:
            raise UserError(f"{args.key}: cannot read the key: {exc}") from exc
    if path.is_file():
        with tempfile.TemporaryDirectory(prefix="sitekit-pack-") as tmp:
            result = verify_pack(unpack(path, Path(tmp)), trusted_key=key, trusted_fingerprint=args.fingerprint)
    elif path.is_dir():
        result = verify_pack(path, trusted_key=key, trusted_fingerprint=args.fingerprint)
    else:
        raise UserError(f"{path}: no such pack folder or tarball")
    print(f"{result.country}: pack verified, {result.files} files match the signed manifest")
    print(f"signing key sha256:{result.key_fingerprint}")
    if not result.pinned:
        print(
            "note: the key was taken from the pack itself, which proves integrity, not origin: compare the "
            "fingerprint above with the one the country published, or pass --key / --fingerprint"
        )
    for slot, reason in sorted(result.absent.items()):
        print(f"empty slot {slot}: {reason}")
    return 0
