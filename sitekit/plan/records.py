"""What a mocked run of the stack program declared, in the shape the engine would see it.

Under Pulumi's mocks inputs arrive as the engine sees them: camelCased, every number a float, secrets
wrapped in a signature object. `normalise` undoes the last two so manifests read as Kubernetes objects,
and remembers which values were secret so the writer can redact them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"

HELM_TYPES = ("kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v4:Chart", "kubernetes:helm.sh/v3:Chart")
YAML_TYPES = (
    "kubernetes:yaml:ConfigFile",
    "kubernetes:yaml:ConfigGroup",
    "kubernetes:yaml/v2:ConfigFile",
    "kubernetes:yaml/v2:ConfigGroup",
    "kubernetes:kustomize:Directory",
    "kubernetes:kustomize/v2:Directory",
)


@dataclass(frozen=True)
class Recorded:
    """One resource registration: its type token, logical name, URN, inputs and secret paths."""

    type: str
    name: str
    urn: str
    props: dict[str, Any]
    custom: bool
    secret_paths: tuple[tuple[str, ...], ...] = field(default=())
    provider: str = ""

    @property
    def is_kubernetes_object(self) -> bool:
        """A plain Kubernetes object (has apiVersion and kind), not a chart or a component."""
        return self.type.startswith("kubernetes:") and "kind" in self.props and "apiVersion" in self.props

    @property
    def is_unexpanded(self) -> bool:
        """A chart or YAML bundle the provider expands at deploy time: its objects are invisible offline."""
        return self.type in HELM_TYPES or self.type in YAML_TYPES


def normalise(value: Any, path: tuple[str, ...] = (), secrets: list[tuple[str, ...]] | None = None) -> Any:
    """Unwrap secrets (recording their paths) and turn integral floats back into ints."""
    if isinstance(value, dict):
        if value.get(SECRET_SIG_KEY) == SECRET_SIG:
            if secrets is not None:
                secrets.append(path)
            return normalise(value.get("value"), path, secrets)
        return {str(k): normalise(v, (*path, str(k)), secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [normalise(v, (*path, str(i)), secrets) for i, v in enumerate(value)]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value
