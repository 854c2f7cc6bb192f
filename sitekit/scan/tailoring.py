"""XCCDF 1.2 tailoring for `sitekit scan`: profile values that must be the site's own, not the profile's.

Some SSG rules compare the host with a value of the profile rather than a fixed setting: the mail-alias
rule expects root's mail to go to `var_postfix_root_mail_alias`, `change_me@localhost` unless tailored.
A host that does the right thing (root's mail goes to the site's security contact) would fail such a
rule for a placeholder, so the scan gives oscap a tailoring file that extends the profile and sets those
values from the host's inventory variables (rendered from the spec). A variable that is empty tailors
nothing: the rule is judged against the profile's own value and keeps its accepted reason.

Every tailored value is reported with the scan (value, the profile's default, the site's value and why),
so a reader sees exactly where the judgement departs from the published profile.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

XCCDF_NS = "http://checklists.nist.gov/xccdf/1.2"
VALUE_PREFIX = "xccdf_org.ssgproject.content_value_"
PROFILE_PREFIX = "xccdf_org.ssgproject.content_profile_"
# Our own namespace for what we add (XCCDF 1.2 ids: xccdf_<reverse DNS>_<kind>_<name>).
OWN_NS = "org.sitekit"


@dataclass(frozen=True)
class TailoredValue:
    """One profile value the site sets, where it comes from and why."""

    value: str  # XCCDF value id without VALUE_PREFIX
    variable: str  # inventory variable that holds the site's value
    reason: str


TAILORABLE: tuple[TailoredValue, ...] = (
    TailoredValue(
        value="var_postfix_root_mail_alias",
        variable="sitekit_security_contact",
        reason="root's mail goes to the site's security contact (spec identity.security_contact, SK-LOG-007); "
        "the profile's value is a placeholder",
    ),
)


@dataclass(frozen=True)
class Tailoring:
    """The values one scan sets over its profile, and the tailored profile's id."""

    base_profile: str  # full XCCDF profile id
    profile: str  # full id of the tailored profile
    tailoring_id: str
    values: tuple[tuple[TailoredValue, str], ...]

    def report(self, defaults: dict[str, str] | None = None) -> list[dict[str, Any]]:
        """What the scan's report says about each tailored value."""
        return [
            {
                "value": tv.value,
                "set_to": site_value,
                "profile_default": (defaults or {}).get(tv.value),
                "from": tv.variable,
                "why": tv.reason,
            }
            for tv, site_value in self.values
        ]


def full_profile_id(profile: str) -> str:
    return profile if profile.startswith(PROFILE_PREFIX) else PROFILE_PREFIX + profile


def tailoring_for(variables: dict[str, Any], profile: str, cc: str) -> Tailoring | None:
    """The tailoring a host's inventory variables call for, or None when no value needs tailoring."""
    chosen = tuple((tv, str(variables.get(tv.variable) or "")) for tv in TAILORABLE)
    chosen = tuple((tv, v) for tv, v in chosen if v)
    if not chosen:
        return None
    base = full_profile_id(profile)
    short = base.removeprefix(PROFILE_PREFIX)
    suffix = cc or "site"
    return Tailoring(
        base_profile=base,
        profile=f"xccdf_{OWN_NS}_profile_{short}_{suffix}",
        tailoring_id=f"xccdf_{OWN_NS}_tailoring_{suffix}",
        values=chosen,
    )


def tailoring_xml(tailoring: Tailoring, when: str) -> bytes:
    """The XCCDF 1.2 Tailoring document (`when`: ISO 8601 time of its version)."""
    ET.register_namespace("xccdf", XCCDF_NS)
    q = f"{{{XCCDF_NS}}}"
    root = ET.Element(f"{q}Tailoring", {"id": tailoring.tailoring_id})
    version = ET.SubElement(root, f"{q}version", {"time": when})
    version.text = "1"
    prof = ET.SubElement(root, f"{q}Profile", {"id": tailoring.profile, "extends": tailoring.base_profile})
    title = ET.SubElement(prof, f"{q}title", {"override": "true"})
    title.text = f"{tailoring.base_profile.removeprefix(PROFILE_PREFIX)} with the site's own values (sitekit scan)"
    for tv, site_value in tailoring.values:
        sv = ET.SubElement(prof, f"{q}set-value", {"idref": VALUE_PREFIX + tv.value})
        sv.text = site_value
    ET.indent(root)
    document: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return document + b"\n"


def value_defaults(datastream: Path, wanted: set[str]) -> dict[str, str]:
    """The default (selector-less) value of each wanted XCCDF value in the data stream."""
    found: dict[str, str] = {}
    q = f"{{{XCCDF_NS}}}"
    for _event, elem in ET.iterparse(datastream, events=("end",)):
        if elem.tag == f"{q}Value":
            vid = str(elem.get("id", "")).removeprefix(VALUE_PREFIX)
            if vid in wanted:
                for v in elem.findall(f"{q}value"):
                    if not v.get("selector"):
                        found[vid] = (v.text or "").strip()
            elem.clear()
        elif elem.tag == f"{q}Rule":
            elem.clear()
    return found
