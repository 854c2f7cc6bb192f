"""Pod Security `restricted` for every workload and namespace, except the documented GPU operator namespace.

The namespace labels make the API server enforce it at admission; checking workloads before deploying
gives the same answer earlier, with the container and field named.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from sitekit.policy.conventions import EXEMPTION_ANNOTATION, GPU_OPERATOR_NAMESPACE, PSS_LEVEL_LABELS
from sitekit.policy.model import Resource
from sitekit.policy.workloads import containers, pod_spec
from sitekit.spec import Site

RESTRICTED_POLICY = "sitekit-pod-security-restricted"
NAMESPACE_POLICY = "sitekit-namespace-pod-security"

_ALLOWED_VOLUMES = frozenset(
    {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"}
)
_SECCOMP_OK = frozenset({"RuntimeDefault", "Localhost"})


def _effective(container: Mapping[str, Any], pod: Mapping[str, Any], key: str) -> Any:
    own = (container.get("securityContext") or {}).get(key)
    return own if own is not None else (pod.get("securityContext") or {}).get(key)


def check_restricted(site: Site, resource: Resource) -> Iterator[str]:
    """The `restricted` profile: no host namespaces or paths, non-root, no escalation, caps dropped, seccomp."""
    spec = pod_spec(resource)
    if spec is None or resource.namespace == GPU_OPERATOR_NAMESPACE:
        return
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(field):
            yield f"{field} is true"
    for volume in spec.get("volumes") or []:
        kinds = set(volume) - {"name"}
        if not kinds <= _ALLOWED_VOLUMES:
            yield f"volume {volume.get('name')!r} uses {', '.join(sorted(kinds - _ALLOWED_VOLUMES))}"
    for where, c in containers(spec):
        ctx = c.get("securityContext") or {}
        if ctx.get("privileged"):
            yield f"{where}: privileged is true"
        if ctx.get("allowPrivilegeEscalation") is not False:
            yield f"{where}: allowPrivilegeEscalation must be false"
        if _effective(c, spec, "runAsNonRoot") is not True:
            yield f"{where}: runAsNonRoot must be true"
        if _effective(c, spec, "runAsUser") == 0:
            yield f"{where}: runAsUser is 0 (root)"
        seccomp = _effective(c, spec, "seccompProfile") or {}
        if seccomp.get("type") not in _SECCOMP_OK:
            yield f"{where}: seccompProfile.type must be RuntimeDefault or Localhost"
        caps = ctx.get("capabilities") or {}
        if "ALL" not in (caps.get("drop") or []):
            yield f"{where}: capabilities.drop must include ALL"
        extra = set(caps.get("add") or []) - {"NET_BIND_SERVICE"}
        if extra:
            yield f"{where}: capabilities.add {sorted(extra)} (only NET_BIND_SERVICE is allowed)"
        for port in c.get("ports") or []:
            if port.get("hostPort"):
                yield f"{where}: hostPort {port['hostPort']}"


def check_namespace_labels(site: Site, resource: Resource) -> Iterator[str]:
    """Namespaces enforce, audit and warn `restricted` at a pinned version; the exemption says why."""
    if resource.kind != "Namespace":
        return
    labels = resource.metadata.get("labels") or {}
    exempt = resource.object_name == GPU_OPERATOR_NAMESPACE
    want = "privileged" if exempt else "restricted"
    for key in PSS_LEVEL_LABELS:
        if labels.get(key) != want:
            yield f"label {key} is {labels.get(key)!r}, expected {want!r}"
        if not labels.get(f"{key}-version"):
            yield f"label {key}-version is missing"
    if exempt and not (resource.metadata.get("annotations") or {}).get(EXEMPTION_ANNOTATION):
        yield f"the Pod Security exemption has no reason (annotation {EXEMPTION_ANNOTATION})"
