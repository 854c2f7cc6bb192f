"""The CrossGuard pack folder: a Python pack whose program only builds the pack from sitekit.policy."""

from __future__ import annotations

import ast
from pathlib import Path

import yaml


def test_pack_folder_is_a_python_policy_pack(repo_root: Path) -> None:
    config = yaml.safe_load((repo_root / "policies" / "PulumiPolicy.yaml").read_text())
    assert config["runtime"]["name"] == "python"
    assert (repo_root / "policies" / config["runtime"]["options"]["virtualenv"]).resolve() == (
        repo_root / ".venv"
    ).resolve()


def test_pack_program_only_builds_the_pack(repo_root: Path) -> None:
    tree = ast.parse((repo_root / "policies" / "__main__.py").read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imported == {"pulumi_policy", "sitekit.policy.pack"}
    calls = [n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)]
    assert calls.count("PolicyPack") == 1
    defined = [n for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef)]
    assert not defined, "rules belong in sitekit.policy, not in the pack program"


def test_pack_starts_its_policy_server(repo_root: Path) -> None:
    """Constructing the pack validates every policy and starts the gRPC server, which prints its port."""
    import select
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "__main__.py"],
        cwd=repo_root / "policies",
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 60)
        assert ready, "the policy pack printed nothing within 60 s"
        port = proc.stdout.readline().strip()
        assert port.isdigit(), proc.stderr.read() if proc.stderr else port
    finally:
        proc.terminate()
        proc.wait(timeout=10)
