"""The program's gate: config validated with the spec models, stale renders and wrong stacks refused."""

from __future__ import annotations

import json

import pytest

from sitekit.plan.program import run_program, stack_config
from sitekit.spec import Fleet


def test_program_refuses_a_stale_digest(fleet: Fleet, stacks_dir) -> None:  # type: ignore[no-untyped-def]
    site = fleet.site("ee")
    config = stack_config(site, digest="0" * 64)
    with pytest.raises(Exception, match=r"stale render: .*sitekit render ee") as err:
        run_program(stacks_dir, "ee", config)
    assert type(err.value).__name__ == "StackConfigError"


def test_program_refuses_a_hand_edited_site(fleet: Fleet, stacks_dir) -> None:  # type: ignore[no-untyped-def]
    site = fleet.site("ee")
    config = stack_config(site)
    data = json.loads(config["sitekit:site"])
    data["tenants"][0]["gpu_quota"] = 64  # edited in Pulumi.ee.yaml, digest left as rendered
    config["sitekit:site"] = json.dumps(data)
    with pytest.raises(Exception, match="stale render"):
        run_program(stacks_dir, "ee", config)


def test_program_refuses_invalid_config_naming_the_key(fleet: Fleet, stacks_dir) -> None:  # type: ignore[no-untyped-def]
    config = stack_config(fleet.site("ee"))
    data = json.loads(config["sitekit:site"])
    data["network"]["pod_cidr"] = "not-a-network"
    config["sitekit:site"] = json.dumps(data)
    with pytest.raises(Exception, match=r"sitekit:site\.network\.pod_cidr"):
        run_program(stacks_dir, "ee", config)


def test_program_refuses_another_countrys_config(fleet: Fleet, stacks_dir) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(Exception, match="select stack 'ke'"):
        run_program(stacks_dir, "ee", stack_config(fleet.site("ke")))


def test_real_run_never_uses_tls_placeholders(
    fleet: Fleet,
    stacks_dir,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    import sitekit.pki

    def missing(site: object, names: object) -> tuple[str, str]:
        raise RuntimeError("no key hierarchy for ee: run sitekit keys init ee")

    import components.cluster_provider

    monkeypatch.setattr(sitekit.pki, "ingress_tls", missing)
    # The cluster check is not what this test is about: accept any kubeconfig (test_cluster_provider covers it).
    monkeypatch.setattr(components.cluster_provider, "check_kubeconfig", lambda cc, text, base: None)
    config = stack_config(fleet.site("ee"), offline_plan=False)
    config["sitekit:kubeconfigPath"] = __file__
    with pytest.raises(Exception, match="keys init ee"):
        run_program(stacks_dir, "ee", config)


def test_stack_outputs(fleet: Fleet, stacks_dir) -> None:  # type: ignore[no-untyped-def]
    site = fleet.site("ke")
    outputs = run_program(stacks_dir, "ke", stack_config(site)).outputs
    assert outputs["tenant_gpu_quota"] == {t.name: t.gpu_quota for t in site.tenants}
    assert outputs["ingress_hosts"]["jacaranda-sw"] == "jacaranda-sw.ai.ke.sovereign.example"
    assert outputs["service_endpoints"]["llama-en-ke"] == "http://llama-en-ke.sitekit-serving.svc.cluster.local:80"
    assert "tenant-kenya-health" in outputs["namespaces"]
    assert outputs["gpu_node_labels"]["ke-gpu-1"]["nvidia.com/mig.config"] == "all-1g.10gb"


def test_program_accepts_what_sitekit_render_writes(tmp_path, repo_root, stacks_dir) -> None:  # type: ignore[no-untyped-def]
    import shutil

    import yaml

    from sitekit.cli import main

    shutil.copytree(repo_root / "sites", tmp_path / "sites")
    if main(["--root", str(tmp_path), "render"]) != 0:
        pytest.skip("sitekit render is not available")
    doc = yaml.safe_load((tmp_path / "Pulumi.ke.yaml").read_text())
    config = {k: v if isinstance(v, str) else json.dumps(v) for k, v in doc["config"].items()}
    config["sitekit:offlinePlan"] = "true"
    assert run_program(stacks_dir, "ke", config).outputs["tenant_gpu_quota"]["kenya-health"] == 4


def test_every_object_of_the_stack_forces_its_fields_back(fleet: Fleet, stacks_dir) -> None:  # type: ignore[no-untyped-def]
    """A hand edit to a declared field is drift the next `pulumi up --refresh` reverts (components/ownership.py)."""
    for cc in ("ee", "ke"):
        rec = run_program(stacks_dir, cc, stack_config(fleet.site(cc)))
        objects = [r for r in rec.resources if r.type.startswith("kubernetes:") and "helm.sh" not in r.type]
        objects = [r for r in objects if not r.type.startswith("pulumi:providers:")]
        assert len(objects) > 50, [r.type for r in rec.resources]
        unforced = [
            f"{r.type} {r.name}"
            for r in objects
            if (r.props.get("metadata") or {}).get("annotations", {}).get("pulumi.com/patchForce") != "true"
        ]
        assert unforced == []
        # The transformation adds to the annotations a component wrote; it never replaces them.
        tls = [r for r in objects if r.type == "kubernetes:core/v1:Secret" and "tls" in r.name]
        assert tls and all("sitekit.io/tls-hosts" in r.props["metadata"]["annotations"] for r in tls)


def test_an_offline_plan_issues_no_certificate(  # type: ignore[no-untyped-def]
    fleet: Fleet, stacks_dir, repo_root, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`sitekit plan` and `sitekit access` run the program offline: they read the key state, never write it."""
    from sitekit.cli import main

    monkeypatch.setenv("SITEKIT_STATE", str(tmp_path))
    monkeypatch.setenv("SITEKIT_KEY_PASSPHRASE", "offline-plan-test-passphrase")
    assert main(["--sites", str(repo_root / "sites"), "keys", "init", "cl"]) == 0
    keys = tmp_path / "keys" / "cl"
    before = sorted(p.relative_to(keys) for p in keys.rglob("*"))
    rec = run_program(stacks_dir, "cl", stack_config(fleet.site("cl")))
    assert sorted(p.relative_to(keys) for p in keys.rglob("*")) == before
    tls = [r for r in rec.resources if r.type == "kubernetes:core/v1:Secret" and "tls" in r.name]
    assert tls and all("PENDING" in str(r.props["stringData"]["tls.crt"]) for r in tls), [r.props for r in tls]
