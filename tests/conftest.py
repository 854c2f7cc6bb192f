"""Shared fixtures: the checkout, the demo fleet, and a scratch state directory per test session.

Tests never write secrets or lab state into the checkout: SITEKIT_STATE points at a temporary folder
unless the caller set it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

if "SITEKIT_STATE" not in os.environ:
    os.environ["SITEKIT_STATE"] = tempfile.mkdtemp(prefix="sitekit-test-state-")


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The checkout."""
    return ROOT


@pytest.fixture()
def fleet_copy(tmp_path: Path) -> Iterator[Path]:
    """A writable copy of the demo fleet folder (sites/) for tests that break it."""
    dest = tmp_path / "sites"
    shutil.copytree(ROOT / "sites", dest)
    yield dest
