"""Helpers the spec tests share: edit one snippet of a copied site file, and collect a fleet's spec errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from sitekit.spec import SpecError, load_fleet


def edit(folder: Path, name: str, old: str, new: str) -> None:
    """Replace one exact snippet in a site file (fails loudly if the snippet is absent)."""
    path = folder / name
    text = path.read_text()
    assert old in text, f"{old!r} not in {name}"
    path.write_text(text.replace(old, new, 1))


def problems(folder: Path) -> list[str]:
    """Every issue the spec loader reports for the fleet in `folder` (the load must fail)."""
    with pytest.raises(SpecError) as info:
        load_fleet(folder)
    return [str(issue) for issue in info.value.issues]
