"""Spec -> `Pulumi.<cc>.yaml`: the resolved site as structured stack config, pinned by its digest.

The stack program re-validates `sitekit:site` with the same models and recomputes the digest, so a
config that was edited by hand or rendered from an older spec is refused rather than deployed.
"""

from __future__ import annotations

from typing import Any

from sitekit.spec.loader import document_digest
from sitekit.spec.models import Site


def stack_document(site: Site, document: dict[str, Any] | None = None, digest: str | None = None) -> dict[str, Any]:
    """The stack settings file's content.

    `document` (the site's `model_dump(mode="json")`) and `digest` (its `document_digest`) may be passed
    by a caller that already computed them; they are derived from `site` otherwise.
    """
    if document is None:
        document = site.model_dump(mode="json")
    return {
        "config": {
            "sitekit:site": document,
            "sitekit:specDigest": digest if digest is not None else document_digest(document),
        }
    }
