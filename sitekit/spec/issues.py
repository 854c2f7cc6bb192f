"""Spec problems, each naming the file, the field path and the reason.

A loader that stops at the first problem makes an operator fix a file one error at a time; collecting
`SpecIssue`s and raising one `SpecError` lets `sitekit validate` show them all at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sitekit.errors import UserError


@dataclass(frozen=True, order=True)
class SpecIssue:
    """One problem: where (file and dotted field path) and why."""

    file: str
    path: str
    reason: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.path}" if self.path else self.file
        return f"{where}: {self.reason}"


class SpecError(UserError):
    """The fleet spec is invalid; carries every issue found."""

    def __init__(self, issues: Iterable[SpecIssue]) -> None:
        self.issues: tuple[SpecIssue, ...] = tuple(sorted(set(issues)))
        count = len(self.issues)
        lines = [f"invalid fleet spec ({count} problem{'s' if count != 1 else ''}):"]
        lines += [f"  {issue}" for issue in self.issues]
        super().__init__("\n".join(lines))


def format_path(loc: Sequence[str | int]) -> str:
    """`("hosts", 1, "address")` -> `hosts[1].address`."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out
