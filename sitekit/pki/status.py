"""What a country's key state holds, with expiries; read from public files only (no PIN, no passphrase)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cryptography import x509

from sitekit.pki.datakeys import valid_data_keys
from sitekit.pki.hierarchy import Hierarchy, load_cert, now
from sitekit.pki.layout import ROOT
from sitekit.pki.ssh import ca_key_type


@dataclass(frozen=True)
class Row:
    """One key or certificate."""

    kind: str
    name: str
    state: str  # active | overlap | expired | key
    not_after: dt.datetime | None
    warn: bool

    @property
    def days_left(self) -> int | None:
        return None if self.not_after is None else (self.not_after - now()).days


def _row(kind: str, name: str, state: str, not_after: dt.datetime | None, window: dt.timedelta) -> Row:
    moment = now()
    warn = not_after is not None and state == "active" and not_after - moment <= window
    if not_after is not None and not_after <= moment:
        state = "expired"
    return Row(kind, name, state, not_after, warn)


def rows(h: Hierarchy) -> list[Row]:
    """Every key and certificate of the country, with the ones inside the rotation window flagged."""
    h.require()
    window = dt.timedelta(days=h.site.keys.rotation_window_days)
    out = [_row("root-ca", ROOT, "active", h.root_cert().not_valid_after_utc, window)]
    for purpose in h.present_intermediates():
        active = h.active_intermediate(purpose)
        for name in h.intermediate_names(purpose):
            cert = h.cert(name)
            out.append(
                _row("intermediate", name, "active" if name == active else "overlap", cert.not_valid_after_utc, window)
            )
    for ca, entry in sorted(h.meta.get("ssh", {}).items()):
        until = entry.get("trusted_until", {})
        for gen in entry["generations"]:
            state = "active" if gen == entry["active"] else "overlap"
            end = dt.datetime.fromisoformat(until[str(gen)]) if str(gen) in until else None
            # the key type in the kind: a P-384 SSH CA (made before Ed25519) is one to rotate
            out.append(_row(f"ssh-ca:{ca_key_type(h, ca, gen)}", f"{ca}-{gen}", state, end, window))
    out.append(_row("signing-key", "model-signing", "active", None, window))
    data = h.meta.get("data_keys") or {}
    live = {k["id"] for k in valid_data_keys(h)}
    for meta in data.get("keys", []):
        state = "active" if meta["id"] == data.get("active") else ("overlap" if meta["id"] in live else "expired")
        out.append(_row("data-key", meta["id"], state, dt.datetime.fromisoformat(meta["not_after"]), window))
    for path in sorted(h.layout.leaves.glob("*/*.pem")):
        cert = load_cert(path)
        out.append(_row(f"leaf:{path.parent.name}", _leaf_name(cert), "active", cert.not_valid_after_utc, window))
    return out


def _leaf_name(cert: x509.Certificate) -> str:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        return ",".join(str(v.value) for v in san)
    except x509.ExtensionNotFound:
        return cert.subject.rfc4514_string()


def render(table: list[Row]) -> str:
    """A fixed-width table for the terminal."""
    lines = [f"{'KIND':<16} {'NAME':<40} {'STATE':<8} {'NOT AFTER':<17} DAYS"]
    for r in table:
        when = r.not_after.strftime("%Y-%m-%d %H:%M") if r.not_after else "-"
        days = "-" if r.days_left is None else str(r.days_left)
        flag = "  WARN: inside rotation window" if r.warn else ""
        lines.append(f"{r.kind:<16} {r.name[:40]:<40} {r.state:<8} {when:<17} {days}{flag}")
    return "\n".join(lines)
