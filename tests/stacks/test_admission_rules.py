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

import base64
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


# --- LimitRanger: items of type Pod, and the pod's totals ---------------------------------------------------
# limit-range page: a Pod item constrains "the sum of all containers in the Pod"; the v1.30 LimitRanger
# (podRequests/podLimits) sums the app containers and sidecars and raises that to what any init container
# needs, the same effective totals the resource-management page describes for scheduling and quota.


def pod_item(**bounds: Any) -> dict[str, Any]:
    return {"type": "Pod", **bounds}


def test_pod_max_is_the_sum_of_the_containers_limits_equal_admitted_one_over_refused() -> None:
    a = container("a", limits={"cpu": "1"})
    b = container("b", limits={"cpu": "1"})
    assert run(ns(), limit_range(pod_item(max={"cpu": "2"})), pod(a, b)) == []
    c = container("c", limits={"cpu": "1001m"})
    assert run(ns(), limit_range(pod_item(max={"cpu": "2"})), pod(a, c)) == [
        "[admission:LimitRanger] Pod apps/p: pod: cpu limits 2001m exceed the per-Pod maximum 2"
    ]


def test_pod_max_counts_an_init_container_above_the_app_containers() -> None:
    init = container("setup", limits={"cpu": "3"})
    assert run(ns(), limit_range(pod_item(max={"cpu": "2"})), pod(container(limits={"cpu": "1"}), init=[init])) == [
        "[admission:LimitRanger] Pod apps/p: pod: cpu limits 3 exceed the per-Pod maximum 2"
    ]


def test_pod_max_refuses_a_pod_without_any_limit_but_sums_the_containers_that_have_one() -> None:
    assert run(ns(), limit_range(pod_item(max={"memory": "1Gi"})), pod(container())) == [
        "[admission:LimitRanger] Pod apps/p: pod: maximum memory usage per Pod is 1Gi but no limit is specified"
    ]
    # maxConstraint only asks that the pod's summed limits exist; a container without one adds nothing.
    partial = pod(container("a", limits={"memory": "512Mi"}), container("b"))
    assert run(ns(), limit_range(pod_item(max={"memory": "1Gi"})), partial) == []


def test_pod_max_also_bounds_the_summed_requests() -> None:
    # A container may request without a limit, so the pod's requests can pass its max while its limits fit.
    out = run(ns(), limit_range(pod_item(max={"cpu": "2"})),
              pod(container("a", limits={"cpu": "1"}), container("b", requests={"cpu": "1500m"})))
    assert out == ["[admission:LimitRanger] Pod apps/p: pod: cpu requests 2500m exceed the per-Pod maximum 2"]


def test_pod_min_is_the_sum_of_the_requests_equal_admitted_one_under_refused() -> None:
    item = pod_item(min={"memory": "1Gi"})
    half = container("a", requests={"memory": "512Mi"})
    assert run(ns(), limit_range(item), pod(half, half | {"name": "b"})) == []
    out = run(ns(), limit_range(item), pod(half, container("b", requests={"memory": "511Mi"})))
    assert out == ["[admission:LimitRanger] Pod apps/p: pod: memory requests 1023Mi are below the per-Pod minimum 1Gi"]
    assert run(ns(), limit_range(item), pod(container())) == [
        "[admission:LimitRanger] Pod apps/p: pod: minimum memory usage per Pod is 1Gi but no request is specified"
    ]


def test_pod_ratio_uses_the_pod_totals() -> None:
    item = pod_item(maxLimitRequestRatio={"cpu": "2"})
    a = container("a", requests={"cpu": "1"}, limits={"cpu": "2"})
    b = container("b", requests={"cpu": "1"}, limits={"cpu": "2"})
    assert run(ns(), limit_range(item), pod(a, b)) == []
    out = run(ns(), limit_range(item), pod(a, container("b", requests={"cpu": "1"}, limits={"cpu": "3"})))
    assert out == ["[admission:LimitRanger] Pod apps/p: pod: cpu limit to request ratio 2.5 exceeds 2"]
    assert run(ns(), limit_range(item), pod(container())) == [
        "[admission:LimitRanger] Pod apps/p: pod: cpu max limit to request ratio is 2 but no request is "
        "specified or request is 0"
    ]


def test_sidecars_add_to_the_pod_and_init_containers_run_beside_earlier_sidecars() -> None:
    # Sidecar containers page: a sidecar (restartPolicy Always) keeps running, so its requests add to the
    # app containers'; a later init container runs beside it.
    hard = quota({"requests.cpu": "2"})
    main = container(requests={"cpu": "1"}, limits={"cpu": "1"})
    sidecar = container("proxy", requests={"cpu": "1"}, limits={"cpu": "1"}, restartPolicy="Always")
    assert run(ns(), hard, pod(main, init=[sidecar])) == []
    over = container("proxy", requests={"cpu": "1001m"}, limits={"cpu": "2"}, restartPolicy="Always")
    assert run(ns(), hard, pod(main, init=[over])) == [
        "[admission:ResourceQuota] ResourceQuota apps/q: requests.cpu: the namespace's objects need 2001m at "
        "their maximum replicas, above the hard limit 2"
    ]
    # An ordinary init container runs alone: 2 CPUs of it fit a quota of 2 next to a 1-CPU app container...
    alone = container("setup", requests={"cpu": "2"}, limits={"cpu": "2"})
    assert run(ns(), hard, pod(main, init=[alone])) == []
    # ...but not after a sidecar that keeps running beside it (1 + 2 = 3).
    assert run(ns(), hard, pod(main, init=[sidecar, alone])) == [
        "[admission:ResourceQuota] ResourceQuota apps/q: requests.cpu: the namespace's objects need 3 at "
        "their maximum replicas, above the hard limit 2"
    ]
    # Order matters: an init container before the sidecar starts runs without it (max(2, 1 + 1) = 2).
    assert run(ns(), hard, pod(main, init=[alone, sidecar])) == []


# --- ResourceQuota: which containers must name a tracked resource -------------------------------------------
# resource-quotas page: "If quota is enabled in a namespace for compute resources like cpu and memory, users
# must specify requests or limits for those values"; the v1.30 pod evaluator (Constraints) applies it to
# every container and init container, and only to cpu and memory (its validationSet).


def test_quota_on_cpu_requires_it_of_every_container_and_init_container() -> None:
    named = container("a", requests={"cpu": "100m"})
    bare = container("b")
    init = [named | {"name": "i0"}, bare | {"name": "i1"}]
    out = run(ns(), quota({"requests.cpu": "4"}), pod(named, bare, init=init))
    assert out == [
        "[admission:ResourceQuota] Pod apps/p: initContainers[1] i1: must specify requests.cpu "
        "(tracked by ResourceQuota apps/q)",
        "[admission:ResourceQuota] Pod apps/p: containers[1] b: must specify requests.cpu "
        "(tracked by ResourceQuota apps/q)",
    ]
    named_init = named | {"name": "i1"}
    assert run(ns(), quota({"requests.cpu": "4"}), pod(named, named | {"name": "b"}, init=[named_init])) == []


def test_each_compute_quota_key_names_its_own_field() -> None:
    cases = {
        "cpu": ("requests", "cpu"),
        "requests.cpu": ("requests", "cpu"),
        "memory": ("requests", "memory"),
        "requests.memory": ("requests", "memory"),
        "limits.cpu": ("limits", "cpu"),
        "limits.memory": ("limits", "memory"),
    }
    for key, (field, res) in cases.items():
        other_field = "limits" if field == "requests" else "requests"
        wrong = container(**{other_field: {res: "1"}}) if field == "limits" else container(limits=None)
        assert run(ns(), quota({key: "10"}), pod(wrong)) == [
            f"[admission:ResourceQuota] Pod apps/p: containers[0] main: must specify {key} "
            "(tracked by ResourceQuota apps/q)"
        ], key
        assert run(ns(), quota({key: "10"}), pod(container(**{field: {res: "1"}}))) == [], key


