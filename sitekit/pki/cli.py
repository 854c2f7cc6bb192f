"""`sitekit keys ...`: create, inspect, use, rotate and recover a country's keys.

No option takes a secret: the passphrase (`SITEKIT_KEY_PASSPHRASE`) and token PINs (`SITEKIT_PKCS11_PIN`,
`SITEKIT_PKCS11_SO_PIN`) come from the environment or a prompt. Commands that print secrets
(`encryption-config`) are meant for pipes (the `keys` role runs them with `no_log`).
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
import time
from pathlib import Path
from typing import Any

from sitekit.atomic import write_atomic
from sitekit.context import CommandContext, country_code
from sitekit.errors import CheckFailed
from sitekit.pki.layout import INTERMEDIATES, SSH_CAS
from sitekit.spec.models import Site


def _site(args: argparse.Namespace) -> Site:
    return CommandContext.of(args).site()


def _hierarchy(args: argparse.Namespace) -> Any:
    from sitekit.pki.hierarchy import Hierarchy

    return Hierarchy.open(_site(args))


def _init(args: argparse.Namespace) -> int:
    from sitekit.pki.custody import create_backup
    from sitekit.pki.token import init_softhsm_token, is_softhsm

    site = _site(args)
    started = time.perf_counter()
    if is_softhsm(site):
        label = init_softhsm_token(site)
        print(f"SoftHSM2 token {label} ready")
    from sitekit.pki.hierarchy import Hierarchy

    with Hierarchy.open(site) as h:
        created = h.init()
        if "root CA" in created or "custody" not in h.meta:
            shares = create_backup(h)
            if shares:
                print(f"root backup split {site.keys.threshold}-of-{len(shares)}; share files (SECRET, hand out):")
                for path in shares:
                    print(f"  {path}")
            else:
                print(f"custody: {h.meta['custody']['reason']}")
    took = time.perf_counter() - started
    if created:
        print(f"{site.cc}: created {', '.join(created)} ({site.keys.backend} backend, {took:.2f}s)")
    else:
        print(f"{site.cc}: key hierarchy already complete ({h.layout.base})")
    return 0


def _status(args: argparse.Namespace) -> int:
    from sitekit.pki.status import render, rows

    h = _hierarchy(args)
    table = rows(h)
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "kind": r.kind,
                        "name": r.name,
                        "state": r.state,
                        "not_after": r.not_after.isoformat() if r.not_after else None,
                        "warn": r.warn,
                    }
                    for r in table
                ],
                indent=2,
            )
        )
    else:
        print(f"{h.site.cc}: {h.meta.get('backend')} backend, state in {h.layout.base}")
        print(render(table))
        custody = h.meta.get("custody", {})
        if custody.get("mode") == "slip39":
            print(f"custody: SLIP-39 {custody['threshold']}-of-{custody['shares']} root backup")
            left = sorted((h.layout.custody / "shares").glob("*.txt"))
            if left:
                sys.stderr.write(
                    f"warning: {len(left)} share file(s) still on this controller ({left[0].parent}); "
                    "hand each to its custodian and delete it: together they restore the root\n"
                )
        elif custody:
            print("custody: no exportable backup (non-extractable root in the token)")
        from sitekit.pki.escrow import escrowed

        for item in escrowed(h):
            print(f"escrow: recovery key of {item.host} volume {item.volume}, sealed {item.created:%Y-%m-%d}")
        from sitekit.pki.bootpass import boot_passwords

        for boot in boot_passwords(h):
            print(f"escrow: boot-loader password of {boot.host}, sealed {boot.created:%Y-%m-%d}")
    for r in table:
        if r.kind == "ssh-ca:p384" and r.state == "active":
            ca = r.name.rsplit("-", 1)[0]
            sys.stderr.write(
                f"warning: {r.name} is an ECDSA P-384 SSH CA (ssh-audit fails NIST-curve CAs): "
                f"`sitekit keys rotate {args.cc} {ca}` makes an Ed25519 one\n"
            )
    warned = [r for r in table if r.warn]
    for r in warned:
        sys.stderr.write(f"warning: {r.kind} {r.name} expires {r.not_after:%Y-%m-%d}: rotate it\n")
    missing = h.missing_intermediates()
    for purpose in missing:
        sys.stderr.write(f"warning: no {purpose} intermediate yet: `sitekit keys init {args.cc}` adds it\n")
    if warned and args.strict:
        raise CheckFailed(f"{len(warned)} key(s) inside the rotation window")
    if missing and args.strict:
        raise CheckFailed(f"{len(missing)} intermediate(s) missing: {', '.join(missing)}")
    return 0


def _issue(args: argparse.Namespace) -> int:
    from sitekit.pki.hierarchy import leaf_slug

    names = list(args.name)
    with _hierarchy(args) as h:
        issued = h.issue(args.ca, names, args.profile, args.cn, args.org)
        slug = leaf_slug(names or [args.cn])
        cert_path, key_path = h.store_leaf(args.ca, slug, issued)
    print(f"certificate: {cert_path}\nkey:         {key_path}")
    return 0


def _rotate(args: argparse.Namespace) -> int:
    from sitekit.pki.datakeys import rotate_data_key

    with _hierarchy(args) as h:
        targets = list(INTERMEDIATES) if args.target == "intermediates" else [args.target]
        for target in targets:
            if target in SSH_CAS:
                from sitekit.pki.ssh import rotate_ca

                name = rotate_ca(h, target)
                print(f"{name} active; the previous CA stays trusted until the certificates it signed expire")
            elif target == "data-key":
                key_id = rotate_data_key(h)
                print(f"data key {key_id} active; older keys stay in the EncryptionConfiguration until they expire")
            else:
                name = h.rotate_intermediate(target)
                print(f"intermediate {name} active; older generations stay in the trust bundle until they expire")
    return 0


def _recover(args: argparse.Namespace) -> int:
    from sitekit.pki.custody import read_share, recover

    shares = [read_share(Path(p)) for p in args.share]
    if args.stdin:
        shares += [line.strip() for line in sys.stdin if line.strip() and not line.startswith("#")]
    with _hierarchy(args) as h:
        h.require()
        if not shares and sys.stdin.isatty():
            need = int(h.meta.get("custody", {}).get("threshold", 0))
            for i in range(need):
                shares.append(getpass.getpass(f"Share {i + 1} of {need} (words, not echoed): "))
        result = recover(h, shares)
    print(f"root key restored from {result['shares_used']} shares (threshold {result['threshold']})")
    return 0


def _backup(args: argparse.Namespace) -> int:
    from sitekit.pki.custody import create_backup

    with _hierarchy(args) as h:
        h.require()
        for path in create_backup(h):
            print(path)
        if h.meta["custody"]["mode"] != "slip39":
            print(f"custody: {h.meta['custody']['reason']}")
    return 0


def _read_text(path: str) -> str:
    return sys.stdin.read() if path == "-" else Path(path).read_text()


def _sign_user(args: argparse.Namespace) -> int:
    from sitekit.pki.ssh import sign_user

    with _hierarchy(args) as h:
        principals = args.principal or list(h.site.access.admin_principals)
        cert = sign_user(h, _read_text(args.pubkey), principals, args.identity, args.hours)
    if args.output:
        write_atomic(Path(args.output), cert)
    else:
        sys.stdout.write(cert)
    return 0


def _sign_host(args: argparse.Namespace) -> int:
    from sitekit.pki.ssh import sign_host

    with _hierarchy(args) as h:
        if args.json_stdin:
            request = json.load(sys.stdin)
            pubkey, existing = request["pubkey"], request.get("cert") or None
        else:
            pubkey, existing = _read_text(args.pubkey), (Path(args.existing).read_text() if args.existing else None)
        principals = list(args.principal)
        spec_host = next((x for x in h.site.hosts if x.name == args.host), None)
        if spec_host is not None:
            principals = [spec_host.name, str(spec_host.address), *principals]
        principals = list(dict.fromkeys(principals or [args.host]))
        sys.stdout.write(sign_host(h, pubkey, principals, args.host, existing))
    return 0


def _volume_key(args: argparse.Namespace) -> int:
    """Print a volume's recovery key (SECRET): for the keys role's LUKS tasks (no_log) and for recovery."""
    from sitekit.pki.escrow import recovery_key

    with _hierarchy(args) as h:
        key = recovery_key(h, args.host, args.volume, create=not args.no_create)
    if sys.stdout.isatty():
        sys.stderr.write("warning: this is the volume's recovery key; it is now on your screen\n")
    sys.stdout.write(key)
    return 0


def _boot_password(args: argparse.Namespace) -> int:
    """Print a host's boot-loader password (SECRET), for a console recovery; or its GRUB hash with --hash."""
    from sitekit.pki.bootpass import boot_hash, boot_password

    with _hierarchy(args) as h:
        if args.hash:
            sys.stdout.write(boot_hash(h, args.host, create=not args.no_create) + "\n")
            return 0
        password = boot_password(h, args.host, create=not args.no_create)
    if sys.stdout.isatty():
        sys.stderr.write("warning: this is the host's boot-loader password; it is now on your screen\n")
    sys.stdout.write(password)
    return 0


