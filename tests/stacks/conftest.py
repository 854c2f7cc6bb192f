"""Fixtures for the stack tests: the demo fleet, Pulumi mocks per test, and the program's folder.

Pulumi's mocks are process-wide, so every test that declares resources gets fresh mocks from the
`declare` fixture (never at module level), and the stacks folder is put on `sys.path` the way the Pulumi
language host does, so component modules import as `components.*`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sitekit.plan.program import Recording, run_function
from sitekit.spec import Fleet, Site, load_fleet

REPO = Path(__file__).resolve().parents[2]
STACKS = REPO / "stacks"


@pytest.fixture(scope="session")
def fleet() -> Fleet:
    return load_fleet(REPO / "sites")


@pytest.fixture(scope="session")
def stacks_dir() -> Iterator[Path]:
    sys.path.insert(0, str(STACKS))
    try:
        yield STACKS
    finally:
        sys.path.remove(str(STACKS))


@pytest.fixture(params=["ee", "ke", "cl"])
def site(request: pytest.FixtureRequest, fleet: Fleet) -> Site:
    return fleet.site(request.param)


@pytest.fixture
def declare(stacks_dir: Path) -> Callable[..., Recording]:
    """Run a function that declares resources under fresh recording mocks; returns what it declared."""

    def run(fn: Callable[[], Any], stack: str = "ee", config: dict[str, str] | None = None) -> Recording:
        return run_function(fn, stack, config)

    return run
