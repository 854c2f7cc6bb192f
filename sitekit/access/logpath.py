"""The log path: which hosts send their journal and audit records to which collector, on which port and
protocol, and how both ends authenticate.

Read from the firewall and logging roles' variables for each inventory host (`Expectations`, as a play
renders them), under the same conditions their templates use: the firewall (`10-sitekit.nft.j2`) opens an
output accept to `firewall_log_collector.address` tcp `firewall_log_port` on every host that is not the
collector (`firewall_log_collector_here`), and on the collector an input accept of that port from
`firewall_log_sources`; the logging role's rsyslog configuration sets both ends to TLS with
`logging_auth_mode`, the CA file `logging_ca_file` and the peer names `logging_permitted_peers`. A spec
without a `logging:` section renders an empty `sitekit_log_collector`, and the map then has no log path.
The issuing CA is the country's `logging` intermediate; its active generation is named when the key
state on this machine has one (public metadata and certificate only).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from cryptography import x509

from sitekit.access.hosts import InventoryHostVars, get_expected
from sitekit.access.model import LogPath
from sitekit.errors import UserError
from sitekit.hostchecks.expect import Expectations
from sitekit.pki.layout import Layout
from sitekit.pki.logcerts import PURPOSE

PROTOCOL = "tcp, syslog over TLS (RFC 5425, octet-counted), rsyslog's GnuTLS driver"


def _truth(value: Any) -> bool:
    """A rendered boolean: Ansible may hand a template's result back as text."""
    return value is True or str(value).strip().lower() in ("true", "yes", "1")


def issuing_ca(cc: str, keys_dir: Path) -> str:
    """The CA both ends trust: the country's logging intermediate, with its active generation if known here."""
    name = f"the {cc.upper()} logging intermediate (OU={PURPOSE}), the only CA either end trusts"
    layout = Layout(cc=cc, base=keys_dir)
    try:
        entry = (layout.load_meta().get("intermediates") or {}).get(PURPOSE) or {}
    except (OSError, ValueError) as exc:
        raise UserError(f"{layout.meta}: unreadable key state metadata: {exc}") from exc
    path = layout.cert_path(f"{PURPOSE}-{entry['active']}") if "active" in entry else None
    if path is None or not path.is_file():
        return f"{name}; no key state on this machine names its generation"
    try:
        cert = x509.load_pem_x509_certificate(path.read_bytes())
    except ValueError as exc:
        raise UserError(f"{path}: not a PEM certificate: {exc}") from exc
    return f"{name}; active generation {cert.subject.rfc4514_string()} until {cert.not_valid_after_utc:%Y-%m-%d}"


def log_path(
    hosts: Iterable[InventoryHostVars], expect_of: Mapping[str, Expectations], cc: str, keys_dir: Path
) -> LogPath | None:
    """The site's log path, or None when no host's firewall names a collector (no `logging:` in the spec)."""
    targets: dict[tuple[str, str, int], list[str]] = {}  # (collector, address, port) -> hosts that name it
    senders: list[str] = []
    require: set[str] = set()
    sources: tuple[str, ...] = ()
    accepts: tuple[str, ...] = ()
    auth, ca_file = "", ""
    for host in hosts:
        expect = expect_of[host.name]
        collector = get_expected(expect, "firewall_log_collector", host.name) or {}
        if not isinstance(collector, Mapping) or "address" not in collector:
            continue
        port = int(get_expected(expect, "firewall_log_port", host.name))
        targets.setdefault((str(collector.get("name")), str(collector["address"]), port), []).append(host.name)
        peers = tuple(str(p) for p in get_expected(expect, "logging_permitted_peers", host.name) or [])
        auth = auth or str(get_expected(expect, "logging_auth_mode", host.name))
        ca_file = ca_file or str(get_expected(expect, "logging_ca_file", host.name))
        if _truth(get_expected(expect, "firewall_log_collector_here", host.name)):
            sources = tuple(str(a) for a in get_expected(expect, "firewall_log_sources", host.name) or [])
            accepts = peers
        else:
            senders.append(host.name)
            require.update(peers)
    if not targets:
        return None
    if len(targets) > 1:
        shown = "; ".join(f"{n} {a}:{p} (named by {', '.join(h)})" for (n, a, p), h in sorted(targets.items()))
        raise UserError(f"the inventory's hosts name different log collectors: {shown}")
    ((name, address, port),) = targets
    return LogPath(
        collector=name,
        address=address,
        port=port,
        protocol=PROTOCOL,
        senders=tuple(sorted(senders)),
        accepted_sources=sources,
        authentication=(
            f"mutual TLS ({auth}): both ends present a certificate of the logging intermediate and accept only "
            "the other end's names"
        ),
        issuing_ca=issuing_ca(cc, keys_dir),
        ca_file=ca_file,
        collector_accepts=accepts,
        senders_require=tuple(sorted(require)),
    )
