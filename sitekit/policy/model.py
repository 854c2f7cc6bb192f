"""The shapes policies work on, independent of where the resources come from.

CrossGuard hands a policy `(args, report_violation)`; `sitekit plan` has recorded mock registrations.
Both reduce to `Resource` (type token, name, URN, camelCased properties), so each rule is written once as
a plain function and tested without starting a policy server.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sitekit.spec import Site


@dataclass(frozen=True)
class Resource:
    """One declared resource as a policy sees it (inputs, camelCased as on the wire)."""

    type: str
    name: str
    urn: str
    props: Mapping[str, Any]

    @property
    def kind(self) -> str:
        """The Kubernetes kind, or "" for non-Kubernetes resources."""
        return str(self.props.get("kind") or "")

    @property
    def metadata(self) -> Mapping[str, Any]:
        """The object's metadata (empty if absent)."""
        meta = self.props.get("metadata")
        return meta if isinstance(meta, Mapping) else {}

    @property
    def namespace(self) -> str:
        """metadata.namespace ("" when cluster-scoped or unset)."""
        return str(self.metadata.get("namespace") or "")

    @property
    def object_name(self) -> str:
        """metadata.name, falling back to the Pulumi name."""
        return str(self.metadata.get("name") or self.name)

    @property
    def ref(self) -> str:
        """How violations name the object: `Kind namespace/name`."""
        if not self.kind:
            return f"{self.type} {self.name}"
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {where}{self.object_name}"


@dataclass(frozen=True)
class Violation:
    """A policy's finding about one object (or about the stack when `resource` is None)."""

    policy: str
    message: str
    resource: Resource | None = None

    def __str__(self) -> str:
        where = f"{self.resource.ref}: " if self.resource else ""
        return f"[{self.policy}] {where}{self.message}"


ResourceCheck = Callable[[Site, Resource], Iterable[str]]
StackCheck = Callable[[Site, Sequence[Resource]], Iterable[tuple[Resource | None, str]]]


@dataclass(frozen=True)
class ResourcePolicy:
    """A rule over one resource at a time."""

    name: str
    description: str
    check: ResourceCheck


@dataclass(frozen=True)
class StackPolicy:
    """A rule that needs every resource of the stack (e.g. "every namespace has a default-deny")."""

    name: str
    description: str
    check: StackCheck


Policy = ResourcePolicy | StackPolicy
