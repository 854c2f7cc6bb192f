"""The stack owns every field it declares: a hand edit to one of them is drift, and `pulumi up` reverts it.

The Kubernetes provider applies objects with server-side apply. When someone edits a field the stack
declares (`kubectl edit`, another controller), that field gets a second manager, and the next apply stops
with a conflict unless it is forced. For a sovereign site the spec is the source of truth, so every object
the stack declares carries `pulumi.com/patchForce: "true"`: `pulumi up --refresh` sees the edit and takes
the field back. Fields the stack does not declare (the replicas an autoscaler sets, a status) keep their
own managers; forcing only reclaims fields present in the stack's own apply.

`owned_by_the_stack` is a resource transformation set once on the site component, so every Kubernetes
object below it, present and future, gets the annotation without each component repeating it.
"""

from __future__ import annotations

from typing import Any

import pulumi

PATCH_FORCE = "pulumi.com/patchForce"
_NOT_OBJECTS = ("kubernetes:helm.sh/", "pulumi:providers:")


def owned_by_the_stack(args: pulumi.ResourceTransformationArgs) -> pulumi.ResourceTransformationResult | None:
    """Add the patch-force annotation to the metadata of a Kubernetes object the stack declares."""
    if not args.type_.startswith("kubernetes:") or args.type_.startswith(_NOT_OBJECTS):
        return None
    props: dict[str, Any] = dict(args.props)
    metadata = props.get("metadata")
    if not isinstance(metadata, dict):
        raise TypeError(f"{args.type_} {args.name}: metadata must be a plain dict for the ownership annotation")
    annotations = {**(metadata.get("annotations") or {}), PATCH_FORCE: "true"}
    props["metadata"] = {**metadata, "annotations": annotations}
    return pulumi.ResourceTransformationResult(props, args.opts)
