"""The real Pulumi engine, built from Go modules, runs Python programs offline against a local backend.

No stubs: `ensure_engine()` builds (or finds cached) the pulumi CLI and the Kubernetes provider, and every
test runs the real `pulumi` binary with a `file://` backend in a temporary folder and a passphrase
secrets provider. Every command runs with HTTP(S)_PROXY pointing at a closed loopback port, so anything
that tried to leave the machine (update check, plugin download, a cloud backend) would fail; loopback
stays direct (NO_PROXY), as the engine talks to its plugins over gRPC on 127.0.0.1. There is no API
server here: the Kubernetes tests prove the provider plugin loads and runs, with a kubeconfig that
points at a closed loopback port.
"""

from __future__ import annotations

import json
import shutil
import textwrap
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import pytest

from sitekit.engine.engine import Engine, ensure_engine, wheel_provider_version

ROOT = Path(__file__).resolve().parents[2]
VENV = ROOT / ".venv"
#: A loopback port nothing listens on: a proxy there refuses every connection at once.
DEAD_PROXY = "http://127.0.0.1:9"
PASSPHRASE = "engine-test-passphrase"  # a throwaway for stacks in a temporary folder

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def engine() -> Engine:
    """The engine (a cold cache builds it: tens of minutes on two cores; then seconds)."""
    return ensure_engine()


@pytest.fixture()
def env(engine: Engine, tmp_path: Path) -> Iterator[dict[str, str]]:
    """An offline environment with a fresh file backend."""
    backend = tmp_path / "backend"
    backend.mkdir()
    env = engine.env(f"file://{backend}", passphrase=PASSPHRASE)
    for name in ("KUBECONFIG", "PULUMI_CONFIG_PASSPHRASE_FILE"):
        env.pop(name, None)
    env.update(
        {
            "HTTP_PROXY": DEAD_PROXY,
            "HTTPS_PROXY": DEAD_PROXY,
            "http_proxy": DEAD_PROXY,
            "https_proxy": DEAD_PROXY,
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
            "PULUMI_SKIP_CONFIRMATIONS": "true",
        }
    )
    yield env


def _project(folder: Path, name: str, program: str) -> Path:
    folder.mkdir(parents=True)
    (folder / "Pulumi.yaml").write_text(f"name: {name}\nruntime:\n  name: python\n  options:\n    virtualenv: {VENV}\n")
    (folder / "__main__.py").write_text(textwrap.dedent(program))
    return folder


def _dead_kubeconfig(path: Path) -> Path:
    """A kubeconfig whose API server is a closed loopback port."""
    path.write_text(
        textwrap.dedent(
            """\
            apiVersion: v1
            kind: Config
            clusters:
            - name: dead
              cluster: {server: "https://127.0.0.1:9"}
            users:
            - name: nobody
              user: {token: not-a-secret}
            contexts:
            - name: dead
              context: {cluster: dead, user: nobody}
            current-context: dead
            """
        )
    )
    return path


def test_cli_reports_the_pinned_version(engine: Engine, env: dict[str, str]) -> None:
    """`pulumi version` is the release the Python SDK is pinned to (the ldflags stamp took)."""
    out = engine.run(["version"], env).stdout.strip()
    assert out == f"v{metadata.version('pulumi')}" == f"v{engine.pulumi_version}"


def test_kubernetes_plugin_is_installed_at_the_version_the_wheel_asks_for(engine: Engine, env: dict[str, str]) -> None:
    """`pulumi plugin ls` lists the provider at exactly the version in pulumi_kubernetes' pulumi-plugin.json."""
    plugins = json.loads(engine.run(["plugin", "ls", "--json"], env).stdout)
    kubernetes = [p for p in plugins if p["name"] == "kubernetes" and p["kind"] == "resource"]
    assert [p["version"] for p in kubernetes] == [wheel_provider_version()]


def test_up_runs_a_python_program_end_to_end(engine: Engine, env: dict[str, str], tmp_path: Path) -> None:
    """`pulumi up` runs a Python program with a ComponentResource, config and a secret; outputs come back."""
    program = _project(
        tmp_path / "prog",
        "engine-smoke",
        """
        import pulumi

        class Site(pulumi.ComponentResource):
            def __init__(self, name, opts=None):
                super().__init__("sitekit:test:Site", name, None, opts)
                self.greeting = pulumi.Output.from_input(f"hello {name}")
                self.register_outputs({"greeting": self.greeting})

        config = pulumi.Config()
        site = Site(config.require("country"))
        pulumi.export("greeting", site.greeting)
        pulumi.export("token", config.require_secret("token"))
        """,
    )
    engine.run(["stack", "init", "dev"], env, cwd=program)
    engine.run(["config", "set", "country", "ee"], env, cwd=program)
    engine.run(["config", "set", "--secret", "token", "s3cr3t-for-test"], env, cwd=program)
    assert "s3cr3t-for-test" not in (program / "Pulumi.dev.yaml").read_text()  # encrypted by the passphrase
    up = engine.run(["up", "--yes", "--non-interactive", "--skip-preview"], env, cwd=program)
    assert "sitekit:test:Site" in up.stdout
    outputs = json.loads(engine.run(["stack", "output", "--json", "--show-secrets"], env, cwd=program).stdout)
    assert outputs == {"greeting": "hello ee", "token": "s3cr3t-for-test"}
    resources = json.loads(engine.run(["stack", "export"], env, cwd=program).stdout)["deployment"]["resources"]
    assert {r["type"] for r in resources} >= {"pulumi:pulumi:Stack", "sitekit:test:Site"}
    engine.run(["destroy", "--yes", "--non-interactive"], env, cwd=program)


