"""What a host should look like, computed exactly as the play computes it.

The roles derive their `<role>_*` variables in `defaults/main.yml` from the rendered inventory's
`sitekit_*` variables. The checks must not restate those derivations as constants, so this module renders
the roles' defaults with Ansible's own templar against the host's inventory variables (inventory wins,
as in a play). A check asks for a role or inventory variable by name; a name that neither defines (or
whose default cannot be rendered for this host) raises `MissingExpectation` naming it: a check never
falls back to a constant of its own. `tests/unit/test_check_variables.py` proves statically that every
name the checks ask for is defined.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sitekit.paths import repo_root

ROLES = ("baseline", "guarded_change", "ssh", "firewall", "audit", "gpu_host", "keys", "logging")


def _plain(value: Any) -> Any:
    """Ansible's tagged str/int/list/dict as plain JSON types."""
    return json.loads(json.dumps(value, default=str))


def _trust(value: Any) -> Any:
    from ansible.template import trust_as_template  # type: ignore[import-untyped]

    if isinstance(value, str):
        return trust_as_template(value)
    if isinstance(value, dict):
        return {k: _trust(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_trust(v) for v in value]
    return value


class MissingExpectation(LookupError):
    """A check asked for a variable that no role default and no inventory variable defines."""

    def __init__(self, name: str, detail: str = "") -> None:
        self.name = name
        super().__init__(
            f"expectation {name!r} is not defined by any role's defaults or the inventory"
            + (f" ({detail})" if detail else "")
        )


class Expectations:
    """Role variables for one host: inventory variables over the roles' rendered defaults."""

    def __init__(self, hostvars: dict[str, Any], roles_dir: Path | None = None) -> None:
        self.hostvars = dict(hostvars)
        self.roles_dir = roles_dir or repo_root() / "playbooks" / "roles"
        self._templar: Any = None
        self._cache: dict[str, Any] = {}
        self._defaults: dict[str, Any] = {}

    def _setup(self) -> Any:
        if self._templar is None:
            from ansible.parsing.dataloader import DataLoader  # type: ignore[import-untyped]
            from ansible.plugins.loader import init_plugin_loader  # type: ignore[import-untyped]
            from ansible.template import Templar
            from ansible.utils.collection_loader import AnsibleCollectionConfig  # type: ignore[import-untyped]

            # Lookups in the defaults (the connecting account's `lookup('ansible.builtin.env', 'USER')`)
            # need Ansible's plugin loader, which only its own CLIs set up; verify runs on the controller,
            # as the play does, so the lookups see what the play would.
            if AnsibleCollectionConfig.collection_finder is None:
                init_plugin_loader()

            loader = DataLoader()
            defaults: dict[str, Any] = {}
            for role in ROLES:
                for rel in ("defaults/main.yml", "defaults/main.yaml", "vars/main.yml", "vars/main.yaml"):
                    path = self.roles_dir / role / rel
                    if path.is_file():
                        data = loader.load_from_file(str(path))
                        if isinstance(data, dict):
                            defaults.update(data)
            self._defaults = defaults
            variables = {**_trust(_plain(defaults)), **_trust(_plain(self.hostvars))}
            self._templar = Templar(loader=loader, variables=variables)
        return self._templar

    def has(self, name: str) -> bool:
        self._setup()
        return name in self.hostvars or name in self._defaults

    def get(self, name: str) -> Any:
        """The value of role or inventory variable `name` for this host; `MissingExpectation` if none."""
        if name in self._cache:
            return self._cache[name]
        templar = self._setup()
        if name in self.hostvars:
            raw = self.hostvars[name]
        elif name in self._defaults:
            raw = self._defaults[name]
        else:
            raise MissingExpectation(name)
        try:
            value = _plain(templar.template(_trust(_plain(raw))))
        except Exception as exc:  # an undefined variable in a default: the role would fail too
            raise MissingExpectation(name, f"its value does not render for this host: {exc}") from exc
        self._cache[name] = value
        return value

    def var(self, name: str) -> Any:
        """An inventory (`sitekit_*`) variable, rendered; `MissingExpectation` if the inventory lacks it."""
        return self.get(name)