def _log_cert(args: argparse.Namespace) -> int:
    """Print a host's logging certificate, key (SECRET) and CA bundle as JSON: for the logging role (no_log)."""
    from sitekit.pki.logcerts import log_certificate

    with _hierarchy(args) as h:
        doc = log_certificate(h, args.host).as_document()
    if sys.stdout.isatty():
        sys.stderr.write("warning: this holds the host's private key; it is now on your screen\n")
    sys.stdout.write(json.dumps(doc) + "\n")
    return 0


def _bundle(args: argparse.Namespace) -> int:
    h = _hierarchy(args)
    h.require()
    sys.stdout.write((h.ca_bundle(args.ca) if args.ca else h.trust_bundle()).decode())
    return 0


def _public(args: argparse.Namespace) -> int:
    """Every public artefact the `keys` role needs, as one JSON document (nothing secret)."""
    from sitekit.pki.ssh import ca_public_lines, known_hosts_lines

    h = _hierarchy(args)
    h.require()
    doc = {
        "country": h.site.cc,
        "trust_bundle": h.trust_bundle().decode(),
        "ssh_user_ca": ca_public_lines(h, "ssh-user-ca"),
        "ssh_host_ca": ca_public_lines(h, "ssh-host-ca"),
        "known_hosts": known_hosts_lines(h),
        "ca_bundles": {p: h.ca_bundle(p).decode() for p in h.present_intermediates()},
    }
    missing = h.missing_intermediates()
    if missing:
        sys.stderr.write(
            f"warning: no {', '.join(missing)} intermediate in {h.site.cc}'s keys yet: "
            f"`sitekit keys init {h.site.cc}` adds it\n"
        )
    print(json.dumps(doc, indent=2))
    return 0


