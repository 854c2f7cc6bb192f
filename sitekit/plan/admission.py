"""A model of what the API server's built-in validation and admission do to the plan's objects.

`sitekit plan` has no API server, yet a green plan must mean the objects would be stored and their pods
created. This module applies, offline, the parts of the API server that decide that:

- **names and labels** (object validation): DNS-1123 labels and subdomains, DNS-1035 labels for
  Services, RBAC path-segment names, qualified label and annotation keys, label values, IANA port names
  (https://kubernetes.io/docs/concepts/overview/working-with-objects/names/ and
  https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#syntax-and-character-set);
- **object fields**: Service port names (all named when there are several, unique), Ingress hosts (DNS
  names, not IP addresses), container port names, LimitRange item types (ValidateService,
  validateIngressRules, validateContainerPorts, ValidateLimitRange);
- **sizes**: ConfigMap and Secret data at most 1 MiB of decoded values, annotations at most 256 KiB in all
  (https://kubernetes.io/docs/concepts/configuration/configmap/,
  https://kubernetes.io/docs/concepts/configuration/secret/#restriction-data-size,
  https://kubernetes.io/docs/concepts/overview/working-with-objects/annotations/#syntax-and-character-set);
- **NamespaceLifecycle**: a namespaced object only in a namespace the stack declares or every cluster has
  (https://kubernetes.io/docs/reference/access-authn-authz/admission-controllers/#namespacelifecycle);
- **LimitRanger** on the pods a workload will create: requests defaulted from limits, then `default` and
  `defaultRequest` filled in, then `min`, `max` and `maxLimitRequestRatio` enforced per container and on
  the pod's totals (sidecars included), and the pod's own rule that a request never exceeds its limit
  (https://kubernetes.io/docs/concepts/policy/limit-range/);
- **ResourceQuota**: a pod must name every compute resource a quota tracks, and a namespace's workloads
  at their maximum replicas (the autoscaler's ceiling where one exists) plus its other objects must fit
  every quota, object counts included (https://kubernetes.io/docs/concepts/policy/resource-quotas/).

It is a model, not an API server: it covers the rules above for the kinds the stack declares; the lab's
real control plane (`sitekit lab up --tier cluster`, `pulumi up`) is where the model is checked against
the real thing.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import re
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from sitekit.plan.quantity import QuantityError, parse, show

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
"""Namespaces every cluster has (NamespaceLifecycle never lets them be deleted)."""

IMPLICIT_PER_NAMESPACE = {"configmaps": 1, "count/configmaps": 1, "count/serviceaccounts": 1}
"""Objects the control plane creates in every namespace (the `kube-root-ca.crt` ConfigMap, the `default`
ServiceAccount), under the quota names that count them; they count against quotas like any other."""

MAX_DATA_BYTES = 1024 * 1024
MAX_ANNOTATION_BYTES = 256 * 1024

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
_IANA_SVC_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
_WILDCARD_HOST = re.compile(r"^\*\.")
_CONSONANT_Y = re.compile(r"([^aeiou])y$")

RBAC_KINDS = {"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"}
LABEL_NAMED_KINDS = {"Namespace"}
DNS1035_NAMED_KINDS = {"Service"}
CLUSTER_SCOPED = {
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "PriorityClass",
    "StorageClass",
    "IngressClass",
    "CustomResourceDefinition",
    "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration",
    "PersistentVolume",
    "Node",
    "RuntimeClass",
    "APIService",
}
COMPUTE_QUOTA = {
    "cpu": ("requests", "cpu"),
    "memory": ("requests", "memory"),
    "requests.cpu": ("requests", "cpu"),
    "requests.memory": ("requests", "memory"),
    "limits.cpu": ("limits", "cpu"),
    "limits.memory": ("limits", "memory"),
}
"""Quota keys that every container of a pod, init containers included, must specify when a quota tracks
them, and where they come from: CPU and memory only (`validationSet` of the v1.30 pod quota evaluator, which
keeps ephemeral-storage, extended resources and hugepages out of this rule on purpose)."""


@dataclass(frozen=True)
class AdmissionFailure:
    """One object the API server would refuse, or whose pods it would refuse, and why."""

    rule: str
    obj: str
    message: str

    def __str__(self) -> str:
        return f"[admission:{self.rule}] {self.obj}: {self.message}"


@dataclass
class AdmissionReport:
    """What the model checked and what it refused."""

    checked: int = 0
    failures: list[AdmissionFailure] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every object and every pod it creates would be admitted."""
        return not self.failures