def test_quota_on_ephemeral_storage_or_gpus_does_not_require_every_container_to_name_it() -> None:
    # validationSet: "do not add more resources to this list" (gpus, ephemeral-storage).
    hard = {"requests.ephemeral-storage": "1Gi", "limits.ephemeral-storage": "1Gi", "ephemeral-storage": "1Gi",
            "requests.nvidia.com/gpu": "1"}
    assert run(ns(), quota(hard), pod(container())) == []


# --- Service port names ---------------------------------------------------------------------------------
# services page, "Multi-port Services": "you must give all of your ports names so that these are
# unambiguous"; validateServicePort: a name given is a DNS-1123 label and unique among the Service's ports.


def service(*ports: dict[str, Any], name: str = "web") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "apps"},
            "spec": {"ports": list(ports)}}


def test_one_port_may_be_unnamed_but_every_port_of_several_must_be_named() -> None:
    assert run(ns(), service({"port": 80})) == []
    assert run(ns(), service({"port": 80, "name": ""})) == []
    assert run(ns(), service({"port": 80, "name": "http"}, {"port": 443})) == [
        "[admission:names] Service apps/web: spec.ports[1].name is required when a Service has more than one port"
    ]
    assert run(ns(), service({"port": 80}, {"port": 443, "name": "https"})) == [
        "[admission:names] Service apps/web: spec.ports[0].name is required when a Service has more than one port"
    ]


def test_service_port_names_are_dns1123_labels_and_unique() -> None:
    assert run(ns(), service({"port": 80, "name": "a" * 63})) == []
    assert run(ns(), service({"port": 80, "name": "a" * 64})) == [
        f"[admission:names] Service apps/web: spec.ports[0].name {'a' * 64!r} must be a DNS-1123 label"
    ]
    assert run(ns(), service({"port": 80, "name": "http"}, {"port": 81, "name": "HTTP"})) == [
        "[admission:names] Service apps/web: spec.ports[1].name 'HTTP' must be a DNS-1123 label"
    ]
    twice = service({"port": 80, "name": "http"}, {"port": 81, "name": "x"}, {"port": 82, "name": "http"})
    assert run(ns(), twice) == [
        "[admission:names] Service apps/web: spec.ports[2].name 'http' is used twice in the Service"
    ]


# --- Ingress hosts --------------------------------------------------------------------------------------
# IngressRule (API reference): host is a fully qualified domain name, "IPs are not allowed"; a wildcard host
# is "*." then a DNS-1123 subdomain; at most 253 characters in all (validateIngressRules, v1.30).


def ingress(*hosts: str) -> dict[str, Any]:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "i", "namespace": "apps"},
            "spec": {"rules": [{"host": h} for h in hosts]}}


def test_ingress_hosts_are_dns_names_wildcards_allowed_only_as_the_first_label() -> None:
    assert run(ns(), ingress("llm.example.ee", "*.example.ee", "")) == []
    bad = ["a.*.example.ee", "*.*.example.ee", "*example.ee", "LLM.example.ee"]
    assert run(ns(), ingress("llm.example.ee", *bad)) == [
        f"[admission:names] Ingress apps/i: spec.rules[{i}].host {h!r} must be a DNS-1123 subdomain"
        for i, h in enumerate(bad, start=1)
    ]


def test_ingress_host_length_is_bounded_at_253_with_the_wildcard() -> None:
    long = ".".join(["a" * 63] * 3) + "." + "b" * 61  # 253 characters
    assert len(long) == 253 and run(ns(), ingress(long)) == []
    # the API server bounds the subdomain, not each label: a 64-character label is still admitted
    assert run(ns(), ingress("a" * 64 + ".example.ee")) == []
    wild = "*." + long[2:]
    assert len(wild) == 253 and run(ns(), ingress(wild)) == []
    assert run(ns(), ingress("*." + long[1:])) == [
        f"[admission:names] Ingress apps/i: spec.rules[0].host {'*.' + long[1:]!r} must be a DNS-1123 subdomain"
    ]


def test_ingress_host_may_not_be_an_ip_address() -> None:
    ips = ["10.0.0.1", "255.255.255.255", "010.0.0.1", "fd00::1", "::ffff:10.0.0.1"]
    assert run(ns(), ingress(*ips)) == [
        f"[admission:names] Ingress apps/i: spec.rules[{i}].host {h!r} must be a DNS name, not an IP"
        for i, h in enumerate(ips)
    ]
    # not IP addresses: an octet above 255, three or five numbers; they are valid DNS subdomains
    assert run(ns(), ingress("256.0.0.1", "10.0.0", "10.0.0.1.2", "1.2.3.x")) == []
    # only ASCII digits make an address; other digits are neither an IP nor a DNS name
    assert run(ns(), ingress("\u0661.\u0662.\u0663.\u0664")) == [
        "[admission:names] Ingress apps/i: spec.rules[0].host '\u0661.\u0662.\u0663.\u0664' must be a DNS-1123 "
        "subdomain"
    ]


# --- label and annotation keys and values ------------------------------------------------------------------
# labels page, "Syntax and character set": a key is an optional prefix (a DNS subdomain of at most 253
# characters, followed by '/') and a name of at most 63 characters, alphanumerics, '-', '_' and '.', beginning
# and ending alphanumeric; a value is empty or the same 63-character form. IsQualifiedName refuses an empty
# prefix before a '/'.

KEY_NAME_MSG = "name part must be 1-63 alphanumerics, '-', '_' or '.', starting and ending alphanumeric"


def labelled(labels: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "apps", "labels": labels}}


def test_label_keys_at_their_boundaries() -> None:
    prefix = ".".join(["a" * 63] * 3) + "." + "b" * 61  # 253
    good = {"a" * 63: "", f"{prefix}/x": "v", "A.b_c-D": "v", "x/y": "1", "9": "9"}
    assert run(ns(), labelled(good)) == []
    bad = ["a" * 64, f"{prefix}b/x", "/x", "x/", "-x", "x_", "a/b/c", "Ex.com/x", ""]
    out = run(ns(), labelled({k: "v" for k in bad}))
    assert out == [
        f"[admission:labels] ConfigMap apps/c: metadata.labels: key {k!r}: "
        + ("prefix must be a DNS-1123 subdomain" if k in (f"{prefix}b/x", "/x", "a/b/c", "Ex.com/x") else KEY_NAME_MSG)
        for k in bad
    ]


def test_label_values_at_their_boundaries() -> None:
    assert run(ns(), labelled({"a": "v" * 63, "b": "", "c": "A-b_c.D", "d": 7})) == []
    bad = {"a": "v" * 64, "b": "-v", "c": "v.", "d": "a b"}
    assert run(ns(), labelled(bad)) == [
        f"[admission:labels] ConfigMap apps/c: metadata.labels: value {v!r} of {k!r} must be at most 63 "
        "alphanumerics, '-', '_' or '.', starting and ending alphanumeric"
        for k, v in bad.items()
    ]


# --- ConfigMap and Secret keys and sizes -------------------------------------------------------------------
# configmap page: keys "must consist of alphanumeric characters, -, _ or ."; IsConfigMapKey also refuses '.'
# and any key starting with '..' (and over 253 characters). configmap page: "The data stored in a ConfigMap
# cannot exceed 1 MiB"; secret page, "Restriction on data size": "Individual Secrets are limited to 1MiB".
# ValidateConfigMap/ValidateSecret count the decoded values, not the keys; binaryData and a Secret's data
# are base64 in the object, a Secret's stringData replaces data under the same key.

KEY_MSG = "must consist of alphanumerics, '-', '_' or '.', and may not be '.' or start with '..'"
MIB = 1024 * 1024