def _encryption_config(args: argparse.Namespace) -> int:
    from sitekit.pki.datakeys import encryption_config

    with _hierarchy(args) as h:
        sys.stdout.write(encryption_config(h))
    return 0


def _sign_artifact(args: argparse.Namespace) -> int:
    from sitekit.pki.artifacts import sign_artifact

    with _hierarchy(args) as h:
        for name in args.files:
            print(sign_artifact(h, Path(name)))
    return 0


def _verify_artifact(args: argparse.Namespace) -> int:
    from sitekit.pki.artifacts import verify_artifact

    h = _hierarchy(args)
    h.require()
    for name in args.files:
        verify_artifact(h, Path(name))
        print(f"{name}: signature good")
    return 0


def _token_init(args: argparse.Namespace) -> int:
    from sitekit.pki.token import init_softhsm_token

    print(f"SoftHSM2 token {init_softhsm_token(_site(args))} ready")
    return 0


def register(subparsers: Any) -> None:
    """Add `keys` and its subcommands."""
    keys = subparsers.add_parser("keys", help="the country's key hierarchy (CAs, SSH CAs, data keys, custody)")
    sub = keys.add_subparsers(dest="keys_command", metavar="ACTION")
    sub.required = True

    def cmd(name: str, func: Any, help_text: str) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("cc", type=country_code, help="country code, e.g. ee")
        p.set_defaults(func=func)
        return p

    cmd("init", _init, "create the hierarchy (root, intermediates, SSH CAs, signing and data keys) and custody")
    p = cmd("status", _status, "list every key and certificate with its expiry; warn inside the rotation window")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--strict", action="store_true", help="exit 1 if anything is inside the rotation window")
    p = cmd("issue", _issue, "issue a leaf certificate from an intermediate (key kept 0600 in the state dir)")
    p.add_argument("--ca", choices=INTERMEDIATES, default="ingress", help="issuing intermediate")
    p.add_argument("--name", action="append", default=[], help="DNS name or IP address (repeat)")
    p.add_argument("--profile", choices=("server", "client", "peer"), default="server", help="key usage profile")
    p.add_argument("--cn", default=None, help="common name (default: the first name)")
    p.add_argument("--org", default=None, help="organization (Kubernetes reads it as the group)")
    p = cmd("rotate", _rotate, "rotate an intermediate or the data key, keeping the old one during the overlap")
    p.add_argument("target", choices=(*INTERMEDIATES, "intermediates", "data-key", *SSH_CAS), help="what to rotate")
    p = cmd("recover", _recover, "recovery ceremony: rebuild the root from at least M custodian shares")
    p.add_argument("--share", action="append", default=[], help="file holding one share (repeat)")
    p.add_argument("--stdin", action="store_true", help="read shares from stdin, one per line")
    cmd("backup", _backup, "split a new M-of-N backup of the root among the spec's custodians")
    p = cmd("sign-user", _sign_user, "sign an SSH user certificate (short-lived)")
    p.add_argument("pubkey", help="OpenSSH public key file, or - for stdin")
    p.add_argument("--principal", action="append", default=[], help="principal (repeat; default admin principals)")
    p.add_argument("--identity", required=True, help="who the certificate is for (key id, in sshd logs)")
    p.add_argument("--hours", type=int, default=None, help="lifetime, at most the spec's ssh_user_cert_hours")
    p.add_argument("-o", "--output", default=None, help="write the certificate here instead of stdout")
    p = cmd("sign-host", _sign_host, "sign (or keep) an SSH host certificate for a host's public key")
    p.add_argument("--host", required=True, help="host name from the spec (principals: name and address)")
    p.add_argument("--principal", action="append", default=[], help="extra principal (repeat)")
    p.add_argument("--pubkey", default="-", help="host public key file or - (stdin)")
    p.add_argument("--existing", default=None, help="current certificate file, kept if still good")
    p.add_argument("--json-stdin", action="store_true", help='read {"pubkey": ..., "cert": ...} from stdin')
    p = cmd("volume-key", _volume_key, "print a host volume's recovery key (SECRET), escrowing a new one first")
    p.add_argument("--host", required=True, help="host name from the spec")
    p.add_argument("--volume", default="models", help="volume name (default: models)")
    p.add_argument("--no-create", action="store_true", help="fail instead of escrowing a new key")
    p = cmd(
        "boot-password",
        _boot_password,
        "print a host's GRUB superuser password (SECRET), creating and sealing one first; --hash: its GRUB hash",
    )
    p.add_argument("--host", required=True, help="host name from the spec")
    p.add_argument("--hash", action="store_true", help="print GRUB's PBKDF2 hash instead (what the host gets)")
    p.add_argument("--no-create", action="store_true", help="fail instead of creating a new password")
    p = cmd("log-cert", _log_cert, "print a host's log-path certificate, key (SECRET) and CA as JSON (kept while good)")
    p.add_argument("--host", required=True, help="host name from the spec (the collector gets the server leaf)")
    p = cmd("bundle", _bundle, "print the trust bundle (root and valid intermediates) or one CA's bundle")
    p.add_argument("--ca", choices=INTERMEDIATES, default=None, help="only this intermediate's generations")
    cmd("public", _public, "print every public artefact (bundles, SSH CA keys, known_hosts) as JSON")
    cmd("encryption-config", _encryption_config, "print the Kubernetes EncryptionConfiguration (SECRET)")
    p = cmd("sign-artifact", _sign_artifact, "sign model artifacts with the country's signing key (<file>.sig)")
    p.add_argument("files", nargs="+", help="files to sign")
    p = cmd("verify-artifact", _verify_artifact, "verify model artifacts against their <file>.sig")
    p.add_argument("files", nargs="+", help="files to verify")
    cmd("token-init", _token_init, "create the country's SoftHSM2 token in the state dir (lab only)")
