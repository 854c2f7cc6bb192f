"""The admission model's rules one at a time, on plain object dicts, at their boundaries.

Each expectation is taken from the rule the real API server applies (Kubernetes v1.30): the page of
kubernetes.io or the API reference named in the test, and where the page is silent, the v1.30 source that
implements it (`plugin/pkg/admission/limitranger`, `pkg/quota/v1/evaluator/core/pods.go`,
`pkg/apis/core/validation`, `k8s.io/apimachinery/pkg/util/validation`). Every test asserts the exact
message and field path, so a check that sends the operator to the wrong field fails too. These tests call
the model's functions directly (milliseconds each) so that mutation testing (docs/MUTATION.md) can run them
for every mutant of `sitekit/plan/admission.py`.
"""

from __future__ import annotations

from typing import Any

from sitekit.plan.admission import admit


def ns(name: str = "apps") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def container(name: str = "main", requests: dict[str, Any] | None = None, limits: dict[str, Any] | None = None,
              **extra: Any) -> dict[str, Any]:
    resources: dict[str, Any] = {}
    if requests is not None:
        resources["requests"] = requests
    if limits is not None:
        resources["limits"] = limits
    return {"name": name, "image": "r.example/a@sha256:" + "a" * 64, "resources": resources, **extra}


def pod(*containers: dict[str, Any], init: list[dict[str, Any]] | None = None, namespace: str = "apps",
        name: str = "p", labels: dict[str, Any] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": list(containers) or [container()]}
    if init is not None:
        spec["initContainers"] = init
    meta: dict[str, Any] = {"name": name, "namespace": namespace}
    if labels is not None:
        meta["labels"] = labels
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}


def limit_range(*items: dict[str, Any], namespace: str = "apps") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "LimitRange",
        "metadata": {"name": "lr", "namespace": namespace},
        "spec": {"limits": list(items)},
    }


def quota(hard: dict[str, Any], namespace: str = "apps", name: str = "q") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"hard": hard},
    }


def run(*objects: dict[str, Any], nodes: int = 3) -> list[str]:
    return [str(f) for f in admit(list(objects), [], nodes).failures]


# --- LimitRanger: maxLimitRequestRatio --------------------------------------------------------------------
# LimitRangeItem (API reference): "maxLimitRequestRatio if specified, the named resource must have a request
# and limit that are both non-zero where limit divided by request is less than or equal to the enumerated
# value". A missing or zero request or limit is refused, never skipped.

RATIO = {"type": "Container", "maxLimitRequestRatio": {"cpu": "2"}}


def test_ratio_equal_to_the_maximum_is_admitted_and_one_milli_over_is_not() -> None:
    assert run(ns(), limit_range(RATIO), pod(container(requests={"cpu": "500m"}, limits={"cpu": "1"}))) == []
    assert run(ns(), limit_range(RATIO), pod(container(requests={"cpu": "500m"}, limits={"cpu": "1001m"}))) == [
        "[admission:LimitRanger] Pod apps/p: containers[0] main: cpu limit to request ratio 2.002 exceeds 2"
    ]


def test_ratio_without_a_request_or_limit_is_refused_not_skipped() -> None:
    no_request = pod(container(limits={"cpu": "1"}, requests={"memory": "1Mi"}))
    no_request["spec"]["containers"][0]["resources"]["requests"] = {"cpu": "0"}
    assert run(ns(), limit_range(RATIO), no_request) == [
        "[admission:LimitRanger] Pod apps/p: containers[0] main: cpu max limit to request ratio is 2 but no "
        "request is specified or request is 0"
    ]
    assert run(ns(), limit_range(RATIO), pod(container(requests={"cpu": "1"}))) == [
        "[admission:LimitRanger] Pod apps/p: containers[0] main: cpu max limit to request ratio is 2 but no "
        "limit is specified or limit is 0"
    ]
    assert run(ns(), limit_range(RATIO), pod(container())) == [
        "[admission:LimitRanger] Pod apps/p: containers[0] main: cpu max limit to request ratio is 2 but no "
        "request is specified or request is 0"
    ]


def test_ratio_applies_to_every_container_and_init_container() -> None:
    ok = container("ok", requests={"cpu": "1"}, limits={"cpu": "2"})
    bad = container("bad", requests={"cpu": "1"}, limits={"cpu": "3"})
    out = run(ns(), limit_range(RATIO), pod(ok, bad, init=[ok | {"name": "i0"}, bad | {"name": "i1"}]))
    assert out == [
        "[admission:LimitRanger] Pod apps/p: initContainers[1] i1: cpu limit to request ratio 3 exceeds 2",
        "[admission:LimitRanger] Pod apps/p: containers[1] bad: cpu limit to request ratio 3 exceeds 2",
    ]