def config_map(kind: str = "ConfigMap", **sections: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": kind, "metadata": {"name": "c", "namespace": "apps"}, **sections}


def test_config_keys_at_their_boundaries_in_every_section() -> None:
    good = {"k" * 253: "", "a.b-c_D": "", ".hidden": "", "a..b": ""}
    for kind, section in [("ConfigMap", "data"), ("ConfigMap", "binaryData"), ("Secret", "data"),
                          ("Secret", "stringData")]:
        assert run(ns(), config_map(kind, **{section: good})) == [], (kind, section)
        bad = ["k" * 254, ".", "..", "..data", "a b", "a/b", ""]
        assert run(ns(), config_map(kind, **{section: dict.fromkeys(bad, "")})) == [
            f"[admission:names] {kind} apps/c: {section} key {k!r} {KEY_MSG}" for k in bad
        ], (kind, section)


def test_a_configmap_key_may_not_be_in_both_data_and_binaryData() -> None:
    out = run(ns(), config_map(data={"a": "x", "b": "y"}, binaryData={"b": "eQ==", "c": "eQ=="}))
    assert out == ["[admission:names] ConfigMap apps/c: data key 'b' is also a key of binaryData"]


def test_configmap_size_counts_values_not_keys_and_decodes_binary_data() -> None:
    half = "x" * (MIB // 2)
    assert run(ns(), config_map(data={"a" * 200: half, "b" * 200: half})) == []
    # binaryData: 1 MiB of bytes is 4/3 as many base64 characters, still admitted; one byte more is not
    exact = base64_of(MIB - 3)
    assert run(ns(), config_map(data={"t": "abc"}, binaryData={"b": exact})) == []
    assert run(ns(), config_map(data={"t": "abcd"}, binaryData={"b": exact})) == [
        f"[admission:size] ConfigMap apps/c: data is {MIB + 1} bytes, more than the ConfigMap limit of {MIB} (1 MiB)"
    ]


def test_secret_size_decodes_data_and_lets_string_data_replace_it() -> None:
    assert run(ns(), config_map("Secret", data={"a": base64_of(MIB)})) == []
    assert run(ns(), config_map("Secret", data={"a": base64_of(MIB), "b": "eA=="})) == [
        f"[admission:size] Secret apps/c: data is {MIB + 1} bytes, more than the Secret limit of {MIB} (1 MiB)"
    ]
    # stringData 'a' replaces data 'a': 1 byte in all, not 1 MiB + 1
    assert run(ns(), config_map("Secret", data={"a": base64_of(MIB)}, stringData={"a": "x"})) == []
    assert run(ns(), config_map("Secret", data={"a": "eA=="}, stringData={"b": "x" * MIB})) == [
        f"[admission:size] Secret apps/c: data is {MIB + 1} bytes, more than the Secret limit of {MIB} (1 MiB)"
    ]


def test_bytes_that_are_not_base64_are_refused() -> None:
    assert run(ns(), config_map("Secret", data={"a": "not base64!"}, stringData={"s": "not base64!"})) == [
        "[admission:validation] Secret apps/c: data['a'] is not valid base64"
    ]
    assert run(ns(), config_map(data={"a": "not base64!"}, binaryData={"b": "eA="})) == [
        "[admission:validation] ConfigMap apps/c: binaryData['b'] is not valid base64"
    ]
    # the values after a bad one are still counted
    assert run(ns(), config_map("Secret", data={"a": "eA", "b": base64_of(MIB + 1)})) == [
        "[admission:validation] Secret apps/c: data['a'] is not valid base64",
        f"[admission:size] Secret apps/c: data is {MIB + 1} bytes, more than the Secret limit of {MIB} (1 MiB)",
    ]


def base64_of(size: int) -> str:
    return base64.b64encode(b"\0" * size).decode()


def test_template_label_problems_name_the_field_of_each_kind() -> None:
    bad = {"app": "-x"}
    msg = "value '-x' of 'app' must be at most 63 alphanumerics, '-', '_' or '.', starting and ending alphanumeric"
    assert run(ns(), pod(labels=bad)) == [f"[admission:labels] Pod apps/p: metadata.labels: {msg}"]
    template = {"metadata": {"labels": bad}, "spec": {"containers": [container()]}}
    deploy = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "apps"},
              "spec": {"template": template}}
    cron = {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "c", "namespace": "apps"},
            "spec": {"jobTemplate": {"spec": {"template": template}}}}
    assert run(ns(), deploy, cron) == [
        f"[admission:labels] Deployment apps/d: spec.template.metadata.labels: {msg}",
        f"[admission:labels] CronJob apps/c: spec.jobTemplate.spec.template.metadata.labels: {msg}",
    ]


# --- container names and port names ------------------------------------------------------------------------
# Container names are DNS-1123 labels unique in the pod, init containers included (ValidatePodSpec); a port
# name, when given, is an IANA service name (IsValidPortName: at most 15 characters, lower-case alphanumerics
# and '-', at least one letter, no '--', not beginning or ending with '-') unique within its container
# (validateContainerPorts).

PORT_MSG = "must be an IANA service name (at most 15 lower-case alphanumerics and '-', with a letter, no '--')"


def ported(*names: str | None, cname: str = "main") -> dict[str, Any]:
    ports = [{"containerPort": 8000 + i} | ({} if n is None else {"name": n}) for i, n in enumerate(names)]
    return container(cname, ports=ports)


def test_container_port_names_at_their_boundaries() -> None:
    assert run(ns(), pod(ported("http", "a" * 15, "x", "a1", "1a", "a-b-c", None, ""))) == []
    bad = ["a" * 16, "1234", "a--b", "-ab", "ab-", "Http", "a_b"]
    assert run(ns(), pod(ported(*bad))) == [
        f"[admission:names] Pod apps/p: containers[0].ports[{j}] name {n!r} {PORT_MSG}" for j, n in enumerate(bad)
    ]


def test_container_port_names_are_unique_within_a_container_not_across_containers() -> None:
    assert run(ns(), pod(ported("http"), ported("http", cname="side"), init=[ported("http", cname="i")])) == []
    assert run(ns(), pod(ported("web", "http", "web"))) == [
        "[admission:names] Pod apps/p: containers[0].ports[2] name 'web' is used twice in the container"
    ]
    assert run(ns(), pod(init=[ported("x", "x", cname="i")])) == [
        "[admission:names] Pod apps/p: initContainers[0].ports[1] name 'x' is used twice in the container"
    ]


def test_container_names_are_labels_unique_across_init_and_app_containers() -> None:
    assert run(ns(), pod(container("a" * 63), init=[container("b")])) == []
    bad = [container("a" * 64), container("Main"), container(""), {"image": "x"}]
    assert run(ns(), pod(*bad)) == [
        f"[admission:names] Pod apps/p: containers[{i}] name {n!r} must be a DNS-1123 label"
        for i, n in enumerate(["a" * 64, "Main", "", ""])
    ] + ["[admission:names] Pod apps/p: containers[3] name '' is used twice in the pod"]
    assert run(ns(), pod(container("a"), container("b"), init=[container("b")])) == [
        "[admission:names] Pod apps/p: containers[1] name 'b' is used twice in the pod"
    ]
    assert run(ns(), pod(container("a"), init=[container("i"), container("i")])) == [
        "[admission:names] Pod apps/p: initContainers[1] name 'i' is used twice in the pod"
    ]


# --- ResourceQuota: object counts ---------------------------------------------------------------------------
# resource-quotas page, "Object count quota": `count/<resource>.<group>` for any namespaced resource
# (`count/<resource>` in the core group) and the older names (pods, services, configmaps, secrets,
# persistentvolumeclaims, replicationcontrollers, resourcequotas, services.loadbalancers, services.nodeports).
# Each namespace also holds the `kube-root-ca.crt` ConfigMap and the `default` ServiceAccount.


def obj(kind: str, api: str = "v1", name: str = "o", **rest: Any) -> dict[str, Any]:
    return {"apiVersion": api, "kind": kind, "metadata": {"name": name, "namespace": "apps"}, **rest}


def need(key: str, count: int | str, hard: int | str, quota_name: str = "q") -> str:
    return (f"[admission:ResourceQuota] ResourceQuota apps/{quota_name}: {key}: the namespace's objects need "
            f"{count} at their maximum replicas, above the hard limit {hard}")


def exactly(key: str, count: int, *objects: dict[str, Any]) -> None:
    """The namespace holds `count` of `key`: a quota of that many admits it, one fewer refuses it."""
    assert run(ns(), quota({key: str(count)}), *objects) == [], key
    assert run(ns(), quota({key: str(count - 1)}), *objects) == [need(key, count, count - 1)], key


