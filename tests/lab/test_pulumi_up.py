"""`pulumi up -s ee` for real: the engine built from Go, against the lab's real control plane.

One module-scoped run, as a platform engineer would do it: `sitekit keys init ee` (SoftHSM2), `sitekit lab
up ee --tier cluster`, then, in a copy of the project with a self-managed backend in the state folder, a
passphrase secrets provider and the policy pack on, `pulumi up`. The tests then ask the API server: every
object of `sitekit plan`'s manifests exists with the same spec, the model Deployment is Available on a
simulated GPU node, a second `up` changes nothing, a hand edit in the cluster shows in `preview
--refresh` and `up --refresh` reverts it, the offline admission model and the API server agree on
refusals, and `destroy` removes what the stack made.

The lab has no chart repository (charts cannot be fetched here), so the stack runs with
`sitekit:labSkipCharts`: the GPU operator, ingress-nginx and metrics-server releases are not installed
(the plan shows them as not expanded either way).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pytest
from labkit import REPO, lab_ready, sitekit

from sitekit.cluster.api import ApiError, Client
from sitekit.lab.deploy import LabStack, prepare
from sitekit.plan.program import rendered_config
from sitekit.plan.runner import plan_site
from sitekit.spec import load_fleet

pytestmark = [pytest.mark.lab, pytest.mark.slow]


@dataclass
class Deployed:
    """The deployed stack, an API client of the lab cluster, the plan's manifests and the first up's output."""

    stack: LabStack
    api: Client
    manifests: dict[str, dict[str, Any]]
    first_up: str

    def pulumi(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = self.stack.engine.run(
            [*args, "--stack", "ee", "--non-interactive"], self.stack.env(), self.stack.project, check=False
        )
        if check:
            assert proc.returncode == 0, f"pulumi {' '.join(args)}:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
        return proc


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    reason = lab_ready()
    if reason:
        pytest.skip(reason)
    state = tmp_path_factory.mktemp("pulumi-up-state")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SITEKIT_STATE", str(state))
        mp.setenv("SITEKIT_PKCS11_PIN", "lab-pin-2468")
        mp.setenv("SITEKIT_PKCS11_SO_PIN", "lab-so-pin-1357")
        mp.delenv("SOFTHSM2_CONF", raising=False)
        try:
            sitekit("keys", "init", "ee")
            up = sitekit("lab", "up", "ee", "--tier", "cluster", check=False)
            assert up.returncode == 0, up.stderr
            stack = prepare("ee", REPO)
            # The offline plan of exactly what pulumi up runs (the same stack file, kubeconfig and switch).
            site = load_fleet(stack.project / "sites").site("ee")
            config = rendered_config(stack.project / f"Pulumi.{site.cc}.yaml")
            result = plan_site(site, None, stack.project / "stacks", config)
            assert result.ok, ([str(f) for f in result.admission.failures], result.errors, result.violations)
            _, out, _ = stack.pulumi("up", "--refresh", "--yes", "--skip-preview", "--policy-pack", "policies")
            yield Deployed(stack, Client.from_kubeconfig(stack.kubeconfig), result.manifests, out)
        finally:
            sitekit("lab", "down", "ee", check=False)


def _path(manifest: Mapping[str, Any]) -> str:
    """The API path of an object."""
    group_version = str(manifest["apiVersion"])
    base = f"/api/{group_version}" if "/" not in group_version else f"/apis/{group_version}"
    plural = str(manifest["kind"]).lower()
    plural = plural[:-1] + "ies" if plural.endswith("y") else plural + ("es" if plural.endswith("s") else "s")
    meta = manifest["metadata"]
    ns = meta.get("namespace")
    return f"{base}/namespaces/{ns}/{plural}/{meta['name']}" if ns else f"{base}/{plural}/{meta['name']}"


def _missing(want: Any, have: Any, where: str = "") -> list[str]:
    """Where `have` lacks or differs from `want` (the server may add defaults; nothing of ours may differ)."""
    if isinstance(want, Mapping):
        if not isinstance(have, Mapping):
            return [f"{where}: {have!r} is not a map"]
        return [m for k, v in want.items() for m in _missing(v, have.get(k), f"{where}.{k}")]
    if isinstance(want, list):
        if not isinstance(have, list) or len(have) != len(want):
            return [f"{where}: {have!r} != {want!r}"]
        return [m for i, (w, h) in enumerate(zip(want, have, strict=True)) for m in _missing(w, h, f"{where}[{i}]")]
    if want == "<redacted>":
        return []
    if str(want) != str(have):
        return [f"{where}: {have!r} != {want!r}"]
    return []


def test_first_up_created_every_planned_object_with_its_spec(deployed: Deployed) -> None:
    assert "Resources:" in deployed.first_up, deployed.first_up[-3000:]
    problems = []
    for rel, manifest in deployed.manifests.items():
        try:
            live = deployed.api.get(_path(manifest))
        except ApiError as exc:
            problems.append(f"{rel}: {exc.status} {exc.body.get('message')}")
            continue
        want = {k: v for k, v in manifest.items() if k not in ("metadata", "stringData")}
        want["metadata"] = {k: v for k, v in manifest["metadata"].items() if k in ("labels", "annotations")}
        problems += [f"{rel}{m}" for m in _missing(want, live)]
    assert problems == [], problems
    assert len(deployed.manifests) > 30


def test_model_deployment_is_available_on_a_gpu_node(deployed: Deployed) -> None:
    ns = "sitekit-serving"
    dep = deployed.api.get(f"/apis/apps/v1/namespaces/{ns}/deployments/llama-et")
    conditions = {c["type"]: c["status"] for c in dep["status"].get("conditions", [])}
    assert conditions.get("Available") == "True", dep["status"]
    pods = deployed.api.get(f"/api/v1/namespaces/{ns}/pods?labelSelector=app.kubernetes.io%2Fname%3Dllama-et")
    nodes = {p["spec"].get("nodeName") for p in pods["items"]}
    assert nodes and nodes <= {"ee-gpu-1", "ee-gpu-2"}, nodes
    for p in pods["items"]:
        assert p["status"]["phase"] == "Running"


def test_second_up_changes_nothing(deployed: Deployed) -> None:
    deployed.pulumi("up", "--refresh", "--yes", "--expect-no-changes", "--policy-pack", "policies")


def test_hand_edit_in_the_cluster_is_seen_and_reverted(deployed: Deployed) -> None:
    """Drift in the cluster: a refreshing preview shows it; `up --refresh` (as `sitekit lab deploy`) reverts it."""
    path = "/apis/networking.k8s.io/v1/namespaces/tenant-ria/networkpolicies/default-deny"
    original = deployed.api.get(path)
    assert original["spec"]["policyTypes"] == ["Ingress", "Egress"]
    live = dict(original, spec={**original["spec"], "policyTypes": ["Ingress"]})  # someone opens egress by hand
    deployed.api.request("PUT", path, live)
    preview = deployed.pulumi("preview", "--refresh", "--expect-no-changes", "--diff", check=False)
    assert preview.returncode != 0, preview.stdout[-3000:]
    assert "default-deny" in preview.stdout and "policyTypes" in preview.stdout, preview.stdout[-3000:]
    # The hand edit made another field manager own policyTypes; the stack's forced apply takes it back.
    up = deployed.pulumi("up", "--refresh", "--yes", "--skip-preview", "--policy-pack", "policies")
    assert "1 updated" in up.stdout or "~ 1 updated" in up.stdout, up.stdout[-3000:]
    assert deployed.api.get(path)["spec"]["policyTypes"] == ["Ingress", "Egress"]
    deployed.pulumi("preview", "--refresh", "--expect-no-changes")


# --- the offline admission model and the real API server agree ----------------------------------------------


def _refused(api: Client, path: str, obj: dict[str, Any]) -> str | None:
    """The API server's refusal message for creating `obj`, or None if it stored it (then removed again)."""
    try:
        api.create(path, obj)
    except ApiError as exc:
        return str(exc.body.get("message"))
    api.request("DELETE", f"{path}/{obj['metadata']['name']}")
    return None


