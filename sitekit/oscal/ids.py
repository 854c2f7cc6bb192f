"""Stable identifiers for OSCAL documents: the same catalogue and evidence always give the same UUIDs and
control ids, so a pack built twice from the same inputs has the same bytes."""

from __future__ import annotations

import re
import uuid

NS = "urn:sitekit:oscal"
"""Namespace of sitekit's own OSCAL properties (`prop.ns`)."""

_ROOT = uuid.uuid5(uuid.NAMESPACE_URL, NS)

FRAMEWORK_SOURCES: dict[str, tuple[str, str]] = {
    "nist_800_53": (
        "https://raw.githubusercontent.com/usnistgov/oscal-content/main/nist.gov/SP800-53/rev5/json/"
        "NIST_SP-800-53_rev5_catalog.json",
        "NIST SP 800-53 rev. 5",
    ),
    "anssi_bp028": (
        "https://cyber.gouv.fr/publications/recommandations-de-securite-relatives-un-systeme-gnulinux",
        "ANSSI BP-028 v2.0",
    ),
    "cis_debian12": ("https://www.cisecurity.org/benchmark/debian_linux", "CIS Debian Linux 12 Benchmark"),
}
"""Framework key of the catalogue -> (the catalogue's public reference, its title)."""


def stable_uuid(*parts: str) -> str:
    """A version-5 UUID derived from `parts` (OSCAL requires v4 or v5)."""
    return str(uuid.uuid5(_ROOT, "\x1f".join(parts)))


_NIST = re.compile(r"^([A-Z]{2})-(\d{1,2})(?:\((\d{1,2})\))?$")


def framework_control_id(framework: str, ref: str) -> str:
    """A framework recommendation as an OSCAL control id (a token).

    NIST follows NIST's own OSCAL catalogue (`AC-2(1)` -> `ac-2.1`); ANSSI's `R12` -> `r12`; CIS numbers
    cannot start a token, so `3.3.7` -> `cis-3.3.7`.
    """
    if framework == "nist_800_53":
        match = _NIST.match(ref)
        if not match:
            raise ValueError(f"not a NIST 800-53 control: {ref!r}")
        family, number, enhancement = match.groups()
        return f"{family.lower()}-{int(number)}" + (f".{int(enhancement)}" if enhancement else "")
    if framework == "anssi_bp028":
        return ref.lower()
    if framework == "cis_debian12":
        return f"cis-{ref}"
    raise ValueError(f"unknown framework {framework!r}")
