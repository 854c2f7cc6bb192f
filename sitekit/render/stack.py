"""Spec -> `Pulumi.<cc>.yaml`: the resolved site as structured stack config, pinned by its digest.

The stack program re-validates `sitekit:site` with the same models and recomputes the digest, so a
config that was edited by hand or rendered from an older spec is refused rather than deployed.
"""

from __future__ import annotations

import re
from pathlib import Path
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
        "secretsprovider": site.deployment.secrets_provider,
        "config": {
            "pulumi:disable-default-providers": ["kubernetes"],
            "sitekit:site": document,
            "sitekit:specDigest": digest if digest is not None else document_digest(document),
        },
    }


PULUMI_MANAGED_KEYS = ("encryptionsalt", "encryptedkey")
"""Top-level keys `pulumi stack init` writes into the stack file (the passphrase salt, or the data key
wrapped by the secrets provider). They belong to the stack, not to the spec, so render keeps them."""

_MANAGED_LINE = re.compile(rf"^({'|'.join(PULUMI_MANAGED_KEYS)}): \S+$", re.MULTILINE)


def carry_pulumi_keys(text: str, existing: Path) -> str:
    """The rendered stack file with the Pulumi-managed lines of the file on disk appended, if it has any."""
    try:
        current = existing.read_text(encoding="utf-8")
    except OSError:
        return text
    kept = [m.group(0) for m in _MANAGED_LINE.finditer(current)]
    return text + "".join(f"{line}\n" for line in kept)
