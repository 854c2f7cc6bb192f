"""`pulumi up` of a country's stack against its lab control plane, as a platform engineer runs it.

The lab copies the project (stack program, policy pack, fleet spec, the rendered stack files) into the
lab's cluster folder so the checkout's `Pulumi.<cc>.yaml` is never touched, logs in to a self-managed
backend in that folder (`file://`), encrypts stack secrets with a passphrase generated once (0600, never
in the tree or a log), points the stack at the lab's kubeconfig and runs `pulumi up --refresh` with the
policy pack on, through the engine built from Go (`sitekit.engine`). `--refresh` reads the live objects
first, so an edit made in the cluster by hand is seen and reverted (every object the stack declares forces
its fields back: stacks/components/ownership.py); without it pulumi compares only with its own state and
would report no change over drift. `sitekit lab down` removes all of it with the cluster.

How the lab differs from a real site: the backend is a folder and the secrets provider a passphrase
(a site names an in-country object store and Vault in its spec); the lab has no chart repository, so
`sitekit:labSkipCharts` leaves the GPU operator, ingress-nginx and metrics-server uninstalled (the
program says so); and kwok plays the kubelets, so pods become Ready without running.
"""

from __future__ import annotations

import os
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

from sitekit.engine import Engine, ensure_engine
from sitekit.errors import UserError
from sitekit.paths import country_state, repo_root

PROJECT_PARTS = ("stacks", "policies", "sites")


@dataclass(frozen=True)
class LabStack:
    """A country's stack in the lab: its project copy, backend, passphrase file and engine."""

    cc: str
    folder: Path
    engine: Engine

    @property
    def project(self) -> Path:
        return self.folder / "project"

    @property
    def backend(self) -> Path:
        return self.folder / "backend"

    @property
    def passphrase_file(self) -> Path:
        return self.folder / "passphrase"

    @property
    def kubeconfig(self) -> Path:
        return country_state(self.cc).lab / "cluster" / "kubeconfig"

    def env(self) -> dict[str, str]:
        """The environment for `pulumi` commands on this stack (no secret value in it, only the file's path)."""
        return self.engine.env(f"file://{self.backend}", passphrase_file=self.passphrase_file)

    def pulumi(self, *args: str, check: bool = True) -> tuple[int, str, str]:
        """Run `pulumi ARGS --stack <cc> --non-interactive` in the project copy."""
        proc = self.engine.run([*args, "--stack", self.cc, "--non-interactive"], self.env(), self.project, check=check)
        return proc.returncode, proc.stdout, proc.stderr


def _copy_project(root: Path, dest: Path, cc: str) -> None:
    """The project as an operator's checkout would have it (the venv linked, not copied)."""
    fresh = dest.with_name(dest.name + ".new")
    if fresh.exists():
        shutil.rmtree(fresh)
    fresh.mkdir(parents=True)
    for part in PROJECT_PARTS:
        shutil.copytree(root / part, fresh / part, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("Pulumi.yaml", f"Pulumi.{cc}.yaml"):
        shutil.copy2(root / name, fresh / name)
    (fresh / ".venv").symlink_to(root / ".venv")
    old = dest / f"Pulumi.{cc}.yaml"
    if old.exists():  # keep what `pulumi stack init` and `config set` added (salt, kubeconfig path)
        shutil.copy2(old, fresh / old.name)
    if dest.exists():
        shutil.rmtree(dest)
    fresh.rename(dest)


def prepare(cc: str, root: Path | None = None) -> LabStack:
    """The country's lab stack, ready for `pulumi up`: project copy, backend, passphrase, stack, config."""
    stack = LabStack(cc, country_state(cc).lab / "cluster" / "deploy", ensure_engine())
    if not stack.kubeconfig.exists():
        raise UserError(f"no lab control plane for {cc}: run `sitekit lab up {cc} --tier cluster` first")
    project_root = root or repo_root()
    if not (project_root / f"Pulumi.{cc}.yaml").exists():
        raise UserError(f"Pulumi.{cc}.yaml does not exist: run `sitekit render {cc}` first")
    stack.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    stack.backend.mkdir(exist_ok=True, mode=0o700)
    if not stack.passphrase_file.exists():
        tmp = stack.passphrase_file.with_name(".passphrase.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(32))
        tmp.replace(stack.passphrase_file)
    _copy_project(project_root, stack.project, cc)
    rc, _, _ = stack.pulumi("stack", "select", check=False)
    if rc != 0:
        stack.engine.run(
            ["stack", "init", cc, "--secrets-provider", "passphrase", "--non-interactive"],
            stack.env(),
            stack.project,
        )
    stack.pulumi("config", "set", "sitekit:kubeconfigPath", str(stack.kubeconfig))
    stack.pulumi("config", "set", "sitekit:labSkipCharts", "true")
    return stack


def up(cc: str, root: Path | None = None) -> tuple[LabStack, str]:
    """`pulumi up --refresh` of the country's stack against its lab control plane, policy pack on; its output."""
    stack = prepare(cc, root)
    _, out, _ = stack.pulumi("up", "--refresh", "--yes", "--skip-preview", "--policy-pack", "policies")
    return stack, out
