"""Per-tool `prepare` hooks for `sitekit.gotools.build`: work a tool's upstream needs before `go build`.

The Kubernetes provider embeds `schema-embed.json` and `terraform-mapping-embed.json`, which upstream's
release build generates (`VERSION=... go generate`, stamping the version into the schema) and which the
module zip therefore lacks. The zip in the module cache is read-only, so the hook copies the provider
module into the scratch folder, runs upstream's own generator (`generate.go`) there, and points the
wrapper's scratch go.mod at the copy with a `replace` line.
"""

from __future__ import annotations

import shutil
import stat
import subprocess
from collections.abc import Mapping
from pathlib import Path

from sitekit.errors import UserError
from sitekit.gotools import Prepare, load_spec, module_dir

#: The provider module whose main package embeds generated files.
K8S_PROVIDER_MODULE = "github.com/pulumi/pulumi-kubernetes/provider/v4"
_K8S_MAIN = "cmd/pulumi-resource-kubernetes"


def _run(cmd: list[str], cwd: Path, env: Mapping[str, str], what: str) -> None:
    proc = subprocess.run(cmd, cwd=cwd, env=dict(env), capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-25:])
        raise UserError(f"{what} failed: {' '.join(cmd)}\n{tail}")


def _make_writable(root: Path) -> None:
    for path in [root, *root.rglob("*")]:
        mode = path.stat().st_mode
        path.chmod(mode | stat.S_IWUSR | (stat.S_IXUSR if path.is_dir() else 0))


def prepare_kubernetes_provider(scratch: Path, env: dict[str, str]) -> None:
    """Generate the provider's embedded schema on a writable copy and build from that copy."""
    version = load_spec("pulumi-resource-kubernetes").version.removeprefix("v")
    source = module_dir(scratch, K8S_PROVIDER_MODULE, env)
    copy = scratch.parent / "provider-src"
    shutil.copytree(source, copy)
    _make_writable(copy)
    main_dir = copy / _K8S_MAIN
    # Upstream's generator, built inside the wrapper module (whose graph has its one import,
    # pkg/v3/codegen/schema); the copy's own go.mod cannot resolve its `../sdk` replace.
    gen_dir = scratch / "_gen"
    gen_dir.mkdir()
    shutil.copyfile(main_dir / "generate.go", gen_dir / "generate.go")
    gen_bin = scratch.parent / "k8s-schema-gen"
    # -trimpath like gotools' own builds, so the packages compiled here are reused by the provider build.
    cmd = ["go", "build", "-trimpath", "-o", str(gen_bin), "./_gen/generate.go"]
    _run(cmd, scratch, env, "building the schema generator")
    _run([str(gen_bin)], main_dir, {**env, "VERSION": version}, "generating the provider's embedded schema")
    for name in ("schema-embed.json", "terraform-mapping-embed.json"):
        if not (main_dir / name).is_file():
            raise UserError(f"the provider's generator did not write {name}")
    with (scratch / "go.mod").open("a") as gomod:
        gomod.write(f"\nreplace {K8S_PROVIDER_MODULE} => {copy}\n")


#: The hook each Go tool needs, by tool name (tools without one build straight from the module cache).
PREPARE: dict[str, Prepare] = {
    "pulumi-resource-kubernetes": prepare_kubernetes_provider,
}
