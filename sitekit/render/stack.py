"""Spec -> `Pulumi.<cc>.yaml`: the resolved site as structured stack config, pinned by its digest.

The stack program re-validates `sitekit:site` with the same models and recomputes the digest, so a
config that was edited by hand or rendered from an older spec is refused rather than deployed.
"""

from __future__ import annotations

from typing import Any

from sitekit.spec.loader import site_digest
from sitekit.spec.models import Site


def stack_document(site: Site) -> dict[str, Any]:
    """The stack settings file's content."""
    return {
        "config": {
            "sitekit:site": site.model_dump(mode="json"),
            "sitekit:specDigest": site_digest(site),
        }
    }