def _container(**resources: dict[str, str]) -> dict[str, Any]:
    return {
        "name": "main",
        "image": "registry.ee.sovereign.example/lab/pause@sha256:" + "0" * 64,
        "resources": resources,
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "runAsNonRoot": True,
            "runAsUser": 1000,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    }


def test_admission_model_and_api_server_agree(deployed: Deployed) -> None:
    from sitekit.plan.admission import admit

    api = deployed.api
    ns = "sitekit-serving"  # has the stack's LimitRange: default cpu 1
    declared = [
        m for m in deployed.manifests.values() if m["metadata"].get("namespace") == ns or m["kind"] == "Namespace"
    ]
    cases: list[tuple[str, str, dict[str, Any], bool]] = [
        # (what, API path, object, refused by the model?)
        (
            "cpu request above the LimitRange default limit",
            f"/api/v1/namespaces/{ns}/pods",
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "big-cpu", "namespace": ns},
                "spec": {"containers": [_container(requests={"cpu": "4"})]},
            },
            True,
        ),
        (
            "requests equal to limits",
            f"/api/v1/namespaces/{ns}/pods",
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "fits", "namespace": ns},
                "spec": {"containers": [_container(requests={"cpu": "4"}, limits={"cpu": "4"})]},
            },
            False,
        ),
        (
            "Service named with a leading digit",
            f"/api/v1/namespaces/{ns}/services",
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "1llama-et", "namespace": ns},
                "spec": {"ports": [{"port": 80}]},
            },
            True,
        ),
        (
            "ConfigMap over 1 MiB",
            f"/api/v1/namespaces/{ns}/configmaps",
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "big", "namespace": ns},
                "data": {"a": "x" * (1024 * 1024 + 1)},
            },
            True,
        ),
        (
            "object in a namespace nobody created",
            "/api/v1/namespaces/nowhere/configmaps",
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "nowhere"}, "data": {}},
            True,
        ),
        (
            "label value over 63 characters",
            f"/api/v1/namespaces/{ns}/configmaps",
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "labelled", "namespace": ns, "labels": {"a": "x" * 64}},
                "data": {},
            },
            True,
        ),
    ]
    disagreements = []
    for what, path, obj, model_refuses in cases:
        model = [str(f) for f in admit([*declared, obj], [], nodes=3).failures]
        server = _refused(api, path, obj)
        if bool(model) != model_refuses or (server is not None) != model_refuses:
            disagreements.append(f"{what}: model {model or 'admits'}; API server {server or 'admits'}")
    assert disagreements == [], disagreements


