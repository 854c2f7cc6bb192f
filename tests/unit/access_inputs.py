"""Shared by the access-map tests: the demo country's real inputs, loaded once, and copies to break."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from sitekit.access import AccessInputs, load_inputs

REPO = Path(__file__).resolve().parents[2]


def demo_inputs(cc: str, state: Path) -> AccessInputs:
    """Spec, rendered inventory and planned objects of the checkout's demo country (state: an empty folder)."""
    import os

    old = os.environ.get("SITEKIT_STATE")
    os.environ["SITEKIT_STATE"] = str(state)
    try:
        return load_inputs(REPO, REPO / "sites", cc)
    finally:
        if old is None:
            del os.environ["SITEKIT_STATE"]
        else:
            os.environ["SITEKIT_STATE"] = old


def variant(inputs: AccessInputs, **changes: Any) -> AccessInputs:
    """A deep copy of the inputs with some fields replaced (the original stays untouched for other tests)."""
    fields = {
        "site": inputs.site,
        "manifests": copy.deepcopy(inputs.manifests),
        "charts": copy.deepcopy(inputs.charts),
        "inventory": copy.deepcopy(dict(inputs.inventory)),
        "roles_dir": inputs.roles_dir,
        "keys_dir": inputs.keys_dir,
        "cert_folders": tuple(inputs.cert_folders),
        "sources": dict(inputs.sources),
    }
    fields.update(changes)
    return AccessInputs(**fields)


def hostvars(inputs: AccessInputs, host: str) -> dict[str, Any]:
    """The (mutable) inventory variables of one host of a variant."""
    found: dict[str, Any] = inputs.inventory["_meta"]["hostvars"][host]
    return found
