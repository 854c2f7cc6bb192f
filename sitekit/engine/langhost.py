"""sitekit's Python language host: the plugin through which the Pulumi engine runs Python programs.

The engine runs a Python program, or a Python policy pack, through a *language host*: an executable named
`pulumi-language-python` that it finds on PATH, starts with its own address as the last argument, and talks
to over gRPC (`pulumirpc.LanguageRuntime`). Upstream's host is a Go program in its own module
(`github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3`), which the module proxy these
machines reach does not serve, so it cannot be built here. This module is a host of our own that speaks
the same protocol with the gRPC stubs of the pinned `pulumi` Python SDK and does what upstream's does for
the parts sitekit uses:

- `Run`: starts upstream's executor script `pulumi-language-python-exec` (shipped in the sdk/v3 module,
  installed beside this host) with the program's Python, the monitor and engine addresses, project, stack,
  dry-run flag and parallelism, and the stack config in `PULUMI_CONFIG` / `PULUMI_CONFIG_SECRET_KEYS`.
- `RunPlugin` (kind `analyzer`): starts a Python policy pack as `python -u -m pulumi.policy ENGINE DIR`
  in the pack's folder and streams its output back (so `--policy-pack policies/` works).
- The program's Python is the `virtualenv` runtime option of Pulumi.yaml / PulumiPolicy.yaml (relative
  to that file's folder), else `python3` on PATH.

It installs no dependencies (`InstallDependencies` is a no-op: `scripts/bootstrap.sh` owns the venv) and
reports no required plugins: plugins are installed ahead of time and loaded by the engine on demand.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from concurrent import futures
from importlib import metadata
from pathlib import Path
from typing import Any

import grpc  # type: ignore[import-untyped]
from google.protobuf import json_format  # type: ignore[import-untyped]
from pulumi.runtime.proto import language_pb2, language_pb2_grpc, plugin_pb2

#: Exit code with which the executor says it has already shown the user an actionable message.
BAIL_EXIT_CODE = 32

#: The executor script, expected beside the host executable (as upstream's host expects it).
EXECUTOR_NAME = "pulumi-language-python-exec"


def program_python(root_directory: str, options: Mapping[str, Any]) -> tuple[str, dict[str, str]]:
    """The Python that runs a program or pack, and the environment additions for its virtualenv."""
    venv = options.get("virtualenv")
    if isinstance(venv, str) and venv:
        venv_dir = Path(venv) if Path(venv).is_absolute() else Path(root_directory) / venv
        python = venv_dir / "bin" / "python"
        if not python.exists():
            raise FileNotFoundError(f"the virtualenv {venv_dir} of the project's runtime options has no bin/python")
        path = f"{venv_dir / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"
        return str(python), {"VIRTUAL_ENV": str(venv_dir), "PATH": path}
    found = shutil.which("python3") or shutil.which("python")
    if not found:
        raise FileNotFoundError("no python3 on PATH and no virtualenv in the project's runtime options")
    return found, {}


def _options(info: Any) -> dict[str, Any]:
    if info is None or not info.HasField("options"):
        return {}
    return dict(json_format.MessageToDict(info.options))


class PythonLanguageHost(language_pb2_grpc.LanguageRuntimeServicer):
    """The `LanguageRuntime` service for Python programs and policy packs."""

    def __init__(self, engine_address: str, executor: Path, version: str) -> None:
        self.engine_address = engine_address
        self.executor = executor
        self.version = version

    def Handshake(self, request: Any, context: Any) -> Any:
        """Accept the engine's handshake (nothing to negotiate)."""
        return language_pb2.LanguageHandshakeResponse()

    def GetPluginInfo(self, request: Any, context: Any) -> Any:
        """Report the host's version: the `pulumi` SDK release it speaks for."""
        return plugin_pb2.PluginInfo(version=self.version)

    def GetRequiredPlugins(self, request: Any, context: Any) -> Any:
        """No plugins to acquire: they are installed ahead of time, and loaded on demand."""
        return language_pb2.GetRequiredPluginsResponse()

    def GetRequiredPackages(self, request: Any, context: Any) -> Any:
        """No packages to acquire (see GetRequiredPlugins)."""
        return language_pb2.GetRequiredPackagesResponse()

    def InstallDependencies(self, request: Any, context: Any) -> Iterator[Any]:
        """Dependencies are the bootstrap's job; installing nothing here keeps pulumi off the network."""
        return iter(())

    def GetProgramDependencies(self, request: Any, context: Any) -> Any:
        """Dependency listing (used by `pulumi about`) is not reported."""
        return language_pb2.GetProgramDependenciesResponse()

    def About(self, request: Any, context: Any) -> Any:
        """Name the Python that would run programs without a virtualenv."""
        python = shutil.which("python3") or sys.executable
        return language_pb2.AboutResponse(executable=python, version=sys.version.split()[0])

    def Run(self, request: Any, context: Any) -> Any:
        """Run a Python program through upstream's executor and report how it ended."""
        info = request.info if request.HasField("info") else None
        root = info.root_directory if info is not None and info.root_directory else request.pwd
        try:
            python, venv_env = program_python(root, _options(info))
        except FileNotFoundError as exc:
            return language_pb2.RunResponse(error=str(exc))
        args = [python, "-u", str(self.executor)]

        def arg(name: str, value: str) -> None:
            if value:
                args.extend([f"--{name}", value])

        arg("monitor", request.monitor_address)
        arg("engine", self.engine_address)
        arg("project", request.project)
        arg("root_directory", root)
        arg("stack", request.stack)
        arg("pwd", request.pwd)
        arg("dry_run", "true" if request.dryRun else "false")
        arg("parallel", str(request.parallel))
        arg("organization", request.organization)
        args.append(request.program or ".")
        args.extend(request.args)
        env = dict(os.environ)
        env.update(venv_env)
        env["PULUMI_CONFIG"] = json.dumps(dict(request.config))
        env["PULUMI_CONFIG_SECRET_KEYS"] = json.dumps(list(request.configSecretKeys))
        # The program's output goes to the host's stdout/stderr, which the engine shows as the program's.
        proc = subprocess.run(args, cwd=request.pwd or None, env=env, check=False)
        if proc.returncode == 0:
            return language_pb2.RunResponse()
        if proc.returncode == BAIL_EXIT_CODE:
            return language_pb2.RunResponse(bail=True)
        return language_pb2.RunResponse(error=f"Program exited with non-zero exit code: {proc.returncode}")

    def RunPlugin(self, request: Any, context: Any) -> Iterator[Any]:
        """Run a Python policy pack (an analyzer plugin) and stream its output and exit code."""
        if request.kind != "analyzer":
            context.abort(grpc.StatusCode.UNIMPLEMENTED, f"plugins of kind {request.kind!r} are not supported")
        info = request.info
        pack_dir = info.program_directory or info.root_directory
        python, venv_env = program_python(info.root_directory or pack_dir, _options(info))
        env = dict(os.environ)
        env.update(venv_env)
        for item in request.env:
            key, _, value = item.partition("=")
            env[key] = value
        cmd = [python, "-u", "-m", "pulumi.policy", *request.args, pack_dir]
        proc = subprocess.Popen(cmd, cwd=pack_dir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        chunks: queue.Queue[tuple[str, bytes]] = queue.Queue()

        def pump(stream: Any, kind: str) -> None:
            for data in iter(lambda: stream.read1(65536), b""):
                chunks.put((kind, data))
            chunks.put((kind, b""))

        pumps = [
            threading.Thread(target=pump, args=(proc.stdout, "stdout"), daemon=True),
            threading.Thread(target=pump, args=(proc.stderr, "stderr"), daemon=True),
        ]
        for thread in pumps:
            thread.start()
        open_streams = 2
        while open_streams:
            kind, data = chunks.get()
            if not data:
                open_streams -= 1
            elif kind == "stdout":
                yield language_pb2.RunPluginResponse(stdout=data)
            else:
                yield language_pb2.RunPluginResponse(stderr=data)
        yield language_pb2.RunPluginResponse(exitcode=proc.wait())


def main(argv: list[str] | None = None) -> int:
    """Serve the language host on a free loopback port and print the port, as the engine expects."""
    args = [a for a in (sys.argv[1:] if argv is None else argv) if not a.startswith("-")]
    engine_address = args[-1] if args else ""
    executor = Path(sys.argv[0]).resolve().parent / EXECUTOR_NAME
    if not executor.exists():
        sys.stderr.write(f"missing executor: {executor}\n")
        return 1
    sdk_version = metadata.version("pulumi")  # the SDK release this host speaks for

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    language_pb2_grpc.add_LanguageRuntimeServicer_to_server(
        PythonLanguageHost(engine_address, executor, str(sdk_version)), server
    )
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(port, flush=True)
    # The engine ends its plugins with SIGINT (then SIGKILL): stop serving and exit quietly.
    signal.signal(signal.SIGINT, lambda *_: server.stop(grace=None))
    signal.signal(signal.SIGTERM, lambda *_: server.stop(grace=None))
    server.wait_for_termination()
    return 0
