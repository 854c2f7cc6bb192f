"""Plans that must fail, each with the policy's name and the offending object.

Spec-level mistakes (a foreign egress CIDR, an image outside the mirror) go through the models but not
the fleet checks, as a hand-edited stack config would; workload mistakes (a privileged container, a
tenant over quota) are declared by a wrapper program that runs the real one and adds one object.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
from stackhelpers import with_changes

from sitekit.plan.runner import PlanResult, plan_site
from sitekit.spec import Fleet, Site


def _wrapper(tmp_path: Path, stacks: Path, objects: list[dict[str, Any]]) -> Path:
    """A program folder that runs stacks/ and then declares `objects` as raw Kubernetes resources."""
    program = tmp_path / "program"
    program.mkdir()
    (program / "extra.json").write_text(json.dumps(objects))
    (program / "__main__.py").write_text(
        textwrap.dedent(f"""
        import json, runpy
        from pathlib import Path
        import pulumi_kubernetes as k8s
        runpy.run_path({str(stacks)!r}, run_name="__main__")
        for i, obj in enumerate(json.loads((Path(__file__).parent / "extra.json").read_text())):
            kind = obj["kind"]
            cls = {{"Deployment": k8s.apps.v1.Deployment, "Pod": k8s.core.v1.Pod}}[kind]
            cls(f"extra-{{i}}", metadata=obj["metadata"], spec=obj["spec"])
    """)
    )
    return program


def _deployment(
    namespace: str,
    name: str,
    *,
    gpus: int = 0,
    replicas: int = 1,
    privileged: bool = False,
    image: str | None = None,
    site: Site,
) -> dict[str, Any]:
    registry = site.residency.container_registry.host
    container: dict[str, Any] = {
        "name": "main",
        "image": image or f"{registry}/apps/worker@sha256:{'a' * 64}",
        "security_context": {
            "allow_privilege_escalation": False,
            "run_as_non_root": True,
            "capabilities": {"drop": ["ALL"]},
            "seccomp_profile": {"type": "RuntimeDefault"},
        },
    }
    if privileged:
        container["security_context"]["privileged"] = True
    if gpus:
        container["resources"] = {"limits": {"nvidia.com/gpu": str(gpus)}}
    return {
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "replicas": replicas,
            "selector": {"match_labels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [container]}},
        },
    }


def _policies(result: PlanResult) -> list[str]:
    return [str(v) for v in result.violations]


def test_foreign_egress_cidr_fails(fleet: Fleet, tmp_path: Path, stacks_dir: Path) -> None:
    ee = fleet.site("ee")
    site = with_changes(
        ee,
        residency={
            **ee.residency.model_dump(mode="json"),
            "extra_egress": [{"name": "abroad", "cidr": "8.8.8.0/24", "ports": [443]}],
        },
    )
    # The program itself runs the fleet checks that one site can be judged by, so a hand-edited stack
    # config with a recomputed digest is refused before any object is declared.
    with pytest.raises(Exception, match=r"sitekit:site\.residency\.extra_egress\[0\]\.cidr: 8\.8\.8\.0/24 is outside"):
        plan_site(site, tmp_path / "out", stacks_dir)
    # Behind that gate, the policy and reachability checks still catch the object if it were declared:
    # build the site's components directly (no gate) and check what they declare.
    from components.site import SovereignSite, SovereignSiteArgs

    from sitekit.plan.program import run_function
    from sitekit.plan.reachability import analyse
    from sitekit.plan.runner import collect, policy_resources
    from sitekit.policy import evaluate

    recording = run_function(lambda: SovereignSite("s", SovereignSiteArgs(site=site, offline_plan=True)), "ee")
    manifests, _, _ = collect(recording)
    found = [str(v) for v in evaluate(site, policy_resources(recording.resources))]
    assert any(
        "[sitekit-egress-in-country] NetworkPolicy tenant-ria/allow-in-country-egress" in v and "8.8.8.0/24" in v
        for v in found
    ), found
    reach = analyse(list(manifests.values()), list(site.residency.address_ranges), site.network.pod_cidr)
    assert any("8.8.8.0/24" in f and "outside the country" in f for f in reach.failures)


def test_image_outside_the_mirror_fails(fleet: Fleet, tmp_path: Path, stacks_dir: Path) -> None:
    ke = fleet.site("ke")
    models = ke.model_dump(mode="json")["models"]
    models[0]["image"] = "docker.io/vllm/vllm-openai@sha256:" + "b" * 64
    with pytest.raises(Exception, match=r"sitekit:site\.models\[0\]\.image: image registry 'docker\.io'"):
        plan_site(with_changes(ke, models=models), tmp_path / "out", stacks_dir)


def test_privileged_container_fails(fleet: Fleet, tmp_path: Path, stacks_dir: Path) -> None:
    ee = fleet.site("ee")
    program = _wrapper(tmp_path, stacks_dir, [_deployment("tenant-ria", "miner", privileged=True, site=ee)])
    result = plan_site(ee, tmp_path / "out", program)
    assert not result.ok
    found = _policies(result)
    assert (
        "[sitekit-pod-security-restricted] Deployment tenant-ria/miner: containers[0] main: privileged is true" in found
    ), found


def test_tenant_over_quota_fails(fleet: Fleet, tmp_path: Path, stacks_dir: Path) -> None:
    ee = fleet.site("ee")  # tartu-nlp is granted 1 GPU
    program = _wrapper(tmp_path, stacks_dir, [_deployment("tenant-tartu-nlp", "trainer", gpus=2, replicas=2, site=ee)])
    result = plan_site(ee, tmp_path / "out", program)
    assert not result.ok
    found = _policies(result)
    assert any(
        v.startswith("[sitekit-tenant-gpu-quota] Deployment tenant-tartu-nlp/trainer:")
        and "requests 4 GPUs" in v
        and "quota of 1" in v
        for v in found
    ), found


def test_quota_raised_above_the_spec_fails(fleet: Fleet, tmp_path: Path, stacks_dir: Path) -> None:
    ee = fleet.site("ee")
    program = tmp_path / "program"
    program.mkdir()
    (program / "__main__.py").write_text(
        textwrap.dedent(f"""
        import runpy
        import pulumi_kubernetes as k8s
        runpy.run_path({str(stacks_dir)!r}, run_name="__main__")
        k8s.core.v1.ResourceQuota("more", metadata={{"name": "more-gpus", "namespace": "tenant-ria"}},
                                  spec={{"hard": {{"requests.nvidia.com/gpu": "16"}}}})
    """)
    )
    found = _policies(plan_site(ee, tmp_path / "out", program))
    assert any(v.startswith("[sitekit-tenant-gpu-quota] ResourceQuota tenant-ria/more-gpus:") for v in found), found


def test_cli_exit_code_is_1_on_a_failed_plan(fleet: Fleet, tmp_path: Path, stacks_dir: Path, repo_root: Path) -> None:
    from sitekit.cli import main

    ee = fleet.site("ee")
    program = _wrapper(tmp_path, stacks_dir, [_deployment("tenant-ria", "miner", privileged=True, site=ee)])
    assert main(["--root", str(repo_root), "plan", "ee", "--out", str(tmp_path / "o"), "--program", str(program)]) == 1