def test_a_failing_program_fails_the_update(engine: Engine, env: dict[str, str], tmp_path: Path) -> None:
    """A Python exception in the program fails `pulumi preview` with the program's own message."""
    program = _project(tmp_path / "bad", "engine-bad", "raise RuntimeError('the spec says no')\n")
    engine.run(["stack", "init", "dev"], env, cwd=program)
    proc = engine.run(["preview", "--non-interactive"], env, cwd=program, check=False)
    assert proc.returncode != 0
    assert "the spec says no" in proc.stdout + proc.stderr


def test_kubernetes_provider_runs_against_an_unreachable_cluster(
    engine: Engine, env: dict[str, str], tmp_path: Path
) -> None:
    """A ConfigMap through an explicit Provider(kubeconfig=...) reaches the real provider binary."""
    kubeconfig = _dead_kubeconfig(tmp_path / "kubeconfig")
    program = _project(
        tmp_path / "k8s",
        "engine-k8s",
        f"""
        import pulumi
        import pulumi_kubernetes as k8s

        provider = k8s.Provider("dead", kubeconfig=open({str(kubeconfig)!r}).read())
        cm = k8s.core.v1.ConfigMap(
            "probe",
            metadata={{"name": "probe", "namespace": "default"}},
            data={{"k": "v"}},
            opts=pulumi.ResourceOptions(provider=provider),
        )
        pulumi.export("name", cm.metadata["name"])
        """,
    )
    engine.run(["stack", "init", "dev"], env, cwd=program)
    preview = engine.run(["preview", "--non-interactive", "--diff"], env, cwd=program, check=False)
    text = preview.stdout + preview.stderr
    # The provider itself answered: it reports the cluster it cannot reach (and previews without it).
    assert "127.0.0.1:9" in text or "unreachable" in text, text
    assert "kubernetes:core/v1:ConfigMap" in text, text
    up = engine.run(["up", "--yes", "--non-interactive", "--skip-preview"], env, cwd=program, check=False)
    assert up.returncode != 0  # nothing can be created without an API server
    assert "127.0.0.1:9" in up.stdout + up.stderr or "unreachable" in up.stdout + up.stderr


@pytest.fixture()
def project_copy(tmp_path: Path) -> Path:
    """The real Pulumi project (Pulumi.yaml, the ee stack's rendered config, stacks/, policies/) in a
    temporary folder, so `stack init` with a passphrase does not write a salt into the checkout."""
    dest = tmp_path / "project"
    dest.mkdir()
    for name in ("Pulumi.yaml", "Pulumi.ee.yaml"):
        (dest / name).write_text((ROOT / name).read_text())
    for name in ("stacks", "policies"):
        shutil.copytree(ROOT / name, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
    (dest / ".venv").symlink_to(VENV)  # Pulumi.yaml says .venv, PulumiPolicy.yaml ../.venv
    return dest


def test_preview_of_the_real_project_runs_the_policy_pack(
    engine: Engine, env: dict[str, str], tmp_path: Path, project_copy: Path
) -> None:
    """`pulumi preview -s ee --policy-pack policies/` runs stacks/ and the CrossGuard pack through the engine.

    The machine's current kube context (KUBECONFIG) is never used: without the country's own kubeconfig the
    program refuses, with its own message and no traceback (`tests/lab/test_pulumi_up.py` deploys for real).
    """
    env["KUBECONFIG"] = str(_dead_kubeconfig(tmp_path / "kubeconfig"))
    engine.run(["stack", "init", "ee"], env, cwd=project_copy)
    proc = engine.run(
        ["preview", "-s", "ee", "--non-interactive", "--policy-pack", str(project_copy / "policies")],
        env,
        cwd=project_copy,
        check=False,
    )
    text = proc.stdout + proc.stderr
    assert "no kubeconfig for ee" in text, text  # stacks/ ran through the language host, and refused
    assert "Traceback" not in text, text
    assert "Policies:" in text and "sitekit@" in text, text  # the pack ran through the host's RunPlugin
    assert "no resource plugin" not in text, text  # the provider the wheel asks for is installed