def describe(obj: Mapping[str, Any]) -> str:
    """`Kind namespace/name` or `Kind name` for cluster-scoped objects."""
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace")
    return f"{obj.get('kind')} {ns + '/' if ns else ''}{meta.get('name')}"


def namespace_of(obj: Mapping[str, Any]) -> str:
    """The namespace a namespaced object lands in: its own, or `default` when it names none."""
    return str((obj.get("metadata") or {}).get("namespace") or "default")


@dataclass(frozen=True)
class PodTemplate:
    """A pod that a workload object will create, and how many at most."""

    owner: Mapping[str, Any]
    spec: Mapping[str, Any]
    labels: Mapping[str, Any]
    replicas: int
    path: str


def pod_templates(
    obj: Mapping[str, Any], max_replicas: Mapping[tuple[str, str, str], int], nodes: int
) -> list[PodTemplate]:
    """The pod templates of a workload, with the most pods of it that can exist at once."""
    kind = obj.get("kind")
    spec = obj.get("spec") or {}
    meta = obj.get("metadata") or {}
    key = (str(kind), namespace_of(obj), str(meta.get("name")))
    if kind == "Pod":
        return [PodTemplate(obj, spec, meta.get("labels") or {}, 1, "spec")]

    def from_template(holder: Mapping[str, Any], count: int, path: str) -> list[PodTemplate]:
        template = holder.get("template") or {}
        labels = (template.get("metadata") or {}).get("labels") or {}
        return [PodTemplate(obj, template.get("spec") or {}, labels, count, path)]

    if kind in ("Deployment", "StatefulSet", "ReplicaSet", "ReplicationController"):
        return from_template(spec, max_replicas.get(key, int(spec.get("replicas", 1))), "spec.template.spec")
    if kind == "DaemonSet":
        return from_template(spec, nodes, "spec.template.spec")
    if kind == "Job":
        return from_template(spec, int(spec.get("parallelism", 1)), "spec.template.spec")
    if kind == "CronJob":
        job = (spec.get("jobTemplate") or {}).get("spec") or {}
        return from_template(job, int(job.get("parallelism", 1)), "spec.jobTemplate.spec.template.spec")
    return []


def autoscaler_ceilings(objects: Sequence[Mapping[str, Any]]) -> dict[tuple[str, str, str], int]:
    """`maxReplicas` of every HorizontalPodAutoscaler, keyed by the workload it scales."""
    out: dict[tuple[str, str, str], int] = {}
    for obj in objects:
        if obj.get("kind") != "HorizontalPodAutoscaler":
            continue
        spec = obj.get("spec") or {}
        ref = spec.get("scaleTargetRef") or {}
        out[(str(ref.get("kind")), namespace_of(obj), str(ref.get("name")))] = int(spec.get("maxReplicas", 1))
    return out


# --- names, labels, sizes -------------------------------------------------------------------------------


def _name_problem(kind: str, name: str) -> str | None:
    if not name:
        return "metadata.name is required"
    if kind in RBAC_KINDS:
        if name in (".", "..") or "/" in name or "%" in name:
            return f"name {name!r} may not be '.', '..' or contain '/' or '%'"
        return None
    if kind in LABEL_NAMED_KINDS:
        if len(name) > 63 or not _DNS1123_LABEL.match(name):
            return f"name {name!r} must be a DNS-1123 label (lower-case alphanumerics and '-', at most 63 characters)"
        return None
    if kind in DNS1035_NAMED_KINDS:
        if len(name) > 63 or not _DNS1035_LABEL.match(name):
            return (
                f"name {name!r} must be a DNS-1035 label (start with a letter; lower-case alphanumerics and '-', "
                "at most 63 characters)"
            )
        return None
    if len(name) > 253 or not _DNS1123_SUBDOMAIN.match(name):
        return f"name {name!r} must be a DNS-1123 subdomain (lower-case alphanumerics, '-' and '.', at most 253)"
    return None


