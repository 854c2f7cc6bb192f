"""Strict schema validation: the site's exact version, unknown fields rejected, every error reported."""

from __future__ import annotations

import pytest

from sitekit.errors import UserError
from sitekit.plan.schema import schema_version, shipped_versions, validate_manifests


def test_exact_minor_is_used_and_unshipped_versions_are_refused() -> None:
    assert (1, 30) in shipped_versions()
    assert schema_version("1.30") == "v1.30.0-local-strict"
    with pytest.raises(UserError, match=r"no schemas for Kubernetes 1\.99"):
        schema_version("1.99")


def test_every_error_is_reported_with_its_path() -> None:
    bad = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "x", "namespace": "y", "lables": {}},
        "data": {"k": 1},
        "extra": True,
    }
    report = validate_manifests({"y/configmap-x.yaml": bad}, "1.30")
    errors = report.errors["y/configmap-x.yaml"]
    assert len(errors) == 3
    assert any(e.startswith("(root): Additional properties") and "extra" in e for e in errors)
    assert any(e.startswith("metadata: Additional properties") and "lables" in e for e in errors)
    assert any(e.startswith("data.k: 1 is not of type") for e in errors)


def test_unknown_kind_is_not_silently_passed() -> None:
    report = validate_manifests({"a.yaml": {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {}}}, "1.30")
    assert not report.ok and report.unknown_kinds == ["a.yaml: no schema for example.com/v1 Widget"]
