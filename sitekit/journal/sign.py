"""Writing checkpoints with the country's signing key, when it is usable without a prompt.

A checkpoint is signed after every journalled `keys` command (the operator holding the passphrase or PIN
is at the keyboard, and these are the commands that change the country's trust) and on
`sitekit journal checkpoint <cc>` (at the end of a change window, after a demo or a converge). When the
key cannot be used (no hierarchy yet, no passphrase or PIN in the environment, the token busy) nothing
prompts and nothing fails: the records stay chained, and `journal show` and `verify` report how many are
not yet under a checkpoint.
"""

from __future__ import annotations

import os
from pathlib import Path

from sitekit.atomic import write_private
from sitekit.journal import checkpoint as ckpt
from sitekit.journal.store import Journal, utc_now
from sitekit.spec.models import Site


class SigningUnavailable(Exception):
    """The signing key cannot be used now; the message says why (for the operator, not an error)."""


def public_key_path(cc: str) -> Path:
    """The signing key's public half in the country's key state (public; what `verify` reads)."""
    from sitekit.pki.layout import MODEL_SIGNING, Layout

    return Layout.for_country(cc).base / "signing" / f"{MODEL_SIGNING}.pub.pem"


def write_checkpoint(journal: Journal, site: Site) -> Path:
    """Sign the journal's head; return the checkpoint file. `SigningUnavailable` if the key is not usable."""
    from sitekit.pki.hierarchy import Hierarchy
    from sitekit.pki.layout import MODEL_SIGNING, Layout
    from sitekit.pki.secrets import PASSPHRASE_ENV, PIN_ENV

    layout = Layout.for_country(site.cc)
    if not layout.initialised() or not public_key_path(site.cc).exists():
        raise SigningUnavailable(f"no key hierarchy for {site.cc} yet (sitekit keys init {site.cc})")
    env = PASSPHRASE_ENV if site.keys.backend == "file" else PIN_ENV
    if not os.environ.get(env):
        raise SigningUnavailable(f"{env} is not set, so the signing key cannot be used without a prompt")
    try:
        with Hierarchy.open(site) as h:
            h.require()
            signer = h.backend.signer(MODEL_SIGNING)
            with journal.locked():
                head = journal.head()
                data = ckpt.sign(site.cc, head.count, head.hash, utc_now(), signer)
                path = journal.checkpoints / f"{head.count:012d}.ckpt"
                write_private(path, data)
    except SigningUnavailable:
        raise
    except Exception as exc:  # any backend failure leaves the records unanchored, never lost
        raise SigningUnavailable(f"the signing key could not be used: {exc}") from exc
    return path
