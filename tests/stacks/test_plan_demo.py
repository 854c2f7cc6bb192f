"""The full plan for every demo country: manifests written, deterministic, strictly valid, all checks pass."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from sitekit.cli import main
from sitekit.plan.runner import plan_site
from sitekit.spec import Site


def _files(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def test_demo_country_plans_clean(site: Site, tmp_path: Path, stacks_dir: Path) -> None:
    result = plan_site(site, tmp_path / site.cc, stacks_dir)
    assert result.ok, (
        [str(f) for f in result.admission.failures],
        result.schema.errors,
        [str(v) for v in result.violations],
        result.reachability.failures,
        result.errors,
    )
    assert result.admission.checked == len(result.manifests)
    assert result.schema.checked == len(result.manifests) > 30
    kinds = {m["kind"] for m in result.manifests.values()}
    assert {
        "Namespace",
        "NetworkPolicy",
        "Deployment",
        "Ingress",
        "ResourceQuota",
        "HorizontalPodAutoscaler",
        "Secret",
        "Role",
        "RoleBinding",
        "LimitRange",
    } <= kinds
    assert list(result.charts) == [
        "_charts/gpu-operator-gpu-operator.yaml",
        "_charts/sitekit-ingress-ingress-nginx.yaml",
        "_charts/sitekit-metrics-metrics-server.yaml",
    ]
    first = _files(tmp_path / site.cc)
    plan_site(site, tmp_path / site.cc, stacks_dir)
    assert _files(tmp_path / site.cc) == first, "the same spec must give the same bytes"


def test_no_secret_value_reaches_disk(
    site: Site, tmp_path: Path, stacks_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sitekit.pki

    key = "-----BEGIN PRIVATE KEY-----\nTOPSECRETKEYBYTES\n-----END PRIVATE KEY-----\n"
    # The offline plan reuses a stored certificate and never issues one: give it a stored one to redact.
    monkeypatch.setattr(sitekit.pki, "stored_ingress_tls", lambda s, names: ("CHAIN", key))
    monkeypatch.setattr(sitekit.pki, "ingress_tls", lambda s, names: pytest.fail("the offline plan issued a leaf"))
    out = tmp_path / site.cc
    result = plan_site(site, out, stacks_dir)
    assert not result.recording.warnings
    for name, data in _files(out).items():
        assert b"TOPSECRETKEYBYTES" not in data, name
    secret = yaml.safe_load((out / "sitekit-serving" / "secret-ingress-tls.yaml").read_text())
    assert secret["stringData"] == {"tls.crt": "<redacted>", "tls.key": "<redacted>"}


def test_cli_plans_a_country_and_prints_the_summary(
    tmp_path: Path, repo_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "ee"
    rc = main(["--root", str(repo_root), "plan", "ee", "--out", str(out), "-v"])
    printed = capsys.readouterr().out
    assert rc == 0, printed
    assert "schema        ok" in printed and "policy        ok" in printed and "reachability  ok" in printed
    assert "not expanded  chart gpu-operator v24.9.2" in printed
    assert "any pod in tenant-ria ->" in printed
    assert (out / "plan.json").exists()


def test_cli_refuses_to_clear_a_foreign_folder(tmp_path: Path, repo_root: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    assert main(["--root", str(repo_root), "plan", "ee", "--out", str(tmp_path)]) == 2
    assert (tmp_path / "keep.txt").exists()


def test_cli_unknown_country_is_a_user_error(repo_root: Path, tmp_path: Path) -> None:
    assert main(["--root", str(repo_root), "plan", "zz", "--out", str(tmp_path / "zz")]) == 2


def _project_copy(repo_root: Path, tmp_path: Path) -> Path:
    """A project folder (sites, stacks, rendered stack files) that a test may edit."""
    import shutil

    project = tmp_path / "project"
    project.mkdir()
    for name in ("sites", "stacks"):
        shutil.copytree(repo_root / name, project / name)
    for stack in repo_root.glob("Pulumi*.yaml"):
        shutil.copy(stack, project / stack.name)
    return project


def test_cli_plan_runs_the_rendered_stack_file_and_refuses_a_hand_edit(
    tmp_path: Path, repo_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = _project_copy(repo_root, tmp_path)
    stack = project / "Pulumi.ee.yaml"
    doc = yaml.safe_load(stack.read_text())
    doc["config"]["sitekit:site"]["tenants"][0]["gpu_quota"] = 3  # edited by hand, digest as rendered
    stack.write_text(yaml.safe_dump(doc))
    rc = main(["--root", str(project), "plan", "ee", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert rc == 1
    assert "the stack program refused Pulumi.ee.yaml: stale render" in err, err


def test_cli_plan_refuses_a_stack_file_from_another_spec_even_with_a_matching_digest(
    tmp_path: Path, repo_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from sitekit.spec import Site, site_digest

    project = _project_copy(repo_root, tmp_path)
    stack = project / "Pulumi.ee.yaml"
    doc = yaml.safe_load(stack.read_text())
    doc["config"]["sitekit:site"]["tenants"][0]["gpu_quota"] = 3
    doc["config"]["sitekit:specDigest"] = site_digest(Site.model_validate(doc["config"]["sitekit:site"]))
    stack.write_text(yaml.safe_dump(doc))
    rc = main(["--root", str(project), "plan", "ee", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert rc == 1
    assert "Pulumi.ee.yaml was not rendered from the current spec" in err, err


def test_cli_plan_without_a_rendered_stack_file_is_a_usage_error(
    tmp_path: Path, repo_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = _project_copy(repo_root, tmp_path)
    (project / "Pulumi.ee.yaml").unlink()
    assert main(["--root", str(project), "plan", "ee", "--out", str(tmp_path / "out")]) == 2
    assert "Pulumi.ee.yaml does not exist: run `sitekit render` first" in capsys.readouterr().err
