"""The control catalogue (`sitekit/controls.yaml`): load it, validate it, look controls up.

Every security control sitekit applies is listed once in the catalogue with a stable ID. The roles tag
their tasks with the ID, the testinfra checks in `tests/hosts/` are named after it, and the evidence and
report rows carry it. This module is the one reader of that file.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from sitekit.errors import UserError

CATALOGUE = Path(__file__).with_name("controls.yaml")
"""Where the catalogue lives (shipped with the package)."""

ROLES: tuple[str, ...] = ("baseline", "ssh", "firewall", "audit", "gpu_host", "keys", "logging")
"""Ansible roles (playbooks/roles/<role>) that may apply a control."""

HOST_ROLES: tuple[str, ...] = ("all", "control-plane", "gpu-worker", "storage")
"""Values of `applies_to`: `all` or a host role of the fleet spec."""

FRAMEWORKS: tuple[str, ...] = ("cis_debian12", "anssi_bp028", "nist_800_53")
"""Framework keys a control may map to."""

_ID = re.compile(r"^SK-([A-Z]{2,5})-(\d{3})$")
_ANSSI = re.compile(r"^R\d{1,2}$")
_NIST = re.compile(r"^[A-Z]{2}-\d{1,2}(\(\d{1,2}\))?$")
_CIS = re.compile(r"^\d+(\.\d+)+$")

Tier = Literal["container", "vm"]


class Deviation(BaseModel):
    """A deliberate departure from the frameworks' value, with the reason an auditor reads."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    value: str = Field(min_length=1, description="The value sitekit sets instead")
    reason: str = Field(min_length=20, description="Why, in words an auditor accepts")


class Control(BaseModel):
    """One security control: what it guarantees, who applies it, what verifies it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=_ID.pattern, description="Stable ID, SK-<AREA>-NNN")
    title: str = Field(min_length=10, description="What the control guarantees")
    frameworks: dict[str, tuple[str, ...]] = Field(
        default_factory=dict, description="Framework -> recommendation IDs (only IDs known for certain)"
    )
    role: str = Field(description="Ansible role that applies the control")
    tag: str = Field(description="Ansible tag that applies the control alone (the ID)")
    check: str = Field(pattern=r"^test_sk_[a-z]{2,5}_\d{3}$", description="testinfra function in tests/hosts/")
    applies_to: tuple[str, ...] = Field(min_length=1, description="Host roles, or `all`")
    tier: Tier = Field(description="Lowest lab tier where the effective state can be verified")
    deviation: Deviation | None = Field(default=None, description="Deliberate departure, with reason")

    @property
    def area(self) -> str:
        """The area part of the ID (SYS, SSH, ...)."""
        match = _ID.match(self.id)
        assert match is not None  # guaranteed by the field pattern
        return match.group(1)

    def applies(self, host_role: str) -> bool:
        """Whether the control applies to a host of `host_role`."""
        return "all" in self.applies_to or host_role in self.applies_to

    @field_validator("role")
    @classmethod
    def _known_role(cls, value: str) -> str:
        if value not in ROLES:
            raise ValueError(f"unknown role {value!r} (known: {', '.join(ROLES)})")
        return value

    @field_validator("applies_to")
    @classmethod
    def _known_host_roles(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [v for v in value if v not in HOST_ROLES]
        if unknown:
            raise ValueError(f"unknown host roles {unknown} (known: {', '.join(HOST_ROLES)})")
        return value

    @field_validator("frameworks")
    @classmethod
    def _known_frameworks(cls, value: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        patterns = {"cis_debian12": _CIS, "anssi_bp028": _ANSSI, "nist_800_53": _NIST}
        for name, ids in value.items():
            if name not in patterns:
                raise ValueError(f"unknown framework {name!r} (known: {', '.join(FRAMEWORKS)})")
            bad = [i for i in ids if not patterns[name].match(i)]
            if bad:
                raise ValueError(f"{name}: malformed IDs {bad}")
        return value

    @model_validator(mode="after")
    def _derived_names(self) -> Control:
        if self.tag != self.id:
            raise ValueError(f"tag {self.tag!r} must be the control ID {self.id!r}")
        expected = "test_" + self.id.lower().replace("-", "_")
        if self.check != expected:
            raise ValueError(f"check {self.check!r} must be {expected!r}")
        return self


class Catalogue(BaseModel):
    """The whole file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    controls: tuple[Control, ...] = Field(min_length=1, description="Every control, once")

    @model_validator(mode="after")
    def _unique(self) -> Catalogue:
        counts = Counter(c.id for c in self.controls)
        dupes = sorted(i for i, n in counts.items() if n > 1)
        if dupes:
            raise ValueError(f"duplicate control IDs: {', '.join(dupes)}")
        return self


def load_controls(path: Path | None = None) -> list[Control]:
    """Load and validate the catalogue (default: the packaged `controls.yaml`)."""
    return list(_load(path or CATALOGUE))


@cache
def _load(path: Path) -> tuple[Control, ...]:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise UserError(f"{path}: cannot read the control catalogue: {exc}") from exc
    try:
        return Catalogue.model_validate(raw).controls
    except ValidationError as exc:
        raise UserError(f"{path}: invalid control catalogue:\n{exc}") from exc


def controls_by_id(path: Path | None = None) -> dict[str, Control]:
    """The catalogue keyed by control ID."""
    return {c.id: c for c in load_controls(path)}
