"""The one place that journals commands: which commands change state, what they may write, and the record.

`sitekit.cli.main` runs every command through `run_journalled`. For a state-changing command it first makes
sure each country's journal can take a record (a torn tail stops the command before it acts: no change
that cannot be journalled), snapshots the folders the command may write, runs it, and appends one record
per country with the operator, the redacted command line, the spec digest, the result and the SHA-256 of
every file created or changed. A command that fails, is refused or interrupted is journalled too. After a
`keys` command a checkpoint is signed when the signing key is usable without a prompt (see `sign`).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sitekit.context import CommandContext, country_code
from sitekit.errors import CheckFailed, UserError
from sitekit.journal.artefacts import Stamp, Watch, changes, snapshot
from sitekit.journal.operator import operator_identity
from sitekit.journal.redact import redact

# `keys` subcommands that change the country's key state (the read-only ones are not journalled).
KEYS_JOURNALLED = frozenset(
    {
        "init",
        "rotate",
        "recover",
        "backup",
        "issue",
        "sign-user",
        "sign-host",
        "volume-key",
        "boot-password",
        "sign-artifact",
        "token-init",
    }
)


@dataclass
class Scope:
    """The countries a command acts on and, per country, what it may write."""

    command: str
    watches: dict[str, list[Watch]] = field(default_factory=dict)
    checkpoint: bool = False


def scope_of(ctx: CommandContext) -> Scope | None:
    """What to journal for the parsed command, or None for a command that changes no state."""
    a = ctx.args
    command = str(getattr(a, "command", ""))
    if command == "keys":
        sub = str(a.keys_command)
        if sub not in KEYS_JOURNALLED:
            return None
        watches = [Watch(ctx.state(a.cc).keys, secret=True)]
        if sub == "sign-artifact":
            watches += [Watch(Path(f).resolve().with_name(Path(f).name + ".sig")) for f in a.files]
        if sub == "sign-user" and a.output:
            watches.append(Watch(Path(a.output).resolve()))
        return Scope(f"keys {sub}", {a.cc: watches}, checkpoint=True)
    if command == "render":
        if a.check:
            return None
        try:
            codes = list(a.cc) or ctx.fleet.codes()
        except UserError:
            return None  # an invalid spec: render writes nothing and exits 2
        return Scope(
            "render",
            {cc: [Watch(ctx.root / f"Pulumi.{cc}.yaml"), Watch(ctx.root / "inventories" / cc)] for cc in codes},
        )
    if command == "plan":
        out = a.out.resolve() if a.out else ctx.root / "build" / "plan" / a.cc
        return Scope("plan", {a.cc: [Watch(out)]})
    if command in ("verify", "scan"):
        if command == "scan" and a.fetch_only:
            return None
        evidence = ctx.state(a.cc).evidence
        out = Path(a.out).resolve() if a.out else (evidence if command == "verify" else evidence / "openscap")
        return Scope(command, {a.cc: [Watch(out)]})
    if command == "lab" and a.lab_command == "deploy":
        # A `pulumi up` of the country's stack: its state (the self-managed backend) is what changes.
        deploy = ctx.state(a.cc).lab / "cluster" / "deploy"
        return Scope("lab deploy", {a.cc: [Watch(deploy / "backend"), Watch(deploy / "passphrase", secret=True)]})
    if command == "pack" and a.target != "verify":
        # The signed assurance pack leaves the site: its digests are journalled with the command.
        try:
            cc = country_code(a.target)
        except argparse.ArgumentTypeError:
            return None  # not a country code: the command refuses it (exit 2) and writes nothing
        out = Path(a.out).resolve() if a.out else ctx.state(cc).base / "packs"
        return Scope("pack", {cc: [Watch(out / f"{cc}-pack"), Watch(out / f"{cc}-pack.tar.gz")]})
    if command == "lab" and a.lab_command in ("up", "down"):
        if a.cc:
            codes = [a.cc]
        else:
            from sitekit.lab.state import known_labs

            codes = known_labs()
        return Scope(f"lab {a.lab_command}", {cc: _lab_watches(ctx, cc) for cc in codes})
    return None


def _lab_watches(ctx: CommandContext, cc: str) -> list[Watch]:
    """The lab's own files, not the hosts' root trees under it (large, and the hosts' business)."""
    lab = ctx.state(cc).lab
    return [
        Watch(lab / "state.json"),
        Watch(lab / "inventory"),
        Watch(lab / "ssh_config"),
        Watch(lab / "known_hosts"),
        Watch(lab / "ssh", secret=True),
    ]


def run_journalled(ctx: CommandContext, argv: Sequence[str], call: Callable[[], int]) -> int:
    """Run `call` (the command) and journal it if it changes state; exceptions pass through unchanged."""
    scope = scope_of(ctx)
    if scope is None:
        return call()
    if scope.command != "lab down":  # a lab may outlive its country's place in the spec
        for cc in scope.watches:
            _require_known(ctx, cc)
    for cc in scope.watches:
        ctx.journal(cc).require_appendable()
    before = {cc: snapshot(watches) for cc, watches in scope.watches.items()}
    started = time.monotonic()
    status, rc, message = "error", 1, ""
    try:
        rc = int(call() or 0)
        status = "ok" if rc == 0 else "failed"
    except UserError as exc:
        status, rc, message = "bad-input", 2, str(exc)
        raise
    except CheckFailed as exc:
        status, rc, message = "failed", 1, str(exc)
        raise
    except KeyboardInterrupt:
        status, rc, message = "interrupted", 130, "interrupted"
        raise
    except BaseException as exc:
        status, rc, message = "error", 1, f"{type(exc).__name__}: {exc}"
        raise
    finally:
        result: dict[str, Any] = {"status": status, "exit": rc}
        if message:
            result["message"] = " ".join(redact(message.splitlines()[0][:400].split(" ")))
        kept = _record(ctx, scope, argv, before, result, time.monotonic() - started)
    return rc if kept else 1


def _record(
    ctx: CommandContext,
    scope: Scope,
    argv: Sequence[str],
    before: dict[str, dict[Path, Stamp]],
    result: dict[str, Any],
    took: float,
) -> bool:
    """Append one record per country; sign a checkpoint after `keys`. False if a record could not be kept."""
    kept = True
    who = operator_identity()
    for cc, watches in scope.watches.items():
        entry = {
            "kind": "command",
            "command": ["sitekit", *redact(argv)],
            "operator": who,
            "spec_digest": _spec_digest(ctx, cc),
            "result": result,
            "artefacts": changes(watches, before[cc]),
            "seconds": round(took, 3),
        }
        journal = ctx.journal(cc)
        try:
            appended = journal.append_or_keep(entry)
        except OSError as exc:
            sys.stderr.write(f"sitekit: the journal of {cc} could not take this command's record: {exc}\n")
            kept = False
            continue
        if appended is None:
            sys.stderr.write(f"sitekit: journal of {cc} refused the record; kept in {journal.missed_path}\n")
            continue
        if scope.checkpoint:
            _checkpoint(ctx, cc, appended[0])
    return kept


def _checkpoint(ctx: CommandContext, cc: str, seq: int) -> None:
    from sitekit.journal.sign import SigningUnavailable, write_checkpoint

    try:
        write_checkpoint(ctx.journal(cc), ctx.site(cc))
    except (SigningUnavailable, UserError) as exc:
        sys.stderr.write(f"sitekit: journal record {seq} of {cc} is not yet under a signed checkpoint: {exc}\n")


def _require_known(ctx: CommandContext, cc: str) -> None:
    """An unknown country is bad input before anything runs, so no journal is started for it.

    With a spec that does not load, the command decides (verify and scan can run from an inventory alone).
    """
    try:
        codes = ctx.fleet.codes()
    except UserError:
        return
    if cc not in codes:
        ctx.site(cc)  # raises the fleet's own "no site 'zz' in the fleet (known: ...)"


def _spec_digest(ctx: CommandContext, cc: str) -> str | None:
    from sitekit.spec.loader import site_digest

    try:
        return site_digest(ctx.site(cc))
    except Exception:  # an invalid spec or unknown country: the record says so by having no digest
        return None
