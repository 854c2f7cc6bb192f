"""The Pulumi engine sitekit runs: built from Go modules, installed offline, used with a local backend.

`ensure_engine()` builds (once per machine; cached by `sitekit.gotools`) or finds:

- `pulumi`: the CLI, `github.com/pulumi/pulumi/pkg/v3` at the release the `pulumi` Python SDK is pinned to;
- `pulumi-resource-kubernetes`: the Kubernetes provider plugin, at the version the `pulumi_kubernetes`
  wheel's `pulumi-plugin.json` asks the engine for;
- `pulumi-language-python-exec`: upstream's executor script from the sdk/v3 module, run by
  `pulumi-language-python`, sitekit's language host (see `sitekit.engine.langhost` for why it is ours).

It lays them out in one `bin/` folder under the cache and installs the provider into a `PULUMI_HOME` of
its own as a local plugin, so that with `Engine.env()` no pulumi command reaches the network: the update
check is off, automatic plugin acquisition is off (a missing plugin is an error, not a download), the
language host is found on PATH and the backend is a folder (`file://...`) with a passphrase secrets
provider.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path

from sitekit import gotools
from sitekit.engine.hooks import PREPARE
from sitekit.errors import UserError
from sitekit.paths import cache_dir, state_dir

#: The Go tools the engine is made of, in build order.
TOOLS = ("pulumi", "pulumi-language-python", "pulumi-resource-kubernetes")

#: The environment that keeps every pulumi command off the network (besides PATH and PULUMI_HOME).
OFFLINE_ENV = {
    "PULUMI_SKIP_UPDATE_CHECK": "1",
    "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
}


@dataclass(frozen=True)
class Build:
    """One Go tool of the engine: where its cached output is and what getting it cost this time."""

    tool: str
    version: str
    folder: Path
    seconds: float
    cached: bool


@dataclass(frozen=True)
class Engine:
    """A ready engine: the bin folder to put first on PATH and the PULUMI_HOME holding its plugins."""

    bin_dir: Path
    pulumi_home: Path
    pulumi_version: str
    kubernetes_version: str
    builds: tuple[Build, ...]

    @property
    def pulumi(self) -> Path:
        """The `pulumi` executable."""
        return self.bin_dir / "pulumi"

    def variables(self, backend_url: str | None = None, path: str | None = None) -> dict[str, str]:
        """The engine's own variables (no secrets): PATH, PULUMI_HOME, the offline switches, the backend."""
        base_path = os.environ.get("PATH", "") if path is None else path
        out = {
            "PATH": f"{self.bin_dir}{os.pathsep}{base_path}" if base_path else str(self.bin_dir),
            "PULUMI_HOME": str(self.pulumi_home),
            **OFFLINE_ENV,
        }
        if backend_url:
            out["PULUMI_BACKEND_URL"] = backend_url
        return out

    def env(
        self,
        backend_url: str,
        passphrase: str | None = None,
        passphrase_file: Path | None = None,
        base: Mapping[str, str] | None = None,
    ) -> dict[str, str]:
        """The full environment for running pulumi commands against a self-managed backend.

        `backend_url` is e.g. `file:///path/to/dir` (the folder must exist). Stack secrets use the
        passphrase provider: give the passphrase itself or a file holding it (never both).
        """
        if passphrase is not None and passphrase_file is not None:
            raise UserError("give the stack passphrase or a passphrase file, not both")
        env = dict(os.environ if base is None else base)
        env.update(self.variables(backend_url, env.get("PATH", "")))
        env.pop("PULUMI_ACCESS_TOKEN", None)  # a cloud token has no business with a local backend
        if passphrase is not None:
            env["PULUMI_CONFIG_PASSPHRASE"] = passphrase
            env.pop("PULUMI_CONFIG_PASSPHRASE_FILE", None)
        if passphrase_file is not None:
            env["PULUMI_CONFIG_PASSPHRASE_FILE"] = str(passphrase_file)
            env.pop("PULUMI_CONFIG_PASSPHRASE", None)
        return env

    def run(
        self, args: list[str], env: Mapping[str, str], cwd: Path | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run `pulumi ARGS` with an environment from `env()` and capture its output."""
        proc = subprocess.run(
            [str(self.pulumi), *args], cwd=cwd, env=dict(env), capture_output=True, text=True, check=False
        )
        if check and proc.returncode != 0:
            raise UserError(f"pulumi {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        return proc


def default_backend_url() -> str:
    """The local backend sitekit uses unless told otherwise: a folder under the state directory."""
    return f"file://{state_dir() / 'pulumi'}"


def wheel_provider_version() -> str:
    """The provider version the installed `pulumi_kubernetes` wheel makes the engine ask for."""
    raw = resources.files("pulumi_kubernetes").joinpath("pulumi-plugin.json").read_text()
    version = json.loads(raw).get("version")
    if not isinstance(version, str):
        raise UserError("pulumi_kubernetes/pulumi-plugin.json names no version")
    return version.removeprefix("v")


def _check_pins() -> tuple[str, str]:
    """The CLI and provider versions, checked against the Python packages they must serve."""
    cli = gotools.load_spec("pulumi").version.removeprefix("v")
    sdk = metadata.version("pulumi")
    if cli != sdk:
        raise UserError(f"the engine CLI is pinned at {cli} but the pulumi Python SDK installed is {sdk}")
    provider = gotools.load_spec("pulumi-resource-kubernetes").version.removeprefix("v")
    wanted = wheel_provider_version()
    if provider != wanted:
        raise UserError(f"the Kubernetes provider is pinned at {provider} but pulumi_kubernetes asks for {wanted}")
    return cli, provider


def _build_all(log: Callable[[str], None] | None) -> tuple[Build, ...]:
    builds = []
    for tool in TOOLS:
        cached = (gotools.output_dir(tool) / ".complete").exists()
        started = time.monotonic()
        folder = gotools.build(tool, prepare=PREPARE.get(tool), log=log)
        seconds = time.monotonic() - started
        builds.append(Build(tool, gotools.load_spec(tool).version, folder, seconds, cached))
    return tuple(builds)


def _host_script(python: str) -> str:
    return (
        f"#!{python}\n"
        "# Written by sitekit.engine.ensure_engine: sitekit's Python language host (sitekit/engine/langhost.py).\n"
        "import sys\n\n"
        "from sitekit.engine.langhost import main\n\n"
        "sys.exit(main())\n"
    )


def _write_if_changed(path: Path, content: bytes, mode: int) -> None:
    if path.exists() and not path.is_symlink() and path.read_bytes() == content:
        return
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(content)
    tmp.chmod(mode)
    tmp.replace(path)


def _lay_out_bin(bin_dir: Path, builds: Mapping[str, Build], python: str) -> None:
    bin_dir.mkdir(parents=True, exist_ok=True)
    cli = builds["pulumi"].folder / "pulumi"
    # A hard link, not a symlink: pulumi looks for language hosts beside its own resolved path, and with
    # the host beside it there it uses it without warning that it came from $PATH.
    link = bin_dir / "pulumi"
    if not (link.exists() and not link.is_symlink() and link.samefile(cli)):
        tmp = bin_dir / ".pulumi.tmp"
        tmp.unlink(missing_ok=True)
        try:
            os.link(cli, tmp)
        except OSError:  # another filesystem: a copy does as well
            shutil.copy2(cli, tmp)
        tmp.replace(link)
    executor = builds["pulumi-language-python"].folder / "pulumi-language-python-exec"
    _write_if_changed(bin_dir / executor.name, executor.read_bytes(), 0o755)
    _write_if_changed(bin_dir / "pulumi-language-python", _host_script(python).encode(), 0o755)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _install_provider(engine: Engine, provider: Path) -> None:
    """Install the provider binary as a local plugin, the way `pulumi plugin install --file` does."""
    version = f"v{engine.kubernetes_version}"
    installed = engine.pulumi_home / "plugins" / f"resource-kubernetes-{version}" / provider.name
    if installed.exists() and _sha256(installed) == _sha256(provider):
        return
    engine.run(
        ["plugin", "install", "resource", "kubernetes", version, "--file", str(provider), "--reinstall"],
        engine.env(backend_url=f"file://{engine.pulumi_home / 'no-backend'}"),
    )
    if not installed.exists():
        raise UserError(f"pulumi plugin install did not create {installed}")


def ensure_engine(log: Callable[[str], None] | None = None) -> Engine:
    """Build (or find in the cache) the whole engine and install its provider plugin; see the module doc."""
    cli_version, provider_version = _check_pins()
    builds = _build_all(log)
    by_tool = {b.tool: b for b in builds}
    python = sys.executable
    # One engine folder per (builds, Python): worktrees sharing a cache but not a venv do not collide.
    digest = hashlib.sha256("\0".join([*(str(b.folder) for b in builds), python]).encode()).hexdigest()[:12]
    root = cache_dir() / "engine" / f"{cli_version}-{digest}"
    root.mkdir(parents=True, exist_ok=True)
    engine = Engine(root / "bin", root / "pulumi-home", cli_version, provider_version, builds)
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _lay_out_bin(engine.bin_dir, by_tool, python)
        engine.pulumi_home.mkdir(exist_ok=True)
        (engine.pulumi_home / "no-backend").mkdir(exist_ok=True)
        provider = by_tool["pulumi-resource-kubernetes"].folder / "pulumi-resource-kubernetes"
        _install_provider(engine, provider)
    return engine


def shell_exports(variables: Mapping[str, str]) -> str:
    """`export NAME='value'` lines for a POSIX shell."""
    lines = []
    for key, value in variables.items():
        quoted = "'" + value.replace("'", "'\"'\"'") + "'"
        lines.append(f"export {key}={quoted}")
    return "\n".join(lines)
