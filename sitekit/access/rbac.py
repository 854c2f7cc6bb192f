"""Kubernetes RBAC from the planned objects: who may do what, where.

Reads Roles, ClusterRoles, RoleBindings and ClusterRoleBindings from the manifests `sitekit plan` would
apply, resolves each binding's `roleRef` (aggregated ClusterRoles through their `aggregationRule`, and the
API server's built-in user-facing ClusterRoles by their documented meaning), and expands wildcards: `*`
verbs become the full verb list, `*` resources or API groups are marked as "every". A RoleBinding grants
in its namespace even when it names a ClusterRole; only a ClusterRoleBinding grants cluster-wide.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sitekit.access.model import CLUSTER, Grant, Rule, Subject
from sitekit.plan.selectors import selector_matches

# The verbs a `*` stands for: the standard resource verbs plus the special ones RBAC knows.
STANDARD_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
SPECIAL_VERBS = ("approve", "bind", "escalate", "impersonate", "sign", "use")
ALL_VERBS = STANDARD_VERBS + SPECIAL_VERBS

# The user-facing ClusterRoles every API server creates, as the Kubernetes RBAC documentation
# ("Default roles and role bindings", "User-facing roles") describes them.
BUILT_IN_ROLES: dict[str, str] = {
    "cluster-admin": "super-user: any action on any resource; through a ClusterRoleBinding in every namespace and "
    "on cluster objects, through a RoleBinding on everything in that namespace including the namespace itself",
    "admin": "namespace administrator through a RoleBinding: read and write most objects, including Roles and "
    "RoleBindings of the namespace; not the ResourceQuota or the namespace itself",
    "edit": "read and write most objects of the namespace, including Secrets and running pods as any of its "
    "ServiceAccounts; not Roles or RoleBindings",
    "view": "read most objects of the namespace; not Secrets, Roles or RoleBindings",
}


def _strs(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(str(v) for v in value)


def expand_rule(raw: Mapping[str, Any]) -> Rule:
    """One PolicyRule with `*` verbs spelled out and `*` resources and groups flagged."""
    verbs = _strs(raw.get("verbs"))
    resources = _strs(raw.get("resources"))
    groups = _strs(raw.get("apiGroups"))
    wild_verbs = "*" in verbs
    wild_resources = "*" in resources or "*" in groups
    expanded = ALL_VERBS if wild_verbs else tuple(sorted(set(verbs)))
    return Rule(
        api_groups=tuple(sorted(set(groups))),
        resources=tuple(sorted(set(resources))),
        verbs=expanded,
        non_resource_urls=tuple(sorted(set(_strs(raw.get("nonResourceURLs"))))),
        wildcard_verbs=wild_verbs,
        wildcard_resources=wild_resources,
    )


def is_admin_rule(rule: Rule) -> bool:
    """Every verb on every resource of every API group: the rights of cluster-admin."""
    return rule.wildcard_verbs and "*" in rule.resources and "*" in rule.api_groups


CLUSTER_ADMIN_RULES = (
    expand_rule({"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}),
    expand_rule({"nonResourceURLs": ["*"], "verbs": ["*"]}),
)


def _key(obj: Mapping[str, Any]) -> tuple[str, str, str]:
    meta = obj.get("metadata") or {}
    return str(obj.get("kind")), str(meta.get("namespace") or ""), str(meta.get("name") or "")


class Roles:
    """The planned Roles and ClusterRoles, resolvable by a binding's `roleRef`."""

    def __init__(self, manifests: Iterable[Mapping[str, Any]]) -> None:
        self.objects: dict[tuple[str, str, str], Mapping[str, Any]] = {}
        for m in manifests:
            if m.get("kind") in ("Role", "ClusterRole"):
                self.objects[_key(m)] = m

    def cluster_roles(self) -> list[Mapping[str, Any]]:
        return [m for (kind, _, _), m in self.objects.items() if kind == "ClusterRole"]

    def rules(
        self, kind: str, namespace: str, name: str, seen: frozenset[str] = frozenset()
    ) -> tuple[Rule, ...] | None:
        """The expanded rules of a role (None if neither planned nor built in)."""
        obj = self.objects.get((kind, namespace if kind == "Role" else "", name))
        if obj is None:
            if kind == "ClusterRole" and name == "cluster-admin":
                return CLUSTER_ADMIN_RULES
            return None
        rules = [expand_rule(r) for r in obj.get("rules") or [] if isinstance(r, Mapping)]
        aggregation = obj.get("aggregationRule") or {}
        selectors = aggregation.get("clusterRoleSelectors") or []
        if kind == "ClusterRole" and selectors and name not in seen:
            for other in self.cluster_roles():
                meta = other.get("metadata") or {}
                labels = meta.get("labels") or {}
                other_name = str(meta.get("name"))
                if other_name == name:
                    continue
                if any(selector_matches(s, labels) for s in selectors if isinstance(s, Mapping)):
                    rules += self.rules("ClusterRole", "", other_name, seen | {name}) or ()
        return tuple(rules)


def _subjects(binding: Mapping[str, Any], namespace: str) -> list[Subject]:
    out = []
    for s in binding.get("subjects") or []:
        if not isinstance(s, Mapping):
            continue
        kind = str(s.get("kind") or "")
        ns = str(s.get("namespace") or (namespace if kind == "ServiceAccount" else ""))
        out.append(Subject(kind, str(s.get("name") or ""), ns if kind == "ServiceAccount" else ""))
    return out


def grants(manifests: Sequence[Mapping[str, Any]]) -> tuple[list[Grant], list[str]]:
    """Every (subject, binding) grant in the planned objects, and the role references that resolve to nothing."""
    roles = Roles(manifests)
    out: list[Grant] = []
    unresolved: list[str] = []
    for m in manifests:
        kind = m.get("kind")
        if kind not in ("RoleBinding", "ClusterRoleBinding"):
            continue
        _, namespace, name = _key(m)
        ref = m.get("roleRef") or {}
        role_kind, role_name = str(ref.get("kind") or ""), str(ref.get("name") or "")
        scope = CLUSTER if kind == "ClusterRoleBinding" else namespace
        binding = f"{kind} {namespace + '/' if namespace else ''}{name}"
        rules = roles.rules(role_kind, namespace, role_name)
        built_in = ""
        if role_kind == "ClusterRole" and (role_kind, "", role_name) not in roles.objects:
            built_in = BUILT_IN_ROLES.get(role_name, "")
            if not built_in and role_name.startswith("system:"):
                built_in = "a Kubernetes system role (its rules are the API server's bootstrap policy)"
        if rules is None:
            rules = ()
            if not built_in:
                unresolved.append(f"{binding} refers to {role_kind} {role_name}, which the plan does not declare")
        admin = (role_kind == "ClusterRole" and role_name == "cluster-admin") or any(is_admin_rule(r) for r in rules)
        for subject in _subjects(m, namespace):
            out.append(Grant(subject, scope, role_kind, role_name, binding, rules, built_in, admin))
    out.sort(key=lambda g: (g.scope != CLUSTER, g.scope, g.subject.label(), g.binding))
    return out, unresolved


def referenced_built_ins(grants_: Iterable[Grant]) -> dict[str, str]:
    """The built-in roles some binding refers to, with their documented meaning."""
    return {g.role_name: g.built_in for g in grants_ if g.built_in}
