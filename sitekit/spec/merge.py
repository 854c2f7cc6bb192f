"""Overlay merge rules, the ones README documents.

- maps merge key by key, recursively; the overlay wins on a conflict;
- lists (and every other value) replace the baseline's value whole: merging lists item by item makes it
  impossible to remove an item and hard to read what a country really has;
- `null` in an overlay removes the key, so a country can drop a baseline section it does not use.
"""

from __future__ import annotations

from typing import Any


def merge(base: Any, overlay: Any) -> Any:
    """Return `overlay` applied on `base` without modifying either."""
    if isinstance(base, dict) and isinstance(overlay, dict):
        out: dict[str, Any] = {k: v for k, v in base.items()}
        for key, value in overlay.items():
            if value is None:
                out.pop(key, None)
            elif key in out:
                out[key] = merge(out[key], value)
            else:
                out[key] = value
        return out
    return overlay


def key_paths(tree: Any, prefix: tuple[str | int, ...] = ()) -> set[tuple[str | int, ...]]:
    """Every path present in a parsed YAML document (used to say which file set a field)."""
    paths: set[tuple[str | int, ...]] = {prefix}
    if isinstance(tree, dict):
        for key, value in tree.items():
            paths |= key_paths(value, (*prefix, str(key)))
    elif isinstance(tree, list):
        for index, value in enumerate(tree):
            paths |= key_paths(value, (*prefix, index))
    return paths


def replaced_paths(tree: Any, prefix: tuple[str | int, ...] = ()) -> set[tuple[str | int, ...]]:
    """Paths where the overlay's value replaces the baseline's wholesale: lists, scalars and nulls.

    A mapping merges, so an overlay that sets `keys.custodians` does not own `keys.model_volume`, which
    still comes from the baseline; a list replaces, so everything under an overlay's list is its own.
    """
    if isinstance(tree, dict):
        paths: set[tuple[str | int, ...]] = set()
        for key, value in tree.items():
            paths |= replaced_paths(value, (*prefix, str(key)))
        return paths
    return {prefix}
