"""Filters of the kernel_args role: merging arguments into a kernel command line, and finding the GRUB
`linux` lines that lack some of them.

An argument's name is the part before `=` (`iommu=pt` and `iommu=force` share the name `iommu`); a bare flag
(`slab_nomerge`) is its own name. Quoted values with spaces are not supported (no sitekit argument has one).
"""

from __future__ import annotations

from typing import Any


def _name(arg: str) -> str:
    return arg.split("=", 1)[0]


def kernel_args_merge(current: list[str], wanted: list[str]) -> list[str]:
    """`current` with each wanted argument in place: an argument of the same name is replaced where it stands
    (further ones of that name are dropped), a missing one is appended. Everything else keeps its order, so
    merging the same arguments again, or another caller's, changes nothing."""
    by_name = {_name(arg): arg for arg in wanted}
    out: list[str] = []
    placed: set[str] = set()
    for token in current:
        name = _name(token)
        if name not in by_name:
            out.append(token)
        elif name not in placed:
            out.append(by_name[name])
            placed.add(name)
    out += [arg for arg in wanted if _name(arg) not in placed and arg not in out]
    return out


def kernel_args_lacking(lines: list[str], wanted: list[str]) -> list[str]:
    """The lines (a grub.cfg's `linux` lines) whose arguments do not include every wanted argument."""
    return [line for line in lines if not set(wanted) <= set(line.split())]


class FilterModule:
    """Ansible's entry point for the filters above."""

    def filters(self) -> dict[str, Any]:
        return {"kernel_args_merge": kernel_args_merge, "kernel_args_lacking": kernel_args_lacking}
