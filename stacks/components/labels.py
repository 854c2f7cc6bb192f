"""Labels and small helpers every component uses, so selectors and policies agree on spelling."""

from __future__ import annotations

from typing import Any, Literal

from sitekit.policy.conventions import EXEMPTION_ANNOTATION, PSS_LEVEL_LABELS, ROLE_LABEL, TENANT_LABEL

NamespaceRole = Literal["system", "ingress", "serving", "tenant"]

PART_OF = {"app.kubernetes.io/part-of": "sitekit", "app.kubernetes.io/managed-by": "pulumi"}


def namespace_metadata(
    name: str,
    role: NamespaceRole,
    kubernetes_version: str,
    *,
    tenant: str | None = None,
    privileged_reason: str | None = None,
) -> dict[str, Any]:
    """Metadata for a namespace: Pod Security level (enforce, audit, warn, pinned to the cluster's version).

    `restricted` everywhere; `privileged` only with a written reason, which lands in an annotation so an
    auditor reading the cluster sees why.
    """
    level = "privileged" if privileged_reason else "restricted"
    labels: dict[str, str] = {ROLE_LABEL: role, **PART_OF}
    for key in PSS_LEVEL_LABELS:
        labels[key] = level
        labels[f"{key}-version"] = f"v{kubernetes_version}"
    if tenant:
        labels[TENANT_LABEL] = tenant
    meta: dict[str, Any] = {"name": name, "labels": labels}
    if privileged_reason:
        meta["annotations"] = {EXEMPTION_ANNOTATION: privileged_reason}
    return meta


def app_labels(app: str, component: str) -> dict[str, str]:
    """Recommended app labels; `app.kubernetes.io/name` is what selectors use."""
    return {"app.kubernetes.io/name": app, "app.kubernetes.io/component": component, **PART_OF}