def test_object_counts_use_the_resource_and_group_of_each_kind() -> None:
    exactly("count/deployments.apps", 2, obj("Deployment", "apps/v1", "a"), obj("Deployment", "apps/v1", "b"))
    exactly("count/networkpolicies.networking.k8s.io", 1, obj("NetworkPolicy", "networking.k8s.io/v1"))
    exactly("count/ingresses.networking.k8s.io", 1, obj("Ingress", "networking.k8s.io/v1"))
    exactly("count/gateways.gateway.networking.k8s.io", 1, obj("Gateway", "gateway.networking.k8s.io/v1"))
    exactly("count/endpoints", 1, obj("Endpoints"))
    exactly("count/secrets", 1, obj("Secret"))
    exactly("secrets", 1, obj("Secret"))
    exactly("count/resourcequotas", 1)  # the quota itself
    exactly("resourcequotas", 2, quota({}, name="other"))
    exactly("count/roles.rbac.authorization.k8s.io", 1, obj("Role", "rbac.authorization.k8s.io/v1"))


def test_the_control_plane_objects_of_every_namespace_count() -> None:
    exactly("configmaps", 2, obj("ConfigMap"))
    exactly("count/configmaps", 2, obj("ConfigMap"))
    exactly("count/serviceaccounts", 2, obj("ServiceAccount"))
    exactly("count/serviceaccounts", 1)


def test_a_pod_counts_once_and_a_workload_counts_its_pods_at_their_maximum() -> None:
    exactly("pods", 1, pod())
    exactly("count/pods", 1, pod())
    rc = obj("ReplicationController", spec={"replicas": 2, "template": {"spec": {"containers": [container()]}}})
    exactly("replicationcontrollers", 1, rc)
    exactly("pods", 2, rc)
    exactly("count/replicationcontrollers", 1, rc)


def test_services_count_by_type_and_node_ports_by_port() -> None:
    ports = [{"name": "a", "port": 80}, {"name": "b", "port": 81}, {"name": "c", "port": 82}]
    lb = obj("Service", name="lb", spec={"type": "LoadBalancer", "ports": ports})
    node = obj("Service", name="np", spec={"type": "NodePort", "ports": ports[:2]})
    cluster = obj("Service", name="ci", spec={"ports": ports})
    exactly("services", 3, lb, node, cluster)
    exactly("count/services", 3, lb, node, cluster)
    exactly("services.loadbalancers", 1, lb, node, cluster)
    exactly("services.nodeports", 5, lb, node, cluster)
    assert run(ns(), quota({"services.loadbalancers": "0", "services.nodeports": "0"}), cluster) == []


def test_claims_count_storage_in_all_and_per_storage_class() -> None:
    def pvc(name: str, size: str, cls: str | None = None) -> dict[str, Any]:
        spec: dict[str, Any] = {"resources": {"requests": {"storage": size}}}
        if cls:
            spec["storageClassName"] = cls
        return obj("PersistentVolumeClaim", name=name, spec=spec)

    claims = [pvc("a", "10Gi", "fast"), pvc("b", "5Gi", "fast"), pvc("c", "1Gi"), pvc("d", "1Gi", "slow"),
              obj("PersistentVolumeClaim", name="e", spec={})]
    assert run(ns(), quota({"requests.storage": "17Gi", "fast.storageclass.storage.k8s.io/requests.storage": "15Gi",
                            "fast.storageclass.storage.k8s.io/persistentvolumeclaims": "2",
                            "persistentvolumeclaims": "5"}), *claims) == []
    out = run(ns(), quota({"requests.storage": "16Gi", "fast.storageclass.storage.k8s.io/requests.storage": "14Gi",
                           "fast.storageclass.storage.k8s.io/persistentvolumeclaims": "1",
                           "persistentvolumeclaims": "4"}), *claims)
    assert out == [
        need("requests.storage", "17Gi", "16Gi"),
        need("fast.storageclass.storage.k8s.io/requests.storage", "15Gi", "14Gi"),
        need("fast.storageclass.storage.k8s.io/persistentvolumeclaims", 2, 1),
        need("persistentvolumeclaims", 5, 4),
    ]


# --- object names -----------------------------------------------------------------------------------------
# names page: most names are DNS-1123 subdomains (at most 253); Namespaces are DNS-1123 labels (at most 63);
# Services are DNS-1035 labels (start with a letter); RBAC objects are path segment names (anything but '.',
# '..', '/' and '%'; ValidateRBACName). A namespace given in metadata is a DNS-1123 label.

SUBDOMAIN = "must be a DNS-1123 subdomain (lower-case alphanumerics, '-' and '.', at most 253)"
LABEL = "must be a DNS-1123 label (lower-case alphanumerics and '-', at most 63 characters)"
DNS1035 = "must be a DNS-1035 label (start with a letter; lower-case alphanumerics and '-', at most 63 characters)"
RBAC = "may not be '.', '..' or contain '/' or '%'"


def named(kind: str, name: str | None, api: str = "v1", namespace: str | None = "apps") -> dict[str, Any]:
    meta: dict[str, Any] = {} if name is None else {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    return {"apiVersion": api, "kind": kind, "metadata": meta}


def test_most_names_are_dns1123_subdomains_of_at_most_253() -> None:
    long = ".".join(["a" * 63] * 3) + "." + "b" * 61
    for good in [long, "a", "a.b-c", "0x"]:
        assert run(ns(), named("ConfigMap", good)) == [], good
    for bad in [long + "b", "A", "a_b", "-a", "a.", "a..b"]:
        expected = f"[admission:names] ConfigMap apps/{bad}: name {bad!r} {SUBDOMAIN}"
        assert run(ns(), named("ConfigMap", bad)) == [expected]


def test_a_missing_or_empty_name_is_refused() -> None:
    for meta_name in (None, ""):
        assert run(ns(), named("ConfigMap", meta_name)) == [
            f"[admission:names] ConfigMap apps/{meta_name}: metadata.name is required"
        ]


def test_namespace_names_are_labels() -> None:
    assert run(ns("a" * 63), ns("a-1")) == []
    for bad in ["a" * 64, "a.b", "A", "a-"]:
        assert run(ns(bad)) == [f"[admission:names] Namespace {bad}: name {bad!r} {LABEL}"]


def test_service_names_are_dns1035_labels() -> None:
    for good in ["a" * 63, "a-1", "web"]:
        assert run(ns(), named("Service", good)) == [], good
    for bad in ["a" * 64, "1web", "web-", "a.b", "Web"]:
        assert run(ns(), named("Service", bad)) == [f"[admission:names] Service apps/{bad}: name {bad!r} {DNS1035}"]


def test_rbac_names_are_path_segments() -> None:
    api = "rbac.authorization.k8s.io/v1"
    for kind, namespace in [("Role", "apps"), ("RoleBinding", "apps"), ("ClusterRole", None),
                            ("ClusterRoleBinding", None)]:
        for good in ["system:controller:Foo_Bar", "a" * 300, "..."]:
            assert run(ns(), named(kind, good, api, namespace)) == [], (kind, good)
        where = f"{kind} apps/" if namespace else f"{kind} "
        for bad in [".", "..", "a/b", "a%b"]:
            assert run(ns(), named(kind, bad, api, namespace)) == [
                f"[admission:names] {where}{bad}: name {bad!r} {RBAC}"
            ], (kind, bad)


def test_metadata_namespace_is_a_label() -> None:
    bad = "a" * 64
    assert run(named("ConfigMap", "c", namespace=bad)) == [
        f"[admission:names] ConfigMap {bad}/c: namespace {bad!r} must be a DNS-1123 label",
        f"[admission:NamespaceLifecycle] ConfigMap {bad}/c: namespace {bad!r} not found (the stack does not "
        "declare it)",
    ]
    assert run(named("ConfigMap", "c", namespace="Apps"))[0] == (
        "[admission:names] ConfigMap Apps/c: namespace 'Apps' must be a DNS-1123 label"
    )
    assert run(ns("a" * 63), named("ConfigMap", "c", namespace="a" * 63)) == []


# --- annotations --------------------------------------------------------------------------------------------
# annotations page: keys are qualified names like label keys; "the total size of all annotations (keys and
# values) must not exceed 256 KiB" (ValidateAnnotationsSize counts the bytes of every key and value).


def annotated(annotations: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "apps",
                                                                  "annotations": annotations}}