def _qualified_key_problem(key: str) -> str | None:
    prefix, slash, name = key.rpartition("/")
    if slash and (len(prefix) > 253 or not _DNS1123_SUBDOMAIN.match(prefix)):
        return f"key {key!r}: prefix must be a DNS-1123 subdomain"
    if not name or len(name) > 63 or not _QUALIFIED_NAME.match(name):
        return f"key {key!r}: name part must be 1-63 alphanumerics, '-', '_' or '.', starting and ending alphanumeric"
    return None


def label_problems(labels: Mapping[str, Any], where: str) -> Iterator[str]:
    """Problems of one label map (keys qualified names, values label values)."""
    for key, value in labels.items():
        problem = _qualified_key_problem(str(key))
        if problem:
            yield f"{where}: {problem}"
        text = str(value)
        if len(text) > 63 or not _LABEL_VALUE.match(text):
            yield (
                f"{where}: value {text!r} of {key!r} must be at most 63 alphanumerics, '-', '_' or '.', "
                "starting and ending alphanumeric"
            )


_BASE64_SECTIONS = {"ConfigMap": "binaryData", "Secret": "data"}
"""The section of each kind whose values are bytes, sent base64-encoded in the object."""


def _data_sizes(obj: Mapping[str, Any]) -> tuple[dict[str, int], list[str]]:
    """The bytes of each key's value as the API server counts them against the 1 MiB limit, and the values
    that are not base64 where bytes are expected.

    ValidateConfigMap and ValidateSecret (v1.30) count the values only, not the keys, after decoding:
    `binaryData` of a ConfigMap and `data` of a Secret are base64 in the object; a Secret's `stringData`
    is text that replaces `data` under the same key (Secret conversion, "StringData overwrites Data").
    """
    kind = str(obj.get("kind"))
    sizes: dict[str, int] = {}
    bad: list[str] = []
    sections = ("data", "stringData") if kind == "Secret" else ("data", "binaryData")
    for section in sections:
        for key, value in (obj.get(section) or {}).items():
            if section == _BASE64_SECTIONS[kind]:
                try:
                    size = len(base64.b64decode(str(value), validate=True))
                except binascii.Error:
                    bad.append(f"{section}[{key!r}] is not valid base64")
                    continue  # refused for that already; it has no size
            else:
                size = len(str(value).encode())
            sizes[f"{section}/{key}" if kind == "ConfigMap" else str(key)] = size
    return sizes, bad


_LIMIT_TYPES = ("Container", "Pod", "PersistentVolumeClaim")


def _limit_range_problems(spec: Mapping[str, Any]) -> Iterator[str]:
    """ValidateLimitRange (v1.30): every item has a type, a standard one or a prefixed name, each type at most
    once; a Pod item sets no `default` or `defaultRequest` (there is no pod-level default)."""
    seen: set[str] = set()
    for i, item in enumerate(spec.get("limits") or []):
        kind = str(item.get("type") or "")
        if kind not in _LIMIT_TYPES and ("/" not in kind or _qualified_key_problem(kind)):
            yield f"spec.limits[{i}].type {kind!r} must be Container, Pod, PersistentVolumeClaim or a prefixed name"
        elif kind in seen:
            yield f"spec.limits[{i}].type {kind!r} is used twice"
        seen.add(kind)
        if kind == "Pod":
            for key in ("default", "defaultRequest"):
                if item.get(key):
                    yield f"spec.limits[{i}].{key} may not be specified when type is 'Pod'"


