"""Read an Ansible inventory the way Ansible does (`ansible-inventory --list`) and reach its hosts.

The checks' expectations are the inventory variables, so the runner and the scan read the inventory
through Ansible itself (group_vars, host_vars and plugins resolved exactly as a playbook sees them).
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sitekit.errors import UserError


@dataclass(frozen=True)
class InventoryHost:
    """One host with its resolved variables and groups."""

    name: str
    variables: dict[str, Any] = field(default_factory=dict)
    groups: tuple[str, ...] = ()

    @property
    def address(self) -> str:
        return str(self.variables.get("ansible_host") or self.name)


def ansible_bin(name: str) -> str:
    """An Ansible executable: next to this interpreter (the venv) first, then PATH."""
    local = Path(sys.executable).parent / name
    if local.exists():
        return str(local)
    found = shutil.which(name)
    if not found:
        raise UserError(f"{name} not found; install ansible-core (pip install sitekit pulls it in)")
    return found


def load_inventory(path: Path) -> dict[str, Any]:
    """The JSON of `ansible-inventory -i PATH --list` (raises UserError if Ansible cannot read it)."""
    if not path.exists():
        raise UserError(f"inventory {path} does not exist (run `sitekit render` or `sitekit lab up` first)")
    proc = subprocess.run(
        [ansible_bin("ansible-inventory"), "-i", str(path), "--list"],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise UserError(f"ansible-inventory could not read {path}: {proc.stderr.strip()[-500:]}")
    data: dict[str, Any] = json.loads(proc.stdout)
    return data


def _group_members(data: dict[str, Any], group: str, seen: set[str] | None = None) -> set[str]:
    seen = seen if seen is not None else set()
    if group in seen:
        return set()
    seen.add(group)
    node = data.get(group, {})
    members = set(node.get("hosts", []))
    for child in node.get("children", []):
        members |= _group_members(data, child, seen)
    return members


def hosts_of(data: dict[str, Any], limit: str | None = None) -> list[InventoryHost]:
    """Every host of the inventory (optionally only those named in `limit`, a comma list of hosts/groups)."""
    hostvars: dict[str, dict[str, Any]] = data.get("_meta", {}).get("hostvars", {})
    names = sorted(_group_members(data, "all") | set(hostvars))
    groups_of: dict[str, list[str]] = {n: [] for n in names}
    for group in data:
        if group in ("_meta", "all"):
            continue
        for member in _group_members(data, group):
            groups_of.setdefault(member, []).append(group)
    if limit:
        wanted: set[str] = set()
        for item in (x.strip() for x in limit.split(",")):
            if item in data and item != "_meta":
                wanted |= _group_members(data, item)
            elif item in groups_of:
                wanted.add(item)
            else:
                raise UserError(f"--limit: {item!r} is neither a host nor a group of the inventory")
        names = [n for n in names if n in wanted]
    return [InventoryHost(n, dict(hostvars.get(n, {})), tuple(sorted(groups_of.get(n, [])))) for n in names]


def ssh_argv(host: InventoryHost, *, control_path: str | None = None) -> list[str]:
    """An `ssh` command line (without the remote command) that reaches `host` like Ansible would."""
    v = host.variables
    argv = ["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=15"]
    for key in ("ansible_ssh_common_args", "ansible_ssh_extra_args"):
        if v.get(key):
            argv += shlex.split(str(v[key]))
    user = v.get("ansible_user") or v.get("ansible_ssh_user")
    if user:
        argv += ["-o", f"User={user}"]
    port = v.get("ansible_port") or v.get("ansible_ssh_port")
    if port:
        argv += ["-o", f"Port={port}"]
    identity = v.get("ansible_ssh_private_key_file") or v.get("ansible_private_key_file")
    if identity:
        argv += ["-i", str(identity)]
    if control_path:
        argv += ["-o", "ControlMaster=auto", "-o", "ControlPersist=60s", "-o", f"ControlPath={control_path}"]
    argv.append(host.address)
    return argv


def become_prefix(host: InventoryHost) -> str:
    """`sudo -n ` when the inventory asks for privilege escalation to root, else nothing."""
    v = host.variables
    user = v.get("ansible_user") or v.get("ansible_ssh_user")
    become = str(v.get("ansible_become", "")).lower() in ("1", "true", "yes")
    if become and user not in (None, "root"):
        return "sudo -n "
    return ""
