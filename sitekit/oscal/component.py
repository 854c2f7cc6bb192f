"""The control catalogue as an OSCAL component definition.

One component per Ansible role that applies controls. Each component carries one control implementation
against sitekit's own catalogue (every control with its tag, check, host roles and lab tier) and one per
framework it maps to (NIST SP 800-53 rev. 5, ANSSI BP-028, CIS Debian 12), whose implemented requirements
name the sitekit controls that implement each framework recommendation. The document is validated by
compliance-trestle's models before it is returned.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from typing import Any

from trestle.oscal import OSCAL_VERSION
from trestle.oscal.component import ComponentDefinition

from sitekit.controls import CATALOGUE, FRAMEWORKS, Control, load_controls
from sitekit.oscal.ids import FRAMEWORK_SOURCES, NS, framework_control_id, stable_uuid

CATALOGUE_SOURCE = "https://sitekit.invalid/catalogue/controls.yaml"
"""Source reference of sitekit's own catalogue (it ships with the package as sitekit/controls.yaml)."""

ROLE_TITLES = {
    "baseline": "Host baseline (sysctl, modules, filesystems, accounts, PAM, logging, time, packages)",
    "ssh": "OpenSSH server and SSH certificate authority",
    "firewall": "Host firewall (nftables)",
    "audit": "Linux audit",
    "gpu_host": "GPU host (drivers, device access, CUDA IPC)",
    "keys": "Key management (trust bundle, host certificates, data keys)",
}


def prop(name: str, value: str, cls: str | None = None, remarks: str | None = None) -> dict[str, Any]:
    """A sitekit property (namespace `urn:sitekit:oscal`)."""
    out: dict[str, Any] = {"name": name, "ns": NS, "value": value}
    if cls:
        out["class"] = cls
    if remarks:
        out["remarks"] = remarks
    return out


def _control_props(c: Control) -> list[dict[str, Any]]:
    props = [
        prop("ansible-role", c.role),
        prop("ansible-tag", c.tag),
        prop("check", c.check),
        prop("lab-tier", c.tier),
        *(prop("applies-to", r) for r in c.applies_to),
    ]
    for framework in FRAMEWORKS:
        props += [prop("framework-mapping", ref, cls=framework) for ref in c.frameworks.get(framework, ())]
    if c.deviation:
        props.append(prop("deviation", c.deviation.value, remarks=c.deviation.reason))
    return props


def _catalogue_implementation(role: str, controls: list[Control]) -> dict[str, Any]:
    return {
        "uuid": stable_uuid("component", role, "sitekit"),
        "source": CATALOGUE_SOURCE,
        "description": f"sitekit controls applied by the {role} role (Ansible tag = control ID) and verified by "
        "the named testinfra check in tests/hosts.",
        "implemented-requirements": [
            {
                "uuid": stable_uuid("requirement", role, c.id),
                "control-id": c.id,
                "description": c.title,
                "props": _control_props(c),
                **({"remarks": f"Deviation: {c.deviation.value}. {c.deviation.reason}"} if c.deviation else {}),
            }
            for c in controls
        ],
    }


def _framework_implementation(role: str, framework: str, controls: list[Control]) -> dict[str, Any] | None:
    implementers: dict[str, list[Control]] = defaultdict(list)
    for c in controls:
        for ref in c.frameworks.get(framework, ()):
            implementers[ref].append(c)
    if not implementers:
        return None
    source, title = FRAMEWORK_SOURCES[framework]
    return {
        "uuid": stable_uuid("component", role, framework),
        "source": source,
        "description": f"{title} recommendations that the {role} role's sitekit controls implement.",
        "props": [prop("framework", framework)],
        "implemented-requirements": [
            {
                "uuid": stable_uuid("requirement", role, framework, ref),
                "control-id": framework_control_id(framework, ref),
                "description": "Implemented by " + "; ".join(f"{c.id} ({c.title})" for c in implementers[ref]),
                "props": [prop("framework-id", ref, cls=framework)]
                + [prop("implemented-by", c.id) for c in implementers[ref]],
            }
            for ref in sorted(implementers)
        ],
    }


def catalogue_digest() -> str:
    """SHA-256 of the packaged catalogue file: the version of the component definition."""
    return hashlib.sha256(CATALOGUE.read_bytes()).hexdigest()


def component_definition(generated: dt.datetime) -> dict[str, Any]:
    """The OSCAL component definition of sitekit's catalogue, as a JSON document (`component-definition`)."""
    controls = load_controls()
    by_role: dict[str, list[Control]] = defaultdict(list)
    for c in controls:
        by_role[c.role].append(c)
    components = []
    for role in sorted(by_role):
        implementations = [_catalogue_implementation(role, by_role[role])]
        for framework in FRAMEWORKS:
            impl = _framework_implementation(role, framework, by_role[role])
            if impl:
                implementations.append(impl)
        components.append(
            {
                "uuid": stable_uuid("component", role),
                "type": "software",
                "title": f"sitekit Ansible role {role}",
                "description": ROLE_TITLES.get(role, f"The {role} role"),
                "purpose": "Apply and verify host hardening controls of sitekit's catalogue",
                "props": [prop("ansible-role", role)],
                "control-implementations": implementations,
            }
        )
    digest = catalogue_digest()
    doc = {
        "uuid": stable_uuid("component-definition", digest),
        "metadata": {
            "title": "sitekit control catalogue",
            "last-modified": generated.isoformat(),
            "version": f"sha256:{digest[:16]}",
            "oscal-version": OSCAL_VERSION,
            "props": [prop("catalogue-sha256", digest)],
            "remarks": "Generated by `sitekit pack` from sitekit/controls.yaml.",
        },
        "components": components,
    }
    return {"component-definition": checked(ComponentDefinition, doc)}


def checked(model: Any, doc: dict[str, Any]) -> dict[str, Any]:
    """`doc` after a round trip through a trestle model: raises if it is not valid OSCAL for that model."""
    parsed = model.model_validate(doc)
    out: dict[str, Any] = parsed.model_dump(mode="json", by_alias=True, exclude_none=True)
    return out
