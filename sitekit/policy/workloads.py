"""Finding pod specs, containers and GPU requests inside any workload kind."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from sitekit.policy.model import Resource

WORKLOAD_KINDS = frozenset(
    {"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "ReplicationController"}
)
CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")


def _dig(obj: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(key)
    return obj


def pod_spec(resource: Resource) -> Mapping[str, Any] | None:
    """The pod spec of a workload, or None if the resource is not one."""
    if resource.kind not in WORKLOAD_KINDS:
        return None
    props = resource.props
    if resource.kind == "Pod":
        spec = _dig(props, "spec")
    elif resource.kind == "CronJob":
        spec = _dig(props, "spec", "jobTemplate", "spec", "template", "spec")
    else:
        spec = _dig(props, "spec", "template", "spec")
    return spec if isinstance(spec, Mapping) else {}


def pod_labels(resource: Resource) -> Mapping[str, str]:
    """Labels of the pods a workload creates."""
    if resource.kind == "Pod":
        labels = _dig(resource.props, "metadata", "labels")
    elif resource.kind == "CronJob":
        labels = _dig(resource.props, "spec", "jobTemplate", "spec", "template", "metadata", "labels")
    else:
        labels = _dig(resource.props, "spec", "template", "metadata", "labels")
    return {str(k): str(v) for k, v in labels.items()} if isinstance(labels, Mapping) else {}


def containers(spec: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(`containers[i]` path, container) for every container, init and ephemeral included."""
    for field in CONTAINER_LISTS:
        items = spec.get(field) or []
        for i, container in enumerate(items):
            if isinstance(container, Mapping):
                yield f"{field}[{i}] {container.get('name', '?')}", container


def replicas(resource: Resource) -> int:
    """Pods a workload runs at most (Deployment-like: spec.replicas, default 1; Job: parallelism)."""
    if resource.kind in ("Deployment", "StatefulSet", "ReplicaSet", "ReplicationController"):
        value = _dig(resource.props, "spec", "replicas")
        return int(value) if value is not None else 1
    if resource.kind == "Job":
        value = _dig(resource.props, "spec", "parallelism")
        return int(value) if value is not None else 1
    return 1


def quantity(value: Any) -> float:
    """A Kubernetes quantity as a number (only plain and milli forms matter for GPU counts)."""
    text = str(value).strip()
    if text.endswith("m"):
        return float(text[:-1]) / 1000
    return float(text)


def gpu_per_pod(spec: Mapping[str, Any], resource_name: str) -> float:
    """GPUs one pod requests: sum over app containers, or the largest init container if bigger."""

    def ask(container: Mapping[str, Any]) -> float:
        res = container.get("resources") or {}
        for key in ("requests", "limits"):  # extended resources: requests default to limits
            section = res.get(key) or {}
            if resource_name in section:
                return quantity(section[resource_name])
        return 0.0

    app = sum(ask(c) for c in spec.get("containers") or [] if isinstance(c, Mapping))
    init = max((ask(c) for c in spec.get("initContainers") or [] if isinstance(c, Mapping)), default=0.0)
    return max(app, init)
