"""Ingress TLS for the Pulumi stack: a leaf from the country's ingress intermediate, reused while valid.

The stack program imports this at every `pulumi up` / `sitekit plan`, so the common path (a valid leaf for
the same names already exists) reads two files and parses one certificate; it needs no PIN and does not
touch the HSM. Only a new or expiring leaf opens the backend to sign. Leaf keys are ordinary software keys
(0600 in the state dir): the ingress controller must hold them anyway, and the stack hands them to the
cluster as a Pulumi secret.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from cryptography import x509

from sitekit.errors import UserError
from sitekit.pki.hierarchy import Hierarchy, leaf_slug, now
from sitekit.pki.layout import Layout
from sitekit.spec.models import Site

PURPOSE = "ingress"


def _reusable(h: Hierarchy, chain: bytes, names: Sequence[str]) -> bool:
    try:
        certs = x509.load_pem_x509_certificates(chain)
        leaf = certs[0]
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, x509.ExtensionNotFound, IndexError):
        return False
    have = {str(v.value) for v in san}
    if have != set(names):
        return False
    issuer = h.cert(h.active_intermediate(PURPOSE))
    if leaf.issuer != issuer.subject:
        return False
    try:
        leaf.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, Exception):
        return False
    window = dt.timedelta(days=h.site.keys.rotation_window_days)
    lifetime = leaf.not_valid_after_utc - leaf.not_valid_before_utc
    return leaf.not_valid_after_utc - now() > min(window, lifetime / 2)


def ingress_tls(site: Site, names: Sequence[str], *, reuse_only: bool = False) -> tuple[str, str] | None:
    """(fullchain PEM, key PEM) for `names`, issued or reused; UserError if `keys init` has not run.

    With `reuse_only` (a `pulumi preview`) nothing is issued or written: a valid stored leaf is returned,
    or None when a deployment would have to issue one.
    """
    layout = Layout.for_country(site.cc)
    if not layout.initialised():
        raise UserError(f"no key hierarchy for {site.cc}: run sitekit keys init {site.cc}")
    wanted = list(dict.fromkeys(n.lower().rstrip(".") for n in names))
    if not wanted:
        raise UserError("ingress_tls needs at least one name")
    h = Hierarchy(site, layout)
    slug = leaf_slug(wanted)
    cert_path = layout.leaves / PURPOSE / f"{slug}.pem"
    key_path = cert_path.with_suffix(".key")
    if cert_path.exists() and key_path.exists():
        chain = cert_path.read_bytes()
        if _reusable(h, chain, wanted):
            return chain.decode(), key_path.read_text()
    if reuse_only:
        return None
    try:
        issued = h.issue(PURPOSE, wanted, "server")
        h.store_leaf(PURPOSE, slug, issued)
    finally:
        h.close()
    return issued.fullchain_pem.decode(), issued.key_pem.decode()
