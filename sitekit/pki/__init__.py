"""The country's key hierarchy: name-constrained root CA, intermediates, SSH CAs, data keys, custody.

Importing the package is cheap (the stack program does it on every run): submodules load on first use.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sitekit.spec.models import Site

__all__ = ["ingress_tls", "stored_ingress_tls"]


def ingress_tls(site: Site, names: Sequence[str]) -> tuple[str, str]:
    """(fullchain PEM, key PEM) for the ingress of `site`, issued if needed; see `sitekit.pki.ingress`."""
    from sitekit.pki.ingress import ingress_tls as _ingress_tls

    found = _ingress_tls(site, names)
    assert found is not None  # issuing always returns a pair
    return found


def stored_ingress_tls(site: Site, names: Sequence[str]) -> tuple[str, str] | None:
    """A valid stored ingress leaf for `names`, or None; issues and writes nothing (for previews)."""
    from sitekit.pki.ingress import ingress_tls as _ingress_tls

    return _ingress_tls(site, names, reuse_only=True)