def object_problems(obj: Mapping[str, Any]) -> Iterator[AdmissionFailure]:
    """Validation of one object's names, labels, annotations and size."""
    kind = str(obj.get("kind"))
    meta = obj.get("metadata") or {}
    who = describe(obj)
    problem = _name_problem(kind, str(meta.get("name") or ""))
    if problem:
        yield AdmissionFailure("names", who, problem)
    ns = meta.get("namespace")
    if ns is not None and (len(str(ns)) > 63 or not _DNS1123_LABEL.match(str(ns))):
        yield AdmissionFailure("names", who, f"namespace {ns!r} must be a DNS-1123 label")
    for msg in label_problems(meta.get("labels") or {}, "metadata.labels"):
        yield AdmissionFailure("labels", who, msg)
    annotations = meta.get("annotations") or {}
    size = 0
    for key, value in annotations.items():
        key_problem = _qualified_key_problem(str(key))
        if key_problem:
            yield AdmissionFailure("annotations", who, f"metadata.annotations: {key_problem}")
        size += len(str(key).encode()) + len(str(value).encode())
    if size > MAX_ANNOTATION_BYTES:
        yield AdmissionFailure(
            "annotations",
            who,
            f"metadata.annotations total {size} bytes, more than the limit of {MAX_ANNOTATION_BYTES}",
        )
    if kind in ("ConfigMap", "Secret"):
        # IsConfigMapKey: at most 253 of alphanumerics, '-', '_' and '.', never '.' and never starting '..'
        for section in ("data", "binaryData", "stringData"):
            for key in obj.get(section) or {}:
                if len(str(key)) > 253 or not _CONFIG_KEY.match(str(key)) or str(key) == "." or str(key)[:2] == "..":
                    yield AdmissionFailure(
                        "names", who, f"{section} key {key!r} must consist of alphanumerics, '-', '_' or '.', "
                        "and may not be '.' or start with '..'"
                    )
        if kind == "ConfigMap":
            for key in sorted((obj.get("data") or {}).keys() & (obj.get("binaryData") or {}).keys()):
                yield AdmissionFailure("names", who, f"data key {key!r} is also a key of binaryData")
        sizes, undecodable = _data_sizes(obj)
        for problem in undecodable:
            yield AdmissionFailure("validation", who, problem)
        size = sum(sizes.values())
        if size > MAX_DATA_BYTES:
            yield AdmissionFailure(
                "size", who, f"data is {size} bytes, more than the {kind} limit of {MAX_DATA_BYTES} (1 MiB)"
            )
    spec = obj.get("spec") or {}
    selector = spec.get("selector")
    if isinstance(selector, Mapping):
        labels = selector.get("matchLabels") if "matchLabels" in selector else (selector if kind == "Service" else {})
        for msg in label_problems(labels or {}, "spec.selector"):
            yield AdmissionFailure("labels", who, msg)
    if kind == "LimitRange":
        yield from (AdmissionFailure("validation", who, problem) for problem in _limit_range_problems(spec))
    if kind == "Ingress":
        # validateIngressRules: a host is a DNS name, not an IP address (IngressRule API reference: "IPs are not
        # allowed"), and a DNS-1123 subdomain of at most 253 characters, optionally after a leading "*.".
        for i, rule in enumerate(spec.get("rules") or []):
            host = str(rule.get("host") or "")
            if not host:
                continue
            if _is_ip(host):
                yield AdmissionFailure("names", who, f"spec.rules[{i}].host {host!r} must be a DNS name, not an IP")
            elif len(host) > 253 or not _DNS1123_SUBDOMAIN.match(_WILDCARD_HOST.sub("", host)):
                yield AdmissionFailure("names", who, f"spec.rules[{i}].host {host!r} must be a DNS-1123 subdomain")
    if kind == "Service":
        # validateServicePort: with more than one port every port needs a name (services page, "Multi-port
        # Services"); a name given is a DNS-1123 label, unique within the Service.
        ports = spec.get("ports") or []
        port_names: set[str] = set()
        for i, port in enumerate(ports):
            name = str(port.get("name") or "")
            if not name:
                if len(ports) > 1:
                    yield AdmissionFailure("names", who, f"spec.ports[{i}].name is required when a Service has "
                                           "more than one port")
                continue
            if len(name) > 63 or not _DNS1123_LABEL.match(name):
                yield AdmissionFailure("names", who, f"spec.ports[{i}].name {name!r} must be a DNS-1123 label")
            if name in port_names:
                yield AdmissionFailure("names", who, f"spec.ports[{i}].name {name!r} is used twice in the Service")
            port_names.add(name)


def _is_ip(host: str) -> bool:
    """Whether the API server reads `host` as an IP address (netutils.ParseIPSloppy): four dot-separated
    decimal numbers up to 255, leading zeros allowed, or an IPv6 address."""
    parts = host.split(".")
    if len(parts) == 4 and all(p.isascii() and p.isdigit() and int(p) <= 255 for p in parts):
        return True
    try:
        ipaddress.IPv6Address(host)
    except ValueError:
        return False
    return True