def test_tenant_quota_refuses_a_node_port_service(deployed: Deployed) -> None:
    from sitekit.plan.admission import admit

    ns = "tenant-ria"
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "public", "namespace": ns},
        "spec": {"type": "NodePort", "ports": [{"port": 80}]},
    }
    declared = [
        m for m in deployed.manifests.values() if m["metadata"].get("namespace") == ns or m["kind"] == "Namespace"
    ]
    model = [str(f) for f in admit([*declared, svc], [], nodes=3).failures]
    assert any("services.nodeports" in f for f in model), model
    server = _refused(deployed.api, f"/api/v1/namespaces/{ns}/services", svc)
    assert server is not None and "exceeded quota" in server, server


def test_destroy_removes_what_the_stack_made(deployed: Deployed) -> None:
    deployed.pulumi("destroy", "--yes", "--skip-preview")
    left = []
    for rel, manifest in deployed.manifests.items():
        try:
            live = deployed.api.get(_path(manifest))
        except ApiError as exc:
            assert exc.status == 404, (rel, exc.status)
            continue
        if not live["metadata"].get("deletionTimestamp"):
            left.append(rel)
    assert left == [], left
    stack = json.loads(deployed.pulumi("stack", "export").stdout)
    assert [r for r in stack["deployment"].get("resources", []) if r["type"] != "pulumi:pulumi:Stack"] == []