def test_annotation_size_sums_every_key_and_value_in_bytes() -> None:
    limit = 256 * 1024
    fits = {"k1": "x" * 1000, "k2": "y" * (limit - 1000 - 4)}
    assert run(ns(), annotated(fits)) == []
    over = {**fits, "k2": fits["k2"] + "y"}
    assert run(ns(), annotated(over)) == [
        f"[admission:annotations] ConfigMap apps/c: metadata.annotations total {limit + 1} bytes, more than the "
        f"limit of {limit}"
    ]
    # bytes, not characters: 'é' is two bytes in UTF-8
    wide = {"k": "é" * ((limit - 1) // 2)}
    assert run(ns(), annotated(wide)) == []
    assert run(ns(), annotated({"k": "é" * ((limit - 1) // 2 + 1)}))[0].startswith(
        f"[admission:annotations] ConfigMap apps/c: metadata.annotations total {limit + 1} bytes"
    )


def test_annotation_keys_are_qualified_names_each_reported() -> None:
    out = run(ns(), annotated({"ok.example/a": "", "-bad": "", "/x": "", "example.com/ok": ""}))
    assert out == [
        f"[admission:annotations] ConfigMap apps/c: metadata.annotations: key '-bad': {KEY_NAME_MSG}",
        "[admission:annotations] ConfigMap apps/c: metadata.annotations: key '/x': prefix must be a DNS-1123 "
        "subdomain",
    ]


# --- selectors and node selectors -------------------------------------------------------------------------
# ValidateLabelSelector checks matchLabels as labels; a Service's selector is a plain label map
# (ValidateService); a pod's nodeSelector is a label map too (ValidatePodSpec).


def test_selectors_are_checked_as_labels_where_they_are_label_maps() -> None:
    bad = {"app": "-x"}
    msg = "value '-x' of 'app' must be at most 63 alphanumerics, '-', '_' or '.', starting and ending alphanumeric"
    svc = obj("Service", name="s", spec={"selector": bad, "ports": [{"port": 80}]})
    dep = obj("Deployment", "apps/v1", "d", spec={"selector": {"matchLabels": bad}})
    exprs = obj("Deployment", "apps/v1", "e",
                spec={"selector": {"matchExpressions": [{"key": "app", "operator": "Exists"}]}})
    assert run(ns(), svc, dep, exprs) == [
        f"[admission:labels] Service apps/s: spec.selector: {msg}",
        f"[admission:labels] Deployment apps/d: spec.selector: {msg}",
    ]


def test_node_selector_is_a_label_map() -> None:
    p = pod()
    p["spec"]["nodeSelector"] = {"nvidia.com/gpu.product": "A100_SXM4", "-x": "y"}
    assert run(ns(), p) == [f"[admission:labels] Pod apps/p: spec.nodeSelector: key '-x': {KEY_NAME_MSG}"]


# --- how many pods each workload makes (quota counts them at their peak) --------------------------------
# A Deployment/StatefulSet/ReplicaSet/ReplicationController runs spec.replicas (default 1) or, under a
# HorizontalPodAutoscaler, up to its maxReplicas; a DaemonSet one per node; a Job spec.parallelism (default
# 1); a CronJob its jobTemplate's parallelism.


def workload(kind: str, name: str = "w", api: str = "apps/v1", **spec: Any) -> dict[str, Any]:
    template = {"metadata": {"labels": {"app": name}}, "spec": {"containers": [container()]}}
    if kind == "CronJob":
        body = {"jobTemplate": {"spec": {"template": template, **spec}}}
    else:
        body = {"template": template, **spec}
    return obj(kind, api, name, spec=body)


def autoscaler(target: str, max_replicas: int | None, kind: str = "Deployment", namespace: str = "apps"
               ) -> dict[str, Any]:
    spec: dict[str, Any] = {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": kind, "name": target}}
    if max_replicas is not None:
        spec["maxReplicas"] = max_replicas
    return {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": f"hpa-{target}", "namespace": namespace}, "spec": spec}


def test_pods_of_each_workload_kind_at_their_maximum() -> None:
    for kind in ("Deployment", "StatefulSet", "ReplicaSet", "ReplicationController"):
        exactly("pods", 4, workload(kind, replicas=4))
        exactly("pods", 1, workload(kind))
    assert run(ns(), quota({"pods": "5"}), workload("DaemonSet"), nodes=5) == []
    assert run(ns(), quota({"pods": "4"}), workload("DaemonSet"), nodes=5) == [need("pods", 5, 4)]
    exactly("pods", 3, workload("Job", api="batch/v1", parallelism=3))
    exactly("pods", 1, workload("Job", api="batch/v1"))
    exactly("pods", 6, workload("CronJob", api="batch/v1", parallelism=6))
    exactly("pods", 1, workload("CronJob", api="batch/v1"))
    exactly("pods", 0, obj("ConfigMap"), obj("Service", spec={"ports": [{"port": 80}]}))


def test_an_autoscaler_raises_its_own_target_to_max_replicas() -> None:
    exactly("pods", 7, workload("Deployment", "web", replicas=2), autoscaler("web", 7))
    exactly("pods", 7, workload("StatefulSet", "db", replicas=2), autoscaler("db", 7, "StatefulSet"))
    # maxReplicas is required by the API; read as 1 when absent, never as "no ceiling"
    exactly("pods", 1, workload("Deployment", "web", replicas=2), autoscaler("web", None))
    # another name, another kind or another namespace: not this workload
    exactly("pods", 2, workload("Deployment", "web", replicas=2), autoscaler("api", 7))
    exactly("pods", 2, workload("Deployment", "web", replicas=2), autoscaler("web", 7, "StatefulSet"))
    other = [ns("other"), autoscaler("web", 7, namespace="other")]
    assert run(ns(), quota({"pods": "2"}), workload("Deployment", "web", replicas=2), *other) == []


def test_compute_quota_multiplies_each_pod_by_its_replicas() -> None:
    c = container(requests={"cpu": "250m", "memory": "1Gi", "nvidia.com/gpu": "1"},
                  limits={"cpu": "500m", "memory": "2Gi", "nvidia.com/gpu": "1"})
    dep = workload("Deployment", replicas=3)
    dep["spec"]["template"]["spec"]["containers"] = [c]
    totals = {"requests.cpu": "750m", "cpu": "750m", "requests.memory": "3Gi", "memory": "3Gi",
              "limits.cpu": "1500m", "limits.memory": "6Gi", "requests.nvidia.com/gpu": "3"}
    assert run(ns(), quota(totals), dep) == []
    for key, value in totals.items():
        less = {k: (v if k != key else value.replace("3", "2").replace("750m", "749m").replace("1500m", "1499m")
                    .replace("6Gi", "5Gi")) for k, v in totals.items()}
        assert run(ns(), quota(less), dep) == [need(key, value, less[key])], key


def test_ephemeral_storage_requests_count_under_both_quota_names() -> None:
    dep = workload("Deployment", replicas=2)
    dep["spec"]["template"]["spec"]["containers"] = [container(requests={"ephemeral-storage": "1Gi"})]
    for key in ("ephemeral-storage", "requests.ephemeral-storage"):
        assert run(ns(), quota({key: "2Gi"}), dep) == []
        assert run(ns(), quota({key: "2047Mi"}), dep) == [need(key, "2Gi", "2047Mi")]


# --- LimitRanger: items of type Container ---------------------------------------------------------------
# limit-range page: defaulting sets `default` as the limit and `defaultRequest` as the request of a container
# that gives none (API defaulting first copies a given limit into a missing request); then min (on the
# request), max (on the limit) and the ratio apply to every container and init container. Pod validation
# then refuses a request above its limit. Only the LimitRanges of the pod's own namespace apply.


def ctr_item(**bounds: Any) -> dict[str, Any]:
    return {"type": "Container", **bounds}


def test_min_is_on_the_request_equal_admitted_one_under_refused_missing_refused() -> None:
    lr = limit_range(ctr_item(min={"memory": "64Mi"}))
    assert run(ns(), lr, pod(container(requests={"memory": "64Mi"}))) == []
    assert run(ns(), lr, pod(container(requests={"memory": "63Mi"}))) == [
        "[admission:LimitRanger] Pod apps/p: containers[0] main: memory request 63Mi is below the LimitRange "
        "minimum 64Mi"
    ]
    assert run(ns(), lr, pod(container())) == [
        "[admission:LimitRanger] Pod apps/p: containers[0] main: minimum memory usage is 64Mi but no request is "
        "specified"
    ]
    # a limit alone becomes the request, which then meets the minimum
    assert run(ns(), lr, pod(container(limits={"memory": "64Mi"}))) == []


def test_max_is_on_the_limit_equal_admitted_one_over_refused_missing_refused() -> None:
    lr = limit_range(ctr_item(max={"cpu": "2"}))
    assert run(ns(), lr, pod(container(limits={"cpu": "2"}))) == []
    assert run(ns(), lr, pod(container(limits={"cpu": "2001m"}))) == [
        "[admission:LimitRanger] Pod apps/p: containers[0] main: cpu limit 2001m exceeds the LimitRange maximum 2"
    ]
    assert run(ns(), lr, pod(container(requests={"cpu": "1"}))) == [
        "[admission:LimitRanger] Pod apps/p: containers[0] main: maximum cpu usage is 2 but no limit is specified"
    ]


def test_container_items_judge_every_container_and_init_container() -> None:
    lr = limit_range(ctr_item(min={"cpu": "100m"}, max={"cpu": "1"}))
    ok = container("ok", requests={"cpu": "100m"}, limits={"cpu": "1"})
    low = container("low", requests={"cpu": "99m"}, limits={"cpu": "1"})
    high = container("high", requests={"cpu": "100m"}, limits={"cpu": "1001m"})
    out = run(ns(), lr, pod(ok, low, high, init=[ok | {"name": "i0"}, high | {"name": "i1"}]))
    assert out == [
        "[admission:LimitRanger] Pod apps/p: initContainers[1] i1: cpu limit 1001m exceeds the LimitRange maximum 1",
        "[admission:LimitRanger] Pod apps/p: containers[1] low: cpu request 99m is below the LimitRange minimum 100m",
        "[admission:LimitRanger] Pod apps/p: containers[2] high: cpu limit 1001m exceeds the LimitRange maximum 1",
    ]


def test_defaults_fill_only_what_the_container_leaves_out() -> None:
    lr = limit_range(ctr_item(default={"cpu": "1", "memory": "1Gi"}, defaultRequest={"cpu": "500m"},
                              max={"cpu": "1", "memory": "1Gi"}, min={"cpu": "500m"}))
    assert run(ns(), lr, pod(container())) == []
    # a given limit is kept (and refused above max), not replaced by the default
    assert run(ns(), lr, pod(container(limits={"cpu": "2"}))) == [
        "[admission:LimitRanger] Pod apps/p: containers[0] main: cpu limit 2 exceeds the LimitRange maximum 1"
    ]
    # a given request is kept (and refused below min), not replaced by defaultRequest
    assert run(ns(), lr, pod(container(requests={"cpu": "100m"}))) == [
        "[admission:LimitRanger] Pod apps/p: containers[0] main: cpu request 100m is below the LimitRange "
        "minimum 500m"
    ]


def test_a_defaulted_limit_below_the_request_is_limitranger_s_and_an_own_limit_is_validation_s() -> None:
    lr = limit_range(ctr_item(default={"memory": "1Gi"}))
    assert run(ns(), lr, pod(container(requests={"memory": "1Gi"}))) == []
    assert run(ns(), lr, pod(container(requests={"memory": "2Gi"}))) == [
        "[admission:LimitRanger] Pod apps/p: containers[0] main: memory request 2Gi exceeds the defaulted limit 1Gi"
    ]
    assert run(ns(), pod(container(requests={"memory": "2Gi"}, limits={"memory": "1Gi"}))) == [
        "[admission:validation] Pod apps/p: containers[0] main: memory request 2Gi exceeds its limit 1Gi"
    ]
    assert run(ns(), pod(container(requests={"memory": "1Gi"}, limits={"memory": "1Gi"}))) == []
    assert run(ns(), pod(init=[container("i", requests={"cpu": "2"}, limits={"cpu": "1"})])) == [
        "[admission:validation] Pod apps/p: initContainers[0] i: cpu request 2 exceeds its limit 1"
    ]


def test_only_container_items_of_the_pod_s_own_namespace_apply() -> None:
    strict = ctr_item(min={"cpu": "1"}, max={"cpu": "1"}, default={"cpu": "9"}, defaultRequest={"cpu": "9"})
    assert run(ns(), ns("other"), limit_range(strict, namespace="other"), pod()) == []
    # a Pod item bounds the pod's sum, a Container item each container: 1.5Gi twice is within a container
    # max of 2Gi and above a per-Pod max of 2Gi
    pair = pod(container("a", limits={"memory": "1536Mi"}), container("b", limits={"memory": "1536Mi"}))
    assert run(ns(), limit_range(ctr_item(max={"memory": "2Gi"})), pair) == []
    assert run(ns(), limit_range(pod_item(max={"memory": "2Gi"})), pair) == [
        "[admission:LimitRanger] Pod apps/p: pod: memory limits 3Gi exceed the per-Pod maximum 2Gi"
    ]
    # every LimitRange of the namespace applies
    two = [limit_range(ctr_item(min={"cpu": "2"})), {**limit_range(ctr_item(max={"cpu": "1"})),
                                                      "metadata": {"name": "lr2", "namespace": "apps"}}]
    assert run(ns(), *two, pod(container(requests={"cpu": "1"}))) == [
        "[admission:LimitRanger] Pod apps/p: containers[0] main: cpu request 1 is below the LimitRange minimum 2",
        "[admission:LimitRanger] Pod apps/p: containers[0] main: maximum cpu usage is 1 but no limit is specified",
    ]


def test_a_resource_quantity_the_api_server_cannot_parse_is_refused() -> None:
    bad = container(requests={"cpu": "one"})
    assert run(ns(), pod(bad, container("b", limits={"memory": "1Gb"}))) == [
        "[admission:validation] Pod apps/p: containers[0] main: 'one' is not a quantity such as 500m, 4 or 24Gi",
        "[admission:validation] Pod apps/p: containers[1] b: '1Gb' is not a quantity such as 500m, 4 or 24Gi",
    ]
    assert run(ns(), quota({"pods": "ten", "secrets": "1"})) == [
        "[admission:validation] ResourceQuota apps/q: spec.hard[pods]: 'ten' is not a quantity such as 500m, 4 or "
        "24Gi"
    ]


# --- NamespaceLifecycle, scope, and the report ------------------------------------------------------------
# admission-controllers page, NamespaceLifecycle: objects in a namespace that does not exist are refused;
# default, kube-system, kube-public and kube-node-lease always exist. A cluster-scoped object may not name a
# namespace; a namespaced object without one goes to `default`.


def test_namespaced_objects_need_a_declared_or_system_namespace() -> None:
    for system in ("default", "kube-system", "kube-public", "kube-node-lease"):
        assert run(named("ConfigMap", "c", namespace=system)) == [], system
    assert run(named("ConfigMap", "c", namespace=None)) == []
    assert run(ns("apps"), named("ConfigMap", "c", namespace="apps")) == []
    assert run(ns("apps"), named("ConfigMap", "c", namespace="app")) == [
        "[admission:NamespaceLifecycle] ConfigMap app/c: namespace 'app' not found (the stack does not declare it)"
    ]
    # a namespace is declared by a Namespace object, not by another kind with that name
    assert run(named("ConfigMap", "apps", namespace="default"), named("Secret", "s", namespace="apps")) == [
        "[admission:NamespaceLifecycle] Secret apps/s: namespace 'apps' not found (the stack does not declare it)"
    ]


def test_cluster_scoped_objects_may_not_name_a_namespace() -> None:
    for kind in ("Namespace", "ClusterRole", "ClusterRoleBinding", "PriorityClass", "StorageClass", "IngressClass",
                 "CustomResourceDefinition", "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration",
                 "PersistentVolume", "Node", "RuntimeClass", "APIService"):
        name = "x.example.com" if kind not in ("Namespace",) else "x"
        assert run(named(kind, name, namespace=None)) == [], kind
        assert run(ns("apps"), named(kind, name, namespace="apps")) == [
            f"[admission:validation] {kind} apps/{name}: {kind} is cluster-scoped; namespace 'apps' is not allowed"
        ], kind
    # and they are not namespaced objects: no NamespaceLifecycle, no quota on them
    assert run(named("StorageClass", "fast", namespace="nowhere")) == [
        "[admission:validation] StorageClass nowhere/fast: StorageClass is cluster-scoped; namespace 'nowhere' is "
        "not allowed"
    ]


def test_charts_need_a_declared_namespace() -> None:
    charts = [{"chart": "ok", "namespace": "apps"}, {"chart": "sys", "namespace": "kube-system"},
              {"chart": "none"}, {"chart": "bad", "namespace": "nowhere"}]
    report = admit([ns("apps")], charts, 3)
    assert [str(f) for f in report.failures] == [
        "[admission:NamespaceLifecycle] chart bad: namespace 'nowhere' not found"
    ]


def test_quotas_and_limit_ranges_judge_only_their_namespace() -> None:
    objs = [ns("apps"), ns("other"), quota({"pods": "0"}, namespace="other"), pod()]
    assert run(*objs) == []
    assert run(*objs, pod(namespace="other")) == [need("pods", 1, 0).replace("apps/q", "other/q")]
    # a pod without a namespace lands in default, where a default quota applies
    default_quota = quota({"pods": "0"}, namespace="default")
    assert run(default_quota, {**pod(), "metadata": {"name": "p"}}) == [
        need("pods", 1, 0).replace("apps/q", "default/q")
    ]


def test_every_quota_of_a_namespace_is_checked() -> None:
    objs = [ns(), quota({"pods": "5"}, name="a"), quota({"pods": "0"}, name="b"), pod()]
    assert run(*objs) == [need("pods", 1, 0, "b")]


def test_the_report_counts_the_objects_and_keeps_each_failure_once() -> None:
    objs = [ns(), pod(name="x"), pod(name="x")]
    report = admit(objs, [], 3)
    assert report.checked == 3 and report.ok
    bad = [ns(), named("ConfigMap", "A"), named("ConfigMap", "A"), named("ConfigMap", "B")]
    report = admit(bad, [], 3)
    assert not report.ok and report.checked == 4
    assert [str(f) for f in report.failures] == [
        f"[admission:names] ConfigMap apps/A: name 'A' {SUBDOMAIN}",
        f"[admission:names] ConfigMap apps/B: name 'B' {SUBDOMAIN}",
    ]
    assert [(f.rule, f.obj) for f in report.failures] == [("names", "ConfigMap apps/A"), ("names", "ConfigMap apps/B")]


def test_objects_without_a_namespace_meet_the_default_namespace_s_rules() -> None:
    # A namespaced object that names no namespace is created in `default`; the default namespace's
    # LimitRanges and autoscalers apply to it as to objects that name `default` explicitly.
    def bare(o: dict[str, Any]) -> dict[str, Any]:
        return {**o, "metadata": {k: v for k, v in o["metadata"].items() if k != "namespace"}}

    lr = limit_range(ctr_item(max={"cpu": "1"}), namespace="default")
    for p, who in [(pod(namespace="default"), "Pod default/p"), (bare(pod()), "Pod p")]:
        for limits in (lr, bare(lr)):
            assert run(limits, p) == [
                f"[admission:LimitRanger] {who}: containers[0] main: maximum cpu usage is 1 but no limit is specified"
            ]
    dep = {**workload("Deployment", "web", replicas=1), "metadata": {"name": "web", "namespace": "default"}}
    hpa = autoscaler("web", 5, namespace="default")
    q = quota({"pods": "4"}, namespace="default")
    for d, h in [(dep, bare(hpa)), (bare(dep), hpa), (bare(dep), bare(hpa))]:
        assert run(q, d, h) == [need("pods", 5, 4).replace("apps/q", "default/q")]


# --- LimitRange objects ---------------------------------------------------------------------------------
# LimitRangeItem (API reference): `type` is required; ValidateLimitRange (v1.30) accepts a standard type
# (Container, Pod, PersistentVolumeClaim) or a prefixed qualified name, each type once per LimitRange, and
# forbids `default` and `defaultRequest` on a Pod item. A refused LimitRange does not exist, so an item
# without a type constrains no container.


def test_limit_range_items_need_a_known_type_once() -> None:
    good = limit_range(ctr_item(max={"cpu": "4"}), pod_item(max={"cpu": "8"}),
                       {"type": "PersistentVolumeClaim", "max": {"storage": "1Ti"}}, {"type": "example.com/x"})
    assert run(ns(), good) == []
    bad = limit_range({"max": {"cpu": "1"}}, {"type": "Node"}, {"type": "/x"}, ctr_item(), ctr_item())
    assert run(ns(), bad) == [
        "[admission:validation] LimitRange apps/lr: spec.limits[0].type '' must be Container, Pod, "
        "PersistentVolumeClaim or a prefixed name",
        "[admission:validation] LimitRange apps/lr: spec.limits[1].type 'Node' must be Container, Pod, "
        "PersistentVolumeClaim or a prefixed name",
        "[admission:validation] LimitRange apps/lr: spec.limits[2].type '/x' must be Container, Pod, "
        "PersistentVolumeClaim or a prefixed name",
        "[admission:validation] LimitRange apps/lr: spec.limits[4].type 'Container' is used twice",
    ]
    # the typeless item is not read as a Container item
    assert run(ns(), limit_range({"max": {"cpu": "1"}}), pod()) == [
        "[admission:validation] LimitRange apps/lr: spec.limits[0].type '' must be Container, Pod, "
        "PersistentVolumeClaim or a prefixed name"
    ]


def test_a_pod_item_has_no_defaults() -> None:
    bad = limit_range(pod_item(default={"cpu": "1"}, defaultRequest={"cpu": "1"}, max={"cpu": "2"}))
    assert run(ns(), bad) == [
        "[admission:validation] LimitRange apps/lr: spec.limits[0].default may not be specified when type is 'Pod'",
        "[admission:validation] LimitRange apps/lr: spec.limits[0].defaultRequest may not be specified when type "
        "is 'Pod'",
    ]
    assert run(ns(), limit_range(pod_item(default={}, max={"cpu": "2"}))) == []


# --- more boundaries found by mutation testing ---------------------------------------------------------------


def test_configmap_size_counts_a_key_in_both_data_and_binary_data_twice() -> None:
    # ValidateConfigMap sums the values of data and of binaryData; a key in both is also refused.
    out = run(ns(), config_map(data={"k": "x" * (MIB // 2 + 1)}, binaryData={"k": base64_of(MIB // 2)}))
    assert out == [
        "[admission:names] ConfigMap apps/c: data key 'k' is also a key of binaryData",
        f"[admission:size] ConfigMap apps/c: data is {MIB + 1} bytes, more than the ConfigMap limit of {MIB} (1 MiB)",
    ]


def test_pod_totals_with_resources_only_some_containers_name() -> None:
    # ephemeral-storage: a quota on it does not require every container to name it (validationSet)
    key = "requests.ephemeral-storage"
    main = container(requests={"cpu": "1"})
    # a sidecar's storage counts though no app container asks for storage
    sidecar = container("proxy", requests={"ephemeral-storage": "2Gi"}, restartPolicy="Always")
    assert run(ns(), quota({key: "2Gi"}), pod(main, init=[sidecar])) == []
    assert run(ns(), quota({key: "2047Mi"}), pod(main, init=[sidecar])) == [need(key, "2Gi", "2047Mi")]
    # an init container running beside that sidecar adds its own storage to the sidecar's
    setup = container("setup", requests={"cpu": "3", "ephemeral-storage": "1Mi"})
    assert run(ns(), quota({key: "2Gi"}), pod(main, init=[sidecar, setup])) == [need(key, "2049Mi", "2Gi")]
    # and a sidecar's storage runs beside an init container that names none
    assert run(ns(), quota({key: "2047Mi"}), pod(main, init=[sidecar, container("s2", requests={"cpu": "1"})])
               ) == [need(key, "2Gi", "2047Mi")]
    # an init container's resource that no app container names still bounds the pod
    alone = container("i", requests={"ephemeral-storage": "1Gi"})
    assert run(ns(), quota({key: "1023Mi"}), pod(main, init=[alone])) == [need(key, "1Gi", "1023Mi")]


def test_the_largest_init_container_bounds_the_pod_whatever_its_place() -> None:
    main = container(requests={"cpu": "1"})
    big, small = container("big", requests={"cpu": "3"}), container("small", requests={"cpu": "2"})
    for order in ([big, small], [small, big]):
        assert run(ns(), quota({"requests.cpu": "3"}), pod(main, init=order)) == []
        assert run(ns(), quota({"requests.cpu": "2999m"}), pod(main, init=order)) == [
            need("requests.cpu", 3, "2999m")
        ]


def test_an_unparsable_hard_limit_does_not_stop_the_other_limits() -> None:
    assert run(ns(), quota({"pods": "ten", "configmaps": "0"})) == [
        "[admission:validation] ResourceQuota apps/q: spec.hard[pods]: 'ten' is not a quantity such as 500m, 4 or "
        "24Gi",
        need("configmaps", 1, 0),
    ]


def test_an_unparsable_container_quantity_does_not_stop_the_next_container() -> None:
    lr = limit_range(ctr_item(max={"cpu": "1"}))
    assert run(ns(), lr, pod(container("a", requests={"cpu": "x"}), container("b"))) == [
        "[admission:validation] Pod apps/p: containers[0] a: 'x' is not a quantity such as 500m, 4 or 24Gi",
        "[admission:LimitRanger] Pod apps/p: containers[1] b: maximum cpu usage is 1 but no limit is specified",
    ]


def test_pod_and_container_refusals_are_all_reported() -> None:
    lr = limit_range(ctr_item(max={"memory": "1Gi"}), pod_item(max={"memory": "1Gi"}))
    out = run(ns(), lr, pod(container("a", limits={"memory": "768Mi"}), container("b", limits={"memory": "1025Mi"})))
    assert out == [
        "[admission:LimitRanger] Pod apps/p: containers[1] b: memory limit 1025Mi exceeds the LimitRange maximum 1Gi",
        "[admission:LimitRanger] Pod apps/p: pod: memory limits 1793Mi exceed the per-Pod maximum 1Gi",
    ]
    requests = pod(container("a", limits={"memory": "512Mi"}), container("b", requests={"memory": "768Mi"}))
    assert run(ns(), limit_range(pod_item(max={"memory": "1Gi"})), requests) == [
        "[admission:LimitRanger] Pod apps/p: pod: memory requests 1280Mi exceed the per-Pod maximum 1Gi"
    ]


def test_each_workload_kind_names_its_template_fields() -> None:
    bad = {"-x": "y"}
    for kind, api, path in [("DaemonSet", "apps/v1", "spec.template"), ("Job", "batch/v1", "spec.template"),
                            ("StatefulSet", "apps/v1", "spec.template"), ("ReplicaSet", "apps/v1", "spec.template"),
                            ("CronJob", "batch/v1", "spec.jobTemplate.spec.template")]:
        w = workload(kind, api=api)
        template = w["spec"]["jobTemplate"]["spec"]["template"] if kind == "CronJob" else w["spec"]["template"]
        template["metadata"]["labels"] = bad
        template["spec"]["nodeSelector"] = bad
        assert run(ns(), w) == [
            f"[admission:labels] {kind} apps/w: {path}.metadata.labels: key '-x': {KEY_NAME_MSG}",
            f"[admission:labels] {kind} apps/w: {path}.spec.nodeSelector: key '-x': {KEY_NAME_MSG}",
        ], kind
    assert run(ns(), pod(labels=bad)) == [f"[admission:labels] Pod apps/p: metadata.labels: key '-x': {KEY_NAME_MSG}"]


def test_object_count_keys_of_custom_kinds_use_the_english_plural() -> None:
    # A custom resource's plural is its CRD's; these follow English like the built-in kinds above.
    for kind, plural in [("ApiKey", "apikeys"), ("Convoy", "convoys"), ("Buy", "buys"), ("Policy", "policies"),
                         ("Address", "addresses"), ("Widget", "widgets")]:
        exactly(f"count/{plural}.example.com", 1, obj(kind, "example.com/v1"))


def test_every_workload_and_service_of_a_namespace_adds_to_its_usage() -> None:
    c = container(requests={"cpu": "1", "memory": "1Gi"}, limits={"cpu": "2", "memory": "2Gi"})
    a, b = workload("Deployment", "a", replicas=2), workload("StatefulSet", "b", replicas=3)
    for w in (a, b):
        w["spec"]["template"]["spec"]["containers"] = [c]
    # 2 + 3 pods of 1 CPU and 1Gi requested, 2 CPU and 2Gi limits
    totals = {"pods": (5, "4"), "count/pods": (5, "4"), "requests.cpu": (5, "4"), "cpu": (5, "4"),
              "limits.cpu": (10, "9"), "requests.memory": ("5Gi", "4Gi"), "memory": ("5Gi", "4Gi"),
              "limits.memory": ("10Gi", "9Gi")}
    assert run(ns(), quota({k: str(v) for k, (v, _) in totals.items()}), a, b) == []
    for key, (value, lower) in totals.items():
        assert run(ns(), quota({key: lower}), a, b) == [need(key, value, lower)], key
    lb = [obj("Service", name=f"lb{i}", spec={"type": "LoadBalancer", "ports": [{"port": 80}]}) for i in range(2)]
    exactly("services.loadbalancers", 2, *lb)


def test_a_bare_pod_does_not_stop_the_count_of_the_objects_after_it() -> None:
    exactly("count/configmaps", 3, pod(), obj("ConfigMap", name="a"), obj("ConfigMap", name="b"))


def test_an_unnamed_port_does_not_stop_the_check_of_the_next() -> None:
    assert run(ns(), pod(ported(None, "Bad"))) == [
        f"[admission:names] Pod apps/p: containers[0].ports[1] name 'Bad' {PORT_MSG}"
    ]


def test_an_init_container_runs_beside_every_sidecar_started_before_it() -> None:
    main = container(requests={"cpu": "1"})
    s1 = container("s1", requests={"cpu": "1"}, restartPolicy="Always")
    s2 = container("s2", requests={"cpu": "1"}, restartPolicy="Always")
    setup = container("setup", requests={"cpu": "2"})
    # app 1 + sidecars 2 = 3 while running; the init container needs 2 + 2 sidecars = 4 while it runs
    assert run(ns(), quota({"requests.cpu": "4"}), pod(main, init=[s1, s2, setup])) == []
    assert run(ns(), quota({"requests.cpu": "3"}), pod(main, init=[s1, s2, setup])) == [need("requests.cpu", 4, 3)]


def test_an_empty_host_or_unnamed_port_does_not_stop_the_check_of_the_next() -> None:
    assert run(ns(), ingress("", "Bad.example")) == [
        "[admission:names] Ingress apps/i: spec.rules[1].host 'Bad.example' must be a DNS-1123 subdomain"
    ]
    assert run(ns(), service({"port": 80}, {"port": 81, "name": "Bad"})) == [
        "[admission:names] Service apps/web: spec.ports[0].name is required when a Service has more than one port",
        "[admission:names] Service apps/web: spec.ports[1].name 'Bad' must be a DNS-1123 label",
    ]