def pod_problems(template: PodTemplate) -> Iterator[AdmissionFailure]:
    """Validation of a pod template: container and port names, template and node-selector labels."""
    who = describe(template.owner)
    # the template's labels sit beside its spec: spec.template.metadata.labels, or a Pod's own metadata.labels
    for msg in label_problems(template.labels, f"{template.path.removesuffix('spec')}metadata.labels"):
        yield AdmissionFailure("labels", who, msg)
    for msg in label_problems(template.spec.get("nodeSelector") or {}, f"{template.path}.nodeSelector"):
        yield AdmissionFailure("labels", who, msg)
    seen: set[str] = set()
    for section in ("initContainers", "containers"):
        for i, container in enumerate(template.spec.get(section) or []):
            name = str(container.get("name") or "")
            if len(name) > 63 or not _DNS1123_LABEL.match(name):
                yield AdmissionFailure("names", who, f"{section}[{i}] name {name!r} must be a DNS-1123 label")
            if name in seen:
                yield AdmissionFailure("names", who, f"{section}[{i}] name {name!r} is used twice in the pod")
            seen.add(name)
            # validateContainerPorts: a name, when given, is an IANA service name unique within the container
            port_names: set[str] = set()
            for j, port in enumerate(container.get("ports") or []):
                pname = str(port.get("name") or "")
                if not pname:
                    continue
                if not _valid_port_name(pname):
                    yield AdmissionFailure(
                        "names",
                        who,
                        f"{section}[{i}].ports[{j}] name {pname!r} must be an IANA service name (at most 15 "
                        "lower-case alphanumerics and '-', with a letter, no '--')",
                    )
                elif pname in port_names:
                    yield AdmissionFailure(
                        "names", who, f"{section}[{i}].ports[{j}] name {pname!r} is used twice in the container"
                    )
                port_names.add(pname)


def _valid_port_name(name: str) -> bool:
    """IsValidPortName: at most 15 lower-case alphanumerics and '-', a letter among them, no '--', no '-' at
    either end (the pattern also makes it non-empty)."""
    return (
        len(name) <= 15 and bool(_IANA_SVC_NAME.match(name)) and "--" not in name and any(c.isalpha() for c in name)
    )


# --- LimitRanger ----------------------------------------------------------------------------------------


def _resources(container: Mapping[str, Any], kind: str) -> dict[str, Fraction]:
    raw = (container.get("resources") or {}).get(kind) or {}
    return {str(k): parse(v) for k, v in raw.items()}


@dataclass
class EffectiveContainer:
    """A container's requests and limits after defaulting and LimitRanger."""

    section: str
    index: int
    name: str
    requests: dict[str, Fraction]
    limits: dict[str, Fraction]
    defaulted_limits: set[str] = field(default_factory=set)
    sidecar: bool = False
    """An init container with `restartPolicy: Always`: it keeps running beside the app containers."""


