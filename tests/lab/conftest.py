"""Fixtures for the lab tests: a private state folder, the shared cache.

The lab state goes to a temporary folder (keys and layers of a test never mix with an operator's lab);
the cache stays shared (`$SITEKIT_CACHE` or the default) because building the root is the slow step.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from labkit import lab_ready, sitekit


@pytest.fixture(scope="session")
def lab_state(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A private SITEKIT_STATE for the whole session (the cache stays shared)."""
    reason = lab_ready()
    if reason:
        pytest.skip(reason)
    state = tmp_path_factory.mktemp("sitekit-state")
    old = os.environ.get("SITEKIT_STATE")
    os.environ["SITEKIT_STATE"] = str(state)
    try:
        yield state
    finally:
        sitekit("lab", "down", check=False)
        if old is None:
            os.environ.pop("SITEKIT_STATE", None)
        else:
            os.environ["SITEKIT_STATE"] = old
