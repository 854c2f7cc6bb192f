"""Builds the Go programs sitekit runs but cannot install as binaries (Pulumi engine, control plane).

None of the Pulumi CLI, its plugins, kube-apiserver, etcd or kwok ships as a binary in a registry these
machines reach; each is a Go module. Every tool has a small wrapper module of ours under `tools/go/<tool>/`
(`go.mod` and `go.sum` with the pins and the `replace` lines the upstream module needs restated) and a
`build.yaml` naming what to build:

```yaml
version: v3.272.0                 # the upstream version (shown, and part of the cache key)
env: {CGO_ENABLED: "0"}           # build environment, for every binary
binaries:
  - package: github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
    output: pulumi
    ldflags: "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v3.272.0"
files:                            # optional: files copied from a module into the output folder
  - module: github.com/pulumi/pulumi/sdk/v3
    path: python/cmd/pulumi-language-python-exec
    output: pulumi-language-python-exec
    mode: 0o755
```

A build is cached under `$SITEKIT_CACHE/go/<tool>/<version>-<key>/` where the key hashes the wrapper's
files and the Go version, so only the first run on a machine pays for it and a changed pin rebuilds. The
output folder appears atomically (built in a sibling, then renamed), and concurrent builders take turns
through a lock. Module downloads go through the ordinary Go module proxy, verified against `go.sum`.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sitekit.errors import UserError
from sitekit.paths import cache_dir, repo_root

#: A hook run on the wrapper's scratch copy before `go build` (e.g. generating embedded files).
Prepare = Callable[[Path, dict[str, str]], None]


@dataclass(frozen=True)
class Binary:
    """One `go build` of a main package into the tool's output folder."""

    package: str
    output: str
    ldflags: str = ""


@dataclass(frozen=True)
class ModuleFile:
    """A file shipped inside a module (e.g. a script a binary expects beside it)."""

    module: str
    path: str
    output: str
    mode: int = 0o755


@dataclass(frozen=True)
class ToolSpec:
    """What `tools/go/<tool>/build.yaml` asks for."""

    name: str
    wrapper: Path
    version: str
    binaries: tuple[Binary, ...]
    files: tuple[ModuleFile, ...] = ()
    env: dict[str, str] = field(default_factory=dict)


def tools_root() -> Path:
    """The folder holding one wrapper module per tool."""
    return repo_root() / "tools" / "go"


def _mode(value: object) -> int:
    """A file mode from build.yaml: YAML reads `0o755` as a string and `0755` as an int."""
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        return int(value.removeprefix("0o"), 8)
    raise TypeError(f"mode {value!r} is neither an octal string nor an int")


def load_spec(tool: str) -> ToolSpec:
    """Read and check a tool's build.yaml (a bad one is an operator error naming the file)."""
    wrapper = tools_root() / tool
    path = wrapper / "build.yaml"
    try:
        raw: Any = yaml.safe_load(path.read_text())
    except FileNotFoundError as exc:
        raise UserError(f"no Go tool '{tool}': {path} does not exist") from exc
    except yaml.YAMLError as exc:
        raise UserError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("version"), str):
        raise UserError(f"{path}: needs a 'version' string")
    if not raw.get("binaries") and not raw.get("files"):
        raise UserError(f"{path}: needs a non-empty 'binaries' or 'files' list")
    try:
        binaries = tuple(Binary(**b) for b in raw.get("binaries") or ())
        files = tuple(ModuleFile(**{**f, "mode": _mode(f.get("mode", 0o755))}) for f in raw.get("files") or ())
    except (TypeError, ValueError) as exc:
        raise UserError(f"{path}: {exc}") from exc
    env = {str(k): str(v) for k, v in (raw.get("env") or {}).items()}
    return ToolSpec(tool, wrapper, raw["version"], binaries, files, env)


def go_version() -> str:
    """The Go toolchain's version line (part of the cache key)."""
    try:
        return subprocess.run(["go", "version"], check=True, capture_output=True, text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError) as exc:
        raise UserError("the Go toolchain ('go') is needed to build the Pulumi engine and the lab cluster") from exc


def cache_key(spec: ToolSpec) -> str:
    """A digest of everything that decides the build's output."""
    digest = hashlib.sha256(go_version().encode())
    for path in sorted(p for p in spec.wrapper.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(spec.wrapper)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def output_dir(tool: str) -> Path:
    """Where the tool's cached build lives (it may not exist yet)."""
    spec = load_spec(tool)
    return cache_dir() / "go" / tool / f"{spec.version}-{cache_key(spec)}"


def _go_env(extra: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    env["GOFLAGS"] = (env.get("GOFLAGS", "") + " -mod=readonly").strip()
    env["GOTOOLCHAIN"] = "local"
    env.update(extra)
    return env


def _run(cmd: list[str], cwd: Path, env: dict[str, str], what: str) -> str:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-25:])
        raise UserError(f"building {what} failed: {' '.join(cmd)}\n{tail}")
    return proc.stdout


def module_dir(wrapper: Path, module: str, env: dict[str, str]) -> Path:
    """The read-only source folder of a module the wrapper requires (downloaded if needed)."""
    out = _run(["go", "list", "-m", "-f", "{{.Dir}}", module], wrapper, env, f"module {module}").strip()
    if not out:
        _run(["go", "mod", "download", module], wrapper, env, f"module {module}")
        out = _run(["go", "list", "-m", "-f", "{{.Dir}}", module], wrapper, env, f"module {module}").strip()
    return Path(out)


def build(tool: str, prepare: Prepare | None = None, log: Callable[[str], None] | None = None) -> Path:
    """Return the folder holding the tool's binaries, building them first if the cache has none.

    `prepare(scratch, env)` runs on a writable copy of the wrapper before the build, for tools whose
    upstream needs generated files (it may add `replace` lines to the copy's go.mod).
    """
    spec = load_spec(tool)
    final = output_dir(tool)
    if (final / ".complete").exists():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    lock_path = final.parent / ".lock"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (final / ".complete").exists():
            return final
        env = _go_env(spec.env)
        with tempfile.TemporaryDirectory(prefix=f".{tool}-", dir=final.parent) as tmp:
            scratch = Path(tmp) / "src"
            shutil.copytree(spec.wrapper, scratch)
            staging = Path(tmp) / "out"
            staging.mkdir()
            if prepare is not None:
                prepare(scratch, env)
            for binary in spec.binaries:
                if log:
                    log(f"go build {binary.package} ({spec.version})")
                cmd = ["go", "build", "-trimpath", "-o", str(staging / binary.output)]
                if binary.ldflags:
                    cmd += ["-ldflags", binary.ldflags]
                _run([*cmd, binary.package], scratch, env, f"{tool} {binary.output}")
            for item in spec.files:
                src = module_dir(scratch, item.module, env) / item.path
                dest = staging / item.output
                shutil.copyfile(src, dest)
                dest.chmod(item.mode)
            (staging / ".complete").write_text(f"{spec.version}\n{go_version()}\n")
            if final.exists():
                shutil.rmtree(final)
            staging.rename(final)
    return final