def limit_ranges_by_namespace(objects: Sequence[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    """Every LimitRange item, grouped by namespace."""
    out: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for obj in objects:
        if obj.get("kind") == "LimitRange":
            out[namespace_of(obj)] += list((obj.get("spec") or {}).get("limits") or [])
    return out


def _ratio_problem(
    res: str, value: Any, requests: Mapping[str, Fraction], limits: Mapping[str, Fraction]
) -> str | None:
    """LimitRanger's `maxLimitRequestRatio`: a non-zero request and limit whose ratio is at most `value`.

    A missing or zero request or limit is refused, not skipped (LimitRangeItem API reference: "the named
    resource must have a request and limit that are both non-zero"; limitRequestRatioConstraint).
    """
    request, limit = requests.get(res), limits.get(res)
    if not request:
        return f"{res} max limit to request ratio is {value} but no request is specified or request is 0"
    if not limit:
        return f"{res} max limit to request ratio is {value} but no limit is specified or limit is 0"
    ratio = limit / request
    if ratio > parse(value):
        return f"{res} limit to request ratio {float(ratio):g} exceeds {value}"
    return None


def effective_containers(
    template: PodTemplate, limits: list[Mapping[str, Any]]
) -> tuple[list[EffectiveContainer], list[AdmissionFailure]]:
    """Apply the API server's defaulting and LimitRanger to a pod template's containers.

    The order is the API server's: pod defaulting copies a limit into a missing request; LimitRanger then
    sets `default` limits and `defaultRequest` requests where none is given, then enforces `min`, `max`
    and `maxLimitRequestRatio`; pod validation finally requires every request to be at most its limit.
    """
    who = describe(template.owner)
    failures: list[AdmissionFailure] = []
    out: list[EffectiveContainer] = []
    container_items = [item for item in limits if item.get("type") == "Container"]
    for section in ("initContainers", "containers"):
        for i, container in enumerate(template.spec.get(section) or []):
            name = str(container.get("name"))
            where = f"{section}[{i}] {name}"
            try:
                requests = _resources(container, "requests")
                lims = _resources(container, "limits")
            except QuantityError as exc:
                failures.append(AdmissionFailure("validation", who, f"{where}: {exc}"))
                continue
            for res, value in lims.items():
                requests.setdefault(res, value)
            sidecar = section == "initContainers" and container.get("restartPolicy") == "Always"
            eff = EffectiveContainer(section, i, name, requests, lims, sidecar=sidecar)
            for item in container_items:
                for res, value in (item.get("default") or {}).items():
                    if res not in eff.limits:
                        eff.limits[res] = parse(value)
                        eff.defaulted_limits.add(res)
                for res, value in (item.get("defaultRequest") or {}).items():
                    if res not in eff.requests:
                        eff.requests[res] = parse(value)
            for item in container_items:
                for res, value in (item.get("min") or {}).items():
                    bound = parse(value)
                    if res not in eff.requests:
                        failures.append(
                            AdmissionFailure(
                                "LimitRanger",
                                who,
                                f"{where}: minimum {res} usage is {value} but no request is specified",
                            )
                        )
                    elif eff.requests[res] < bound:
                        failures.append(
                            AdmissionFailure(
                                "LimitRanger",
                                who,
                                f"{where}: {res} request {show(eff.requests[res], res)} is below the LimitRange "
                                f"minimum {value}",
                            )
                        )
                for res, value in (item.get("max") or {}).items():
                    bound = parse(value)
                    if res not in eff.limits:
                        failures.append(
                            AdmissionFailure(
                                "LimitRanger", who, f"{where}: maximum {res} usage is {value} but no limit is specified"
                            )
                        )
                    elif eff.limits[res] > bound:
                        failures.append(
                            AdmissionFailure(
                                "LimitRanger",
                                who,
                                f"{where}: {res} limit {show(eff.limits[res], res)} exceeds the LimitRange "
                                f"maximum {value}",
                            )
                        )
                for res, value in (item.get("maxLimitRequestRatio") or {}).items():
                    problem = _ratio_problem(res, value, eff.requests, eff.limits)
                    if problem:
                        failures.append(AdmissionFailure("LimitRanger", who, f"{where}: {problem}"))
            for res, request in eff.requests.items():
                limit = eff.limits.get(res)
                if limit is not None and request > limit:
                    how = "the defaulted limit" if res in eff.defaulted_limits else "its limit"
                    rule = "LimitRanger" if res in eff.defaulted_limits else "validation"
                    failures.append(
                        AdmissionFailure(
                            rule, who, f"{where}: {res} request {show(request, res)} exceeds {how} {show(limit, res)}"
                        )
                    )
            out.append(eff)
    # Pod items judge the pod's totals (sum of app containers and sidecars, raised to the largest init
    # container): the v1.30 LimitRanger's podRequests/podLimits, with the same min/max/ratio rules.
    pod_requests, pod_limits = pod_totals(out, "requests"), pod_totals(out, "limits")
    for item in (item for item in limits if item.get("type") == "Pod"):
        problems: list[str] = []
        for res, value in (item.get("min") or {}).items():
            if res not in pod_requests:
                problems.append(f"minimum {res} usage per Pod is {value} but no request is specified")
            elif pod_requests[res] < parse(value):
                problems.append(f"{res} requests {show(pod_requests[res], res)} are below the per-Pod minimum {value}")
        for res, value in (item.get("max") or {}).items():
            if res not in pod_limits:
                problems.append(f"maximum {res} usage per Pod is {value} but no limit is specified")
            elif pod_limits[res] > parse(value):
                problems.append(f"{res} limits {show(pod_limits[res], res)} exceed the per-Pod maximum {value}")
            elif res in pod_requests and pod_requests[res] > parse(value):
                problems.append(f"{res} requests {show(pod_requests[res], res)} exceed the per-Pod maximum {value}")
        for res, value in (item.get("maxLimitRequestRatio") or {}).items():
            problem = _ratio_problem(res, value, pod_requests, pod_limits)
            if problem:
                problems.append(problem)
        failures += [AdmissionFailure("LimitRanger", who, f"pod: {problem}") for problem in problems]
    return out, failures


def pod_totals(containers: list[EffectiveContainer], kind: str) -> dict[str, Fraction]:
    """A pod's effective requests or limits, as the scheduler, LimitRanger and quota count them.

    The app containers' sum, plus every sidecar (an init container with `restartPolicy: Always`, which
    keeps running); that is raised to what any init container needs while it runs, together with the
    sidecars started before it (podRequests/podLimits in the v1.30 LimitRanger; the resource-management
    page, "Init containers" and "Sidecar containers").
    """
    totals: dict[str, Fraction] = {}
    for c in containers:
        if c.section == "containers":
            for res, value in getattr(c, kind).items():
                totals[res] = totals.get(res, Fraction(0)) + value
    sidecars: dict[str, Fraction] = {}
    peak: dict[str, Fraction] = {}
    for c in (c for c in containers if c.section == "initContainers"):
        own: Mapping[str, Fraction] = getattr(c, kind)
        if c.sidecar:
            for res, value in own.items():
                totals[res] = totals.get(res, Fraction(0)) + value
                sidecars[res] = sidecars.get(res, Fraction(0)) + value
            running = dict(sidecars)
        else:
            running = dict(own)
            for res, value in sidecars.items():
                running[res] = running.get(res, Fraction(0)) + value
        for res, value in running.items():
            peak[res] = max(peak.get(res, value), value)
    for res, value in peak.items():
        totals[res] = max(totals.get(res, value), value)
    return totals


# --- ResourceQuota --------------------------------------------------------------------------------------


def _count_key(obj: Mapping[str, Any]) -> str:
    """The object-count quota key of an object: `count/<resource>.<group>`, or `count/<resource>` in the core
    group (resource-quotas page, "Object count quota"), with the resource the kind's English plural."""
    group = str(obj.get("apiVersion")).rpartition("/")[0]
    kind = str(obj.get("kind"))
    singular = kind.lower()
    if kind == "Endpoints":
        plural = singular
    elif singular.endswith("s"):
        plural = singular + "es"
    else:
        plural = _CONSONANT_Y.sub(r"\1ie", singular) + "s"
    return f"count/{plural}.{group}" if group else f"count/{plural}"


_LEGACY_COUNTS = {
    "Service": "services",
    "ConfigMap": "configmaps",
    "Secret": "secrets",
    "PersistentVolumeClaim": "persistentvolumeclaims",
    "ReplicationController": "replicationcontrollers",
    "ResourceQuota": "resourcequotas",
}


def quota_usage(
    objects: list[Mapping[str, Any]],
    pods: list[tuple[PodTemplate, list[EffectiveContainer]]],
) -> dict[str, Fraction]:
    """What one namespace's objects hold at their peak: objects by count, pods at maximum replicas, PVC
    storage."""
    usage: dict[str, Fraction] = defaultdict(Fraction, {k: Fraction(n) for k, n in IMPLICIT_PER_NAMESPACE.items()})
    for obj in objects:
        kind = str(obj.get("kind"))
        if kind == "Pod":
            continue  # counted with the other pods below, from its template
        usage[_count_key(obj)] += 1
        if kind in _LEGACY_COUNTS:
            usage[_LEGACY_COUNTS[kind]] += 1
        spec = obj.get("spec") or {}
        if kind == "Service":
            stype = spec.get("type")  # ClusterIP when absent, which counts neither
            if stype == "LoadBalancer":
                usage["services.loadbalancers"] += 1
            if stype in ("NodePort", "LoadBalancer"):
                usage["services.nodeports"] += len(spec.get("ports") or [])
        if kind == "PersistentVolumeClaim":
            storage = ((spec.get("resources") or {}).get("requests") or {}).get("storage")
            if storage is not None:
                usage["requests.storage"] += parse(storage)
                cls = spec.get("storageClassName")
                if cls:
                    usage[f"{cls}.storageclass.storage.k8s.io/requests.storage"] += parse(storage)
                    usage[f"{cls}.storageclass.storage.k8s.io/persistentvolumeclaims"] += 1
    for template, containers in pods:
        n = template.replicas
        usage["pods"] += n
        usage["count/pods"] += n
        for res, value in pod_totals(containers, "requests").items():
            usage[f"requests.{res}"] += n * value
            if res in ("cpu", "memory", "ephemeral-storage"):
                usage[res] += n * value
        for res, value in pod_totals(containers, "limits").items():
            usage[f"limits.{res}"] += n * value
    return dict(usage)


def quota_problems(
    quota: Mapping[str, Any],
    usage: Mapping[str, Fraction],
    pods: list[tuple[PodTemplate, list[EffectiveContainer]]],
) -> Iterator[AdmissionFailure]:
    """A quota's refusals: pods missing a tracked compute resource, and any usage over a hard limit."""
    who = describe(quota)
    hard = (quota.get("spec") or {}).get("hard") or {}
    for key in hard:
        if key in COMPUTE_QUOTA:
            kind, res = COMPUTE_QUOTA[key]
            for template, containers in pods:
                for c in containers:
                    if res not in getattr(c, kind):
                        yield AdmissionFailure(
                            "ResourceQuota",
                            describe(template.owner),
                            f"{c.section}[{c.index}] {c.name}: must specify {key} (tracked by {who})",
                        )
    for key, value in hard.items():
        try:
            limit = parse(value)
        except QuantityError as exc:
            yield AdmissionFailure("validation", who, f"spec.hard[{key}]: {exc}")
            continue
        used = usage.get(key, Fraction(0))
        if used > limit:
            yield AdmissionFailure(
                "ResourceQuota",
                who,
                f"{key}: the namespace's objects need {show(used, key)} at their maximum replicas, above the hard "
                f"limit {value}",
            )


# --- the whole model ------------------------------------------------------------------------------------


def admit(objects: Sequence[Mapping[str, Any]], charts: Sequence[Mapping[str, Any]], nodes: int) -> AdmissionReport:
    """Judge every object (unredacted) and every pod the workloads would create, as the API server would."""
    report = AdmissionReport(checked=len(objects))
    declared = {str((o.get("metadata") or {}).get("name")) for o in objects if o.get("kind") == "Namespace"}
    known = declared | set(SYSTEM_NAMESPACES)
    by_ns: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for obj in objects:
        report.failures += object_problems(obj)
        ns = (obj.get("metadata") or {}).get("namespace")
        kind = str(obj.get("kind"))
        if kind in CLUSTER_SCOPED:
            if ns:
                report.failures.append(
                    AdmissionFailure(
                        "validation", describe(obj), f"{kind} is cluster-scoped; namespace {ns!r} is not allowed"
                    )
                )
            continue
        if not ns:
            ns = "default"
        if ns not in known:
            report.failures.append(
                AdmissionFailure(
                    "NamespaceLifecycle", describe(obj), f"namespace {ns!r} not found (the stack does not declare it)"
                )
            )
        by_ns[str(ns)].append(obj)
    for chart in charts:
        ns = chart.get("namespace")
        if ns and ns not in known:
            report.failures.append(
                AdmissionFailure("NamespaceLifecycle", f"chart {chart.get('chart')}", f"namespace {ns!r} not found")
            )
    ceilings = autoscaler_ceilings(objects)
    ranges = limit_ranges_by_namespace(objects)
    for ns, members in sorted(by_ns.items()):
        pods: list[tuple[PodTemplate, list[EffectiveContainer]]] = []
        for obj in members:
            for template in pod_templates(obj, ceilings, nodes):
                report.failures += pod_problems(template)
                containers, failures = effective_containers(template, ranges.get(ns, []))
                report.failures += failures
                pods.append((template, containers))
        quotas = [o for o in members if o.get("kind") == "ResourceQuota"]
        if quotas:
            usage = quota_usage(members, pods)
            for quota in quotas:
                report.failures += quota_problems(quota, usage, pods)
    report.failures = _unique(report.failures)
    return report


def _unique(failures: list[AdmissionFailure]) -> list[AdmissionFailure]:
    """The failures in their first order, each once (two replicas' templates or two checks may repeat one)."""
    seen: set[str] = set()
    out = []
    for f in failures:
        key = json.dumps([f.rule, f.obj, f.message])
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out
