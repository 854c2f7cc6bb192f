"""`sitekit journal verify|show|checkpoint|repair|append <cc>`: read, check, anchor and repair the journal."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from sitekit.context import CommandContext, country_code
from sitekit.errors import CheckFailed, UserError


def _verify(args: argparse.Namespace) -> int:
    from sitekit.journal.sign import public_key_path
    from sitekit.journal.verify import load_public_key, verify

    ctx = CommandContext.of(args)
    journal = ctx.journal()
    if not journal.path.exists() and not journal.torn():
        raise UserError(f"no journal for {args.cc} at {journal.path}")
    key_path = Path(args.public_key) if args.public_key else public_key_path(args.cc)
    public = load_public_key(key_path) if (args.public_key or key_path.exists()) else None
    report = verify(journal, public, [Path(p) for p in args.checkpoint])
    if args.json:
        print(
            json.dumps(
                {
                    "country": args.cc,
                    "ok": report.ok,
                    "records": len(report.records),
                    "checkpoints": report.checkpoints,
                    "anchored": report.anchored,
                    "first_bad_record": report.first_bad,
                    "problems": [{"record": p.record, "what": p.what} for p in report.problems],
                    "warnings": report.warnings,
                },
                indent=2,
            )
        )
    else:
        for record in report.records:
            print(_line(record))
        for warning in report.warnings:
            print(f"note: {warning}")
        print(
            f"journal of {args.cc}: {len(report.records)} records, {report.checkpoints} checkpoint(s), "
            f"{_anchored(report.anchored)} under a signed checkpoint"
            + (f" (public key {key_path})" if public is not None else "")
        )
    if not report.ok:
        lines = [f"  {p.what}" for p in report.problems]
        first = f"first bad record: {report.first_bad}\n" if report.first_bad else ""
        raise CheckFailed(f"journal of {args.cc} does not verify:\n{first}" + "\n".join(lines))
    if not args.json:
        checked = "every link and every checkpoint" if report.checkpoints else "every link (no checkpoint to check)"
        print(f"journal of {args.cc} verifies: {checked} checked")
    return 0


def _show(args: argparse.Namespace) -> int:
    from sitekit.journal.records import RecordError, parse

    journal = CommandContext.of(args).journal()
    lines, torn = journal.lines()
    shown: list[dict[str, Any]] = []
    for number, line in enumerate(lines, start=1):
        try:
            record = parse(line)
        except RecordError as exc:
            record = {"seq": number, "unreadable": str(exc)}
        if _after(record, args.since):
            shown.append(record)
    if args.json:
        print(json.dumps(shown, indent=2, ensure_ascii=False))
    else:
        for record in shown:
            print(_line(record))
    anchored = _last_checkpoint(journal.checkpoints)
    sys.stderr.write(
        f"{len(lines)} records; {_anchored(anchored)} under a signed checkpoint (`journal verify` checks it)\n"
    )
    if torn is not None:
        sys.stderr.write(f"warning: torn tail of {torn.size} bytes after record {len(lines)}: run journal repair\n")
    if journal.missed():
        sys.stderr.write(f"warning: records kept in {journal.missed_path} wait for `journal repair`\n")
    return 0


def _anchored(count: int) -> str:
    return f"records 1..{count}" if count else "none"


def _after(record: dict[str, Any], since: str | None) -> bool:
    if not since:
        return True
    if since.isdigit():
        return int(record.get("seq", 0)) >= int(since)
    return str(record.get("time", "")) >= since


def _last_checkpoint(folder: Path) -> int:
    """Largest record count among checkpoint file names (unverified; `verify` checks them)."""
    sizes = [int(p.stem) for p in folder.glob("*.ckpt") if p.stem.isdigit()] if folder.is_dir() else []
    return max(sizes, default=0)


def _line(record: dict[str, Any]) -> str:
    """One record as a line for people."""
    if record.get("unreadable"):
        return f"{record.get('seq', '?'):>5}  UNREADABLE"
    who = record.get("operator", {}) or {}
    user = str(who.get("user", "?"))
    if who.get("sudo_user"):
        user += f"(sudo from {who['sudo_user']})"
    cert = who.get("ssh_certificate") or {}
    if cert.get("key_id"):
        user += f"[cert {cert['key_id']}]"
    kind = record.get("kind")
    if kind == "command":
        what = " ".join(record.get("command", [])[1:])
        result = record.get("result", {}).get("status", "?")
        files = len(record.get("artefacts", []))
        detail = f"{what}  -> {result}, {files} file(s)"
    elif kind == "ansible":
        hosts = record.get("hosts", {})
        changed = sorted({c for h in hosts.values() for c in h.get("changed_controls", [])})
        detail = (
            f"ansible play {record.get('play')!r} on {len(hosts)} host(s); changed {', '.join(changed) or 'nothing'}"
        )
    else:
        detail = str(kind)
    return f"{record.get('seq', '?'):>5}  {record.get('time', '?')}  {user:<16} {detail}"


def _checkpoint(args: argparse.Namespace) -> int:
    from sitekit.journal.sign import SigningUnavailable, write_checkpoint

    ctx = CommandContext.of(args)
    try:
        path = write_checkpoint(ctx.journal(), ctx.site())
    except SigningUnavailable as exc:
        raise UserError(f"no checkpoint written: {exc}") from exc
    print(f"checkpoint {path}")
    return 0


def _repair(args: argparse.Namespace) -> int:
    from sitekit.journal.operator import operator_identity

    done = CommandContext.of(args).journal().repair(operator_identity())
    for line in done or ["nothing to repair: no torn tail and no kept records"]:
        print(line)
    return 0


def _append(args: argparse.Namespace) -> int:
    """Machine interface: one JSON object on stdin becomes a record (kind must be given, e.g. ansible)."""
    from sitekit.journal.operator import operator_identity

    try:
        entry = json.loads(sys.stdin.read())
    except json.JSONDecodeError as exc:
        raise UserError(f"journal append: stdin is not JSON: {exc}") from exc
    if not isinstance(entry, dict) or not isinstance(entry.get("kind"), str) or entry["kind"] == "command":
        raise UserError("journal append: give a JSON object with a 'kind' other than 'command'")
    for reserved in ("v", "seq", "prev", "country", "operator"):
        entry.pop(reserved, None)
    entry["operator"] = operator_identity()
    appended = CommandContext.of(args).journal().append_or_keep(entry)
    print(json.dumps({"seq": appended[0], "hash": appended[1]} if appended else {"kept": True}))
    return 0


def register(subparsers: Any) -> None:
    """Add `sitekit journal ...`."""
    journal = subparsers.add_parser("journal", help="the country's tamper-evident operations journal")
    sub = journal.add_subparsers(dest="journal_command", metavar="ACTION")
    sub.required = True
    p = sub.add_parser("verify", help="check every link and checkpoint (public key only); name the first bad record")
    p.add_argument("cc", type=country_code, help="country code, e.g. ee")
    p.add_argument("--public-key", default=None, help="signing key's public PEM (default: from the key state)")
    p.add_argument(
        "--checkpoint",
        action="append",
        default=[],
        help="a checkpoint you kept from an earlier look (repeat); it must still hold",
    )
    p.add_argument("--json", action="store_true", help="machine-readable result")
    p.set_defaults(func=_verify)
    p = sub.add_parser("show", help="print the journal's records")
    p.add_argument("cc", type=country_code, help="country code, e.g. ee")
    p.add_argument("--since", default=None, help="from this record number, or this UTC time (2026-12-02T08:00)")
    p.add_argument("--json", action="store_true", help="records as JSON")
    p.set_defaults(func=_show)
    p = sub.add_parser("checkpoint", help="sign a checkpoint of the journal's head with the country's signing key")
    p.add_argument("cc", type=country_code, help="country code, e.g. ee")
    p.set_defaults(func=_checkpoint)
    p = sub.add_parser("repair", help="move a torn tail aside (kept) and chain kept records; journals itself")
    p.add_argument("cc", type=country_code, help="country code, e.g. ee")
    p.set_defaults(func=_repair)
    p = sub.add_parser("append", help="machine interface: append one JSON record from stdin (Ansible callback)")
    p.add_argument("cc", type=country_code, help="country code, e.g. ee")
    p.set_defaults(func=_append)
