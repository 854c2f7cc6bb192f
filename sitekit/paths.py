"""Where sitekit keeps what must never enter git: generated secrets, lab state, caches.

Everything here lives outside the repository by default so that a `git add -A` can never pick up a
private key. Each location can be moved with an environment variable (CI and tests point them at
temporary directories).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


def repo_root() -> Path:
    """The project checkout (the folder holding `sites/`, `playbooks/` and `stacks/`)."""
    env = os.environ.get("SITEKIT_ROOT")
    if env:
        return Path(env).resolve()
    return Path(__file__).resolve().parent.parent


def state_dir() -> Path:
    """Secrets and per-country state (`$SITEKIT_STATE`, default `~/.local/state/sitekit`)."""
    env = os.environ.get("SITEKIT_STATE")
    base = Path(env) if env else Path.home() / ".local" / "state" / "sitekit"
    return base.resolve()


def cache_dir() -> Path:
    """Rebuildable downloads and images (`$SITEKIT_CACHE`, default `~/.cache/sitekit`)."""
    env = os.environ.get("SITEKIT_CACHE")
    base = Path(env) if env else Path.home() / ".cache" / "sitekit"
    return base.resolve()


@dataclass(frozen=True)
class CountryState:
    """Every state folder of one country, joined in this one place (`country_state(cc)`)."""

    cc: str
    base: Path

    @property
    def keys(self) -> Path:
        """The key hierarchy: `<state>/keys/<cc>`."""
        return self.base / "keys" / self.cc

    @property
    def lab(self) -> Path:
        """The country's lab: `<state>/lab/<cc>`."""
        return self.base / "lab" / self.cc

    @property
    def evidence(self) -> Path:
        """Host evidence from `verify` and `scan`: `<state>/evidence/<cc>`."""
        return self.base / "evidence" / self.cc

    @property
    def journal(self) -> Path:
        """The operations journal: `<state>/journal/<cc>`."""
        return self.base / "journal" / self.cc

    @property
    def kubeconfig(self) -> Path:
        """`<state>/clusters/<cc>/kubeconfig` (see `kubeconfig_path`)."""
        return self.base / "clusters" / self.cc / "kubeconfig"


def country_state(cc: str) -> CountryState:
    """The state folders of country `cc` under the current `state_dir()`."""
    return CountryState(cc=cc, base=state_dir())


def kubeconfig_path(cc: str) -> Path:
    """Where a country's kubeconfig is looked for when the stack config names none.

    `$SITEKIT_STATE/clusters/<cc>/kubeconfig`: outside git, next to the country's keys, and never the
    machine's current kube context (`~/.kube/config`), which could point at any country's cluster.
    """
    return country_state(cc).kubeconfig
