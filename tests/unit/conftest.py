"""Fixtures the unit tests of the key hierarchy share.

`h` opens the hierarchy of the requesting module's own `site` fixture, so each module still says which
country (and backend) it works on; a module that defines its own `state` or `h` keeps it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sitekit.pki.hierarchy import Hierarchy
from sitekit.spec import Site

PASSPHRASE = "unit-test-passphrase"
"""The file backend's passphrase (SITEKIT_KEY_PASSPHRASE) in a test's throwaway key state."""


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty state folder of this test alone (SITEKIT_STATE), with the file backend's passphrase set."""
    monkeypatch.setenv("SITEKIT_STATE", str(tmp_path / "state"))
    monkeypatch.setenv("SITEKIT_KEY_PASSPHRASE", PASSPHRASE)
    return tmp_path / "state"


@pytest.fixture
def h(site: Site, state: Path) -> Iterator[Hierarchy]:
    """The module's `site` hierarchy, initialised in `state`, closed after the test."""
    hierarchy = Hierarchy.open(site)
    hierarchy.init()
    yield hierarchy
    hierarchy.close()
