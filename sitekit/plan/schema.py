"""Strict schema validation of manifests against the site's Kubernetes version, offline.

`kubernetes-validate` ships the OpenAPI-derived JSON schemas of many Kubernetes versions, with a strict
variant that rejects unknown fields. Its own `validate` stops at the first error and reloads the 1 MB
definitions file for every object; here the schemas are loaded once per version and kind, and every
error of every object is reported.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

import jsonschema
from referencing import Registry, Resource

from sitekit.errors import UserError

_SCHEMA_ROOT = "kubernetes-json-schema"
_VERSION_DIR = re.compile(r"^v(\d+)\.(\d+)\.\d+-local-strict$")


def shipped_versions() -> list[tuple[int, int]]:
    """Kubernetes minor versions whose strict schemas kubernetes-validate ships, oldest first."""
    root = resources.files("kubernetes_validate").joinpath(_SCHEMA_ROOT)
    found = []
    for entry in root.iterdir():
        match = _VERSION_DIR.match(entry.name)
        if match:
            found.append((int(match.group(1)), int(match.group(2))))
    return sorted(found)


def schema_version(kubernetes_version: str) -> str:
    """The schema folder for a site's `major.minor`: the exact minor; a version not shipped is an error.

    Validating 1.30 objects against another minor's schema could pass fields the cluster rejects (or the
    reverse), so there is no silent fallback: upgrade kubernetes-validate instead.
    """
    try:
        major, minor = (int(p) for p in kubernetes_version.split(".")[:2])
    except ValueError:
        raise UserError(f"Kubernetes version {kubernetes_version!r} is not major.minor") from None
    shipped = shipped_versions()
    if (major, minor) not in shipped:
        have = ", ".join(f"{a}.{b}" for a, b in shipped)
        raise UserError(
            f"kubernetes-validate has no schemas for Kubernetes {major}.{minor} (it ships {have}); "
            "upgrade kubernetes-validate or change cluster.kubernetes_version"
        )
    return f"v{major}.{minor}.0-local-strict"


def _load(folder: str, name: str) -> Any:
    path = resources.files("kubernetes_validate").joinpath(_SCHEMA_ROOT, folder, name)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None


@lru_cache(maxsize=4)
def _registry(folder: str) -> Registry[Any]:
    definitions = Resource.from_contents(_load(folder, "_definitions.json"))
    return definitions @ Registry()


@lru_cache(maxsize=256)
def _validator(folder: str, kind: str, api_version: str) -> jsonschema.protocols.Validator | None:
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    schema = _load(folder, f"{kind.lower()}-{group_version}.json")
    if schema is None:
        return None
    registry = Resource.from_contents(schema) @ _registry(folder)
    validator: jsonschema.protocols.Validator = jsonschema.Draft202012Validator(schema, registry=registry)
    return validator


@dataclass
class SchemaReport:
    """Errors per manifest (by its file name), and objects no shipped schema covers."""

    version: str
    errors: dict[str, list[str]] = field(default_factory=dict)
    unknown_kinds: list[str] = field(default_factory=list)
    checked: int = 0

    @property
    def ok(self) -> bool:
        """No errors and nothing left unchecked."""
        return not self.errors and not self.unknown_kinds


def validate_manifests(manifests: dict[str, dict[str, Any]], kubernetes_version: str) -> SchemaReport:
    """Validate every manifest strictly; collect all errors, each as `path: message`."""
    folder = schema_version(kubernetes_version)
    report = SchemaReport(version=folder)
    for name in sorted(manifests):
        manifest = manifests[name]
        validator = _validator(folder, str(manifest.get("kind")), str(manifest.get("apiVersion")))
        if validator is None:
            report.unknown_kinds.append(f"{name}: no schema for {manifest.get('apiVersion')} {manifest.get('kind')}")
            continue
        report.checked += 1
        errors = sorted(validator.iter_errors(manifest), key=lambda e: [str(p) for p in e.absolute_path])
        if errors:
            report.errors[name] = [
                f"{'.'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message}" for e in errors
            ]
    return report
