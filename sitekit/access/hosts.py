"""Host access from the rendered inventory: SSH principals and sudo per host group, and host egress.

Every value comes from the roles' own defaults rendered against each host's inventory variables
(`sitekit.hostchecks.expect.Expectations`, Ansible's templar), exactly as a play computes them:
`keys_ssh_principals` is what the keys role writes into the `AuthorizedPrincipalsFile`, `ssh_allow_groups`
and `firewall_ssh_sources` say who may connect and from where, `firewall_egress` and
`firewall_extra_output_rules` are the host firewall's output accepts. Sudo rights are read from the
baseline role's sudoers template and the plays' privilege escalation (`become` with a `sudo -n` probe).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from ipaddress import IPv4Network
from pathlib import Path
from typing import Any

from sitekit.access.model import HostGroupAccess, LogPath, NetworkPath
from sitekit.errors import UserError
from sitekit.hostchecks.expect import Expectations, MissingExpectation

SUDOERS_TEMPLATE = Path("baseline") / "templates" / "sudoers-sitekit.j2"
_DADDR = re.compile(r"\bip\s+daddr\s+(\{[^}]*\}|\S+)")


@dataclass(frozen=True)
class InventoryHostVars:
    """One inventory host: its name, groups and resolved variables (as `ansible-inventory --list` gives them)."""

    name: str
    groups: tuple[str, ...]
    variables: Mapping[str, Any]


def inventory_hosts(data: Mapping[str, Any]) -> list[InventoryHostVars]:
    """Hosts of `ansible-inventory --list` JSON with their groups and variables."""
    from sitekit.hostchecks.inventory import hosts_of

    return [InventoryHostVars(h.name, h.groups, h.variables) for h in hosts_of(dict(data))]


def get_expected(expect: Expectations, name: str, host: str) -> Any:
    """A role or inventory variable of one host; a missing one is an error naming the host and the variable."""
    try:
        return expect.get(name)
    except MissingExpectation as exc:
        raise UserError(f"inventory host {host}: {exc}") from exc


def sudoers_rules(roles_dir: Path) -> list[str]:
    """User rules (not `Defaults`, not comments) in the sudoers drop-in the baseline role installs."""
    path = roles_dir / SUDOERS_TEMPLATE
    if not path.is_file():
        raise UserError(f"{path} not found: the baseline role's sudoers template is what grants sudo")
    rules = []
    for line in path.read_text().splitlines():
        text = line.strip()
        if not text or text.startswith(("#", "{#", "{%", "Defaults")):
            continue
        rules.append(text)
    return rules


def _sudo_text(rules: Sequence[str], probe: str, login: Sequence[str]) -> str:
    who = ", ".join(login)
    escalation = (
        f"root through sudo without a password for {who}: the plays run with become and prove `{probe}` after "
        "every sshd, PAM and firewall change"
        if probe.startswith("sudo -n")
        else f"root through sudo for {who} with the become password the inventory supplies"
    )
    extra = (
        "; the sitekit sudoers drop-in adds: " + " | ".join(rules)
        if rules
        else ("; the sitekit sudoers drop-in (/etc/sudoers.d/10-sitekit) sets Defaults only and grants no user rule")
    )
    return escalation + extra


def _holds(expect: Expectations, group: str, role: str, host: str) -> list[str]:
    """Secrets a root shell on a host of this group can read."""
    out = []
    if get_expected(expect, "keys_encryption_group", host) == group:
        path = get_expected(expect, "keys_encryption_config_path", host)
        out.append(f"the Kubernetes Secrets data keys (plaintext EncryptionConfiguration {path})")
    volume = get_expected(expect, "keys_luks_volume", host) or {}
    if isinstance(volume, Mapping) and role in (volume.get("roles") or []):
        out.append(
            f"the model weights on the opened LUKS2 volume at {volume.get('mount_point')} (its TPM slot unlocks at "
            "boot on this host; the recovery key is never stored on the host)"
        )
    return out


def expectations(hosts: Iterable[InventoryHostVars], roles_dir: Path) -> dict[str, Expectations]:
    """Each host's role variables, rendered on demand and cached (Ansible's templar is the slow part).

    With the magic variables a play gives every host (`inventory_hostname`, `group_names`), which role
    defaults such as `firewall_log_collector_here` compare against."""
    return {
        h.name: Expectations({**h.variables, "inventory_hostname": h.name, "group_names": list(h.groups)}, roles_dir)
        for h in hosts
    }


def host_groups(
    hosts: Iterable[InventoryHostVars], groups: Sequence[str], roles_dir: Path, expect_of: Mapping[str, Expectations]
) -> list[HostGroupAccess]:
    """Per inventory group: hosts, accepted principals, login accounts, SSH sources, sudo and secrets held.

    A group's value must be the same on each of its hosts (the inventory sets them per group); a host that
    differs is reported as its own entry `<group>:<host>` rather than averaged away.
    """
    rules = sudoers_rules(roles_dir)
    by_group: dict[str, list[tuple[str, HostGroupAccess]]] = {g: [] for g in groups}
    for host in hosts:
        expect = expect_of[host.name]
        role = str(get_expected(expect, "sitekit_host_role", host.name))
        principals = tuple(str(p) for p in get_expected(expect, "keys_ssh_principals", host.name))
        if "ansible_user" in host.variables:
            login = tuple(str(u) for u in get_expected(expect, "keys_ssh_login_users", host.name))
        else:
            login = ("<the account Ansible connects as: ansible_user, else the controller's $USER>",)
        allow = tuple(str(g) for g in get_expected(expect, "ssh_allow_groups", host.name))
        sources = tuple(str(s) for s in get_expected(expect, "firewall_ssh_sources", host.name))
        probe = str(get_expected(expect, "guarded_change_probe_command", host.name))
        for group in host.groups:
            if group not in by_group:
                continue
            entry = HostGroupAccess(
                group=group,
                role=role,
                hosts=(host.name,),
                principals=principals,
                login_accounts=login,
                login_group=" ".join(allow),
                ssh_sources=sources,
                sudo=_sudo_text(rules, probe, login),
                holds=tuple(_holds(expect, group, role, host.name)),
            )
            by_group[group].append((host.name, entry))
    out: list[HostGroupAccess] = []
    for group in groups:
        variants: dict[HostGroupAccess, list[str]] = {}
        for name, entry in by_group[group]:
            variants.setdefault(replace(entry, hosts=()), []).append(name)
        for shape, names in variants.items():
            label = group if len(variants) == 1 else f"{group}:{','.join(sorted(names))}"
            out.append(replace(shape, group=label, hosts=tuple(sorted(names))))
    return out


def _networks(text: str) -> list[IPv4Network] | None:
    """Destination networks of a raw nft rule (`ip daddr X` or `{X, Y}`); None if it names none."""
    match = _DADDR.search(text)
    if not match:
        return None
    raw = match.group(1).strip("{} ")
    nets = []
    for part in raw.split(","):
        part = part.strip()
        try:
            nets.append(IPv4Network(part, strict=False))
        except ValueError:
            return None  # a set name or an expression: treat the rule as reaching anywhere
    return nets


def host_paths(
    hosts: Iterable[InventoryHostVars],
    expect_of: Mapping[str, Expectations],
    ranges: Sequence[IPv4Network],
    log_path: LogPath | None = None,
) -> list[NetworkPath]:
    """The host firewall's output accepts to anything outside the cluster's node, pod and service networks.

    A raw extra output rule that accepts without naming `ip daddr` networks is taken as reaching anywhere
    (0.0.0.0/0), the worst case; an unrestricted output chain (`firewall_egress_restricted: false`) too.
    The log path's accept (`sitekit.access.logpath`) is listed for each host that sends to the collector.
    """
    seen: dict[tuple[str, str, str, str], NetworkPath] = {}
    for host in hosts:
        expect = expect_of[host.name]
        group = ",".join(host.groups) or host.name
        entries: list[tuple[str, str, str]] = []  # destination, ports, via
        if not get_expected(expect, "firewall_egress_restricted", host.name):
            entries.append(("0.0.0.0/0", "any port", "firewall_egress_restricted is false: output policy accept"))
        for dest in get_expected(expect, "firewall_egress", host.name) or []:
            ports = ",".join(str(p) for p in dest.get("ports") or [])
            entries.append(
                (str(dest.get("cidr")), f"{dest.get('proto')}/{ports}", f"firewall_egress {dest.get('name')}")
            )
        if log_path is not None and host.name in log_path.senders:
            entries.append(
                (f"{log_path.address}/32", f"tcp/{log_path.port}", f"log path to the collector {log_path.collector}")
            )
        for rule in get_expected(expect, "firewall_extra_output_rules", host.name) or []:
            text = str(rule)
            if "accept" not in text.split():
                continue
            nets = _networks(text)
            for net in nets if nets is not None else [IPv4Network("0.0.0.0/0")]:
                entries.append((str(net), "as the rule says", f"firewall_extra_output_rules: {text}"))
        for destination, ports, via in entries:
            try:
                net = IPv4Network(destination, strict=False)
            except ValueError:
                raise UserError(f"inventory host {host.name}: {via}: {destination!r} is not an IPv4 network") from None
            outside = tuple(str(n) for n in _outside(net, ranges))
            key = (group, destination, ports, via)
            seen.setdefault(key, NetworkPath("hosts", group, destination, ports, via, not outside, outside))
    return sorted(seen.values(), key=lambda p: (p.source, p.destination, p.ports, p.via))


def _outside(net: IPv4Network, ranges: Sequence[IPv4Network]) -> list[IPv4Network]:
    from sitekit.plan.reachability import subtract

    return subtract([net], ranges)
