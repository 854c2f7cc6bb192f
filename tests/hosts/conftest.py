"""Host checks: one test per control of sitekit/controls.yaml, run by `sitekit verify` or by hand:

    pytest tests/hosts -p sitekit.verify.plugin --hosts='ansible://all' --ansible-inventory=inventories/ee

Conventions every check follows:
- the test function's name is the catalogue's `check`; this conftest parametrizes it with the control(s)
  that name it, so the control ID is in the test id (`test_x[SK-SSH-004-ansible://ee-cp-1]`);
- expectations come from the inventory variables (`vars` fixture), never from constants;
- checks read the effective state (`sshd -T`, /proc/sys in the host's namespace, findmnt, `nft -j`,
  `auditctl -l`), never configuration file text, and report what they saw with `observe(...)`;
- a control that the host's tier cannot verify (a vm-tier control on a container host), or that is out
  of scope for the host's role, is skipped with the reason here, before the check runs, so it can never
  be counted as passed; a deviation is verified with its deviated value, and the row says whether the
  site accepted it (`sitekit_deviations`).

The code the checks share beyond this conftest and `hostcheck.py` lives in the package, in
`sitekit/hostchecks/` (expectations from the roles' defaults, the nftables ruleset model, inventory
reading, catalogue lookups), because `sitekit verify`, `sitekit scan` and the access map read it too.
The plugin that turns a run into evidence is `sitekit/verify/plugin.py`. See README.md here.
"""

from __future__ import annotations

import ast
import json
import os
import secrets
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sitekit.hostchecks.catalogue import Control, host_role_of, load_controls
from sitekit.hostchecks.expect import Expectations

try:
    from sitekit.verify.plugin import FACTS
except ImportError:  # pragma: no cover - plugin missing only in broken installs
    FACTS = None

CONTROLS: list[Control] = load_controls()
BY_CHECK: dict[str, list[Control]] = {}
for _c in CONTROLS:
    BY_CHECK.setdefault(_c.check, []).append(_c)

SYSCTL_CMD = (
    "grep -r . /proc/sys/net/ipv4 /proc/sys/net/ipv6/conf /proc/sys/net/core /proc/sys/kernel /proc/sys/fs "
    "/proc/sys/vm /proc/sys/user /proc/sys/dev/tty"
)
MODPROBE_CMD = "modprobe -c 2>/dev/null | grep -E '^(blacklist|install|options|softdep) '"
CONTAINER_VIRT = {
    "systemd-nspawn",
    "lxc",
    "lxc-libvirt",
    "docker",
    "podman",
    "openvz",
    "rkt",
    "wsl",
    "proot",
    "pouch",
    "container-other",
}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    controls = BY_CHECK.get(metafunc.function.__name__)
    if controls and "control" in metafunc.fixturenames:
        metafunc.parametrize("control", controls, ids=[c.id for c in controls])


@pytest.fixture
def control() -> Control | None:
    """The catalogued control this test verifies (parametrized above); None for an uncatalogued test."""
    return None


# --------------------------------------------------------------------------------------------- the host


@dataclass(frozen=True)
class Result:
    """What a command returned (the part of testinfra's CommandResult the checks use)."""

    rc: int
    stdout: str


class Probe:
    """Effective state of one host, each source read once per run over the multiplexed connection."""

    def __init__(self, host: Any) -> None:
        self.host = host
        self._cache: dict[str, Any] = {}
        self.unreachable = ""
        self.prefetched = False

    def prefetch(self, commands: list[str]) -> None:
        """Run many read-only commands in ONE remote call (one SSH session, one sudo) and cache each
        command's exit status and output; on a slow host (the VM tier under emulation) this is the
        difference between seconds and minutes."""
        todo = [c for c in dict.fromkeys(commands) if "cmd:" + c not in self._cache]
        if not todo:
            return
        tag = "@@SK" + secrets.token_hex(6)
        # After each command: a newline (so a last line without one cannot hide the marker), then its status.
        script = "".join(
            f"echo '{tag} {i}'; ( {c} ) </dev/null 2>/dev/null; r=$?; echo; echo \"{tag} rc $r\"\n"
            for i, c in enumerate(todo)
        )
        r = self.host.run("sh -c " + shlex.quote(script))
        current: int | None = None
        buf: list[str] = []
        for line in r.stdout.split("\n"):
            if line.startswith(tag + " rc ") and current is not None:
                # buf holds the output plus the newline the script added: joining drops exactly that one.
                self._cache["cmd:" + todo[current]] = Result(int(line.split()[-1]), "\n".join(buf))
                current, buf = None, []
            elif line.startswith(tag + " "):
                current, buf = int(line.split()[1]), []
            elif current is not None:
                buf.append(line)

    def cmd(self, command: str) -> Result:
        """Exit status and output of a read-only command (prefetched, else run now and remembered)."""
        key = "cmd:" + command
        if key not in self._cache:
            r = self.host.run(command)
            self._cache[key] = Result(r.rc, r.stdout)
        result: Result = self._cache[key]
        return result

    def run(self, command: str) -> Result:
        return self.cmd(command)

    def out(self, command: str) -> str:
        return self.cmd(command).stdout

    def cat(self, path: str) -> str | None:
        """Content of a file (None if it cannot be read)."""
        r = self.cmd(f"cat {path}")
        return r.stdout if r.rc == 0 else None

    def exists(self, path: str) -> bool:
        return self.cmd(f"test -e {path}").rc == 0

    def _once(self, key: str, fn: Callable[[], Any]) -> Any:
        if key not in self._cache:
            self._cache[key] = fn()
        return self._cache[key]

    # -- facts
    def facts(self) -> dict[str, Any]:
        def gather() -> dict[str, Any]:
            script = (
                # systemd-detect-virt prints "none" AND exits 1 outside a VM or container: one line each,
                # whatever it prints or however it exits (an extra line would shift every fact below).
                'hostname; uname -r; uname -m; v=$(systemd-detect-virt 2>/dev/null); echo "${v:-none}"; '
                'c=$(systemd-detect-virt -c 2>/dev/null); echo "${c:-none}"; '
                '. /etc/os-release 2>/dev/null; echo "$PRETTY_NAME"; '
                "cat /etc/machine-id 2>/dev/null || echo; id -un"
            )
            lines = (self.host.run(script).stdout.splitlines() + [""] * 8)[:8]  # also the reachability test
            virt, container = lines[3].strip(), lines[4].strip()
            return {
                "hostname": lines[0].strip(),
                "kernel": lines[1].strip(),
                "arch": lines[2].strip(),
                "virt": virt,
                "container": container if container != "none" else "",
                "os": lines[5].strip(),
                "machine_id": lines[6].strip(),
                "user": lines[7].strip(),
            }

        facts: dict[str, Any] = self._once("facts", gather)
        return facts

    @property
    def in_container(self) -> bool:
        f = self.facts()
        return bool(f["container"]) or f["virt"] in CONTAINER_VIRT

    @property
    def tier(self) -> str:
        """container (cannot own kernel settings), vm (a guest kernel of its own) or host (bare metal)."""
        if self.in_container:
            return "container"
        return "host" if self.facts()["virt"] in ("none", "") else "vm"

    # -- sysctl: what the next boot will set
    def boot_sysctls(self) -> dict[str, tuple[str, str]]:
        """What systemd-sysctl will set at the next boot: every sysctl.d file in the order it applies them
        (`systemd-analyze cat-config`), the last assignment of a key winning; key -> (value, file)."""

        def read() -> dict[str, tuple[str, str]]:
            values: dict[str, tuple[str, str]] = {}
            source = "?"
            for raw in self.out("systemd-analyze cat-config sysctl.d 2>/dev/null").splitlines():
                line = raw.strip()
                if line.startswith("# /"):
                    source = line[2:].strip()
                    continue
                if not line or line[0] in "#;" or "=" not in line:
                    continue
                key, _, value = line.partition("=")
                values[key.strip().lstrip("-").replace("/", ".")] = (" ".join(value.split()), source)
            return values

        boot: dict[str, tuple[str, str]] = self._once("boot-sysctl", read)
        return boot

    # -- sysctl: runtime values in the host's own namespaces
    def sysctls(self) -> dict[str, str]:
        def read() -> dict[str, str]:
            out = self.out(SYSCTL_CMD)
            values: dict[str, str] = {}
            for line in out.splitlines():
                path, _, value = line.partition(":")
                if path.startswith("/proc/sys/"):
                    values[path[len("/proc/sys/") :].replace("/", ".")] = " ".join(value.split())
            return values

        values: dict[str, str] = self._once("sysctl", read)
        return values

    def sysctl(self, name: str) -> str | None:
        return self.sysctls().get(name)

    # -- sshd: the effective configuration for a connection like the operators'
    def sshd(self, user: str = "root", addr: str = "10.0.0.1") -> dict[str, list[str]]:
        def read() -> dict[str, list[str]]:
            hostname = self.facts()["hostname"] or "localhost"
            cmd = f"sshd -T -C user={shlex.quote(user)},host={shlex.quote(hostname)},addr={shlex.quote(addr)}"
            r = self.cmd(f"{cmd} 2>&1 || /usr/sbin/{cmd} 2>&1")
            conf: dict[str, list[str]] = {}
            for line in r.stdout.splitlines():
                key, _, value = line.strip().partition(" ")
                if key:
                    conf.setdefault(key.lower(), []).append(value.strip())
            return conf

        conf: dict[str, list[str]] = self._once(f"sshd:{user}:{addr}", read)
        return conf

    # -- firewall
    def nft(self) -> list[dict[str, Any]]:
        def read() -> list[dict[str, Any]]:
            r = self.cmd("nft -j list ruleset")
            if r.rc != 0:
                return []
            items: list[dict[str, Any]] = json.loads(r.stdout or "{}").get("nftables", [])
            return items

        items: list[dict[str, Any]] = self._once("nft", read)
        return items

    def nft_text(self) -> str:
        return self.out("nft list ruleset 2>/dev/null")

    # -- mounts
    def mount(self, target: str) -> dict[str, Any] | None:
        def read() -> dict[str, Any]:
            r = self.cmd("findmnt -J -o TARGET,SOURCE,FSTYPE,OPTIONS")
            found: dict[str, Any] = {}

            def walk(nodes: list[dict[str, Any]]) -> None:
                for n in nodes:
                    found[n["target"]] = n  # the last (top) mount of a target wins
                    walk(n.get("children", []))

            walk(json.loads(r.stdout or "{}").get("filesystems", []))
            return found

        mounts: dict[str, Any] = self._once("findmnt", read)
        return mounts.get(target)

    # -- audit
    def audit_rules(self) -> list[str]:
        def read() -> list[str]:
            return [ln.strip() for ln in self.out("auditctl -l").splitlines() if ln.strip()]

        rules: list[str] = self._once("auditctl", read)
        return rules

    # -- modules
    def modprobe_config(self) -> str:
        """`modprobe -c`: the effective module configuration (blacklist, install, options)."""
        return self.out(MODPROBE_CMD)


_PROBES: dict[str, Probe] = {}


def prefetch_commands(folder: Path = Path(__file__).parent) -> list[str]:
    """Every constant command the checks read through the probe (`probe.cmd/out/run("...")`,
    `probe.cat("/path")`, `probe.exists("/path")`), found in their source, so one remote call per host
    answers them all. Commands built at run time (f-strings) still run one by one."""
    cmds = [
        SYSCTL_CMD,
        "nft -j list ruleset",
        "findmnt -J -o TARGET,SOURCE,FSTYPE,OPTIONS",
        "auditctl -l",
        MODPROBE_CMD,
        "systemd-analyze cat-config sysctl.d 2>/dev/null",
    ]
    for path in sorted(folder.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args):
                continue
            owner, arg = node.func.value, node.args[0]
            if not (isinstance(owner, ast.Name) and owner.id == "probe"):
                continue
            if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)):
                continue
            attr = node.func.attr
            if attr in ("cmd", "out", "run"):
                cmds.append(arg.value)
            elif attr == "cat":
                cmds.append(f"cat {arg.value}")
            elif attr == "exists":
                cmds.append(f"test -e {arg.value}")
    # Never in the batch: anything that could write (apt's update fallback runs only when needed).
    return [c for c in dict.fromkeys(cmds) if " update" not in c]


PREFETCH = prefetch_commands()


def _host_name(host: Any) -> str:
    backend = host.backend
    return str(getattr(backend, "host", None) or backend.get_hostname())


@pytest.fixture(scope="module")
def probe(host: Any) -> Probe:
    name = _host_name(host)
    if name not in _PROBES:
        _PROBES[name] = Probe(host)
    return _PROBES[name]


@pytest.fixture(scope="module")
def hostvars(host: Any) -> dict[str, Any]:
    """The host's inventory variables (group_vars and host_vars resolved by Ansible)."""
    try:
        variables: dict[str, Any] = dict(host.ansible.get_variables())
    except Exception:  # not the ansible backend: expectations from $SITEKIT_HOSTVARS (a JSON file)
        path = os.environ.get("SITEKIT_HOSTVARS")
        variables = json.loads(Path(path).read_text()) if path else {}
    return variables


@pytest.fixture(scope="module")
def expect(hostvars: dict[str, Any]) -> Expectations:
    """Role variables as the play sees them: inventory variables over the roles' rendered defaults."""
    return Expectations(hostvars)


@pytest.fixture
def observe(request: pytest.FixtureRequest) -> Callable[..., None]:
    """Record what the check saw (and what it expected) into the evidence row."""

    def record(observed: Any, expected: Any = None) -> None:
        request.node.user_properties.append(("observed", observed))
        if expected is not None:
            request.node.user_properties.append(("expected", expected))

    return record


def _site_deviation(hostvars: dict[str, Any], control_id: str) -> str | None:
    for dev in hostvars.get("sitekit_deviations") or []:
        if isinstance(dev, dict) and dev.get("control") == control_id:
            return str(dev.get("reason", "deviation"))
    return None


@pytest.fixture(autouse=True)
def _sitekit_gate(
    request: pytest.FixtureRequest, host: Any, probe: Probe, hostvars: dict[str, Any], control: Control | None
) -> None:
    """Label the row with host and control; skip (with the reason) what this host cannot or must not verify."""
    name = _host_name(host)
    props = request.node.user_properties
    props.append(("host", name))
    if control is not None:
        props += [
            ("control", control.id),
            ("title", control.title),
            ("check", control.check),
            ("frameworks", control.frameworks),
        ]
        if control.deviation:
            props.append(("deviation", f"{control.deviation.value}: {control.deviation.reason}"))
    if probe.unreachable:
        pytest.fail(f"host unreachable: {probe.unreachable}", pytrace=False)
    try:
        facts = probe.facts()
    except Exception as exc:  # the first command over SSH: fail every check of this host at once
        detail = getattr(exc.args[0], "stderr", "") if exc.args else ""
        probe.unreachable = " ".join(str(detail or exc).split())[:300]
        pytest.fail(f"host unreachable: {probe.unreachable}", pytrace=False)
    if not probe.prefetched:
        probe.prefetched = True
        probe.prefetch(PREFETCH)
    if FACTS is not None:
        stash = request.config.stash[FACTS]
        if name not in stash:
            stash[name] = {
                **facts,
                "lab_tier": hostvars.get("sitekit_lab_tier"),
                "tier": probe.tier,
            }
    if control is None:
        return
    if control.tier == "vm" and probe.in_container:
        pytest.skip(
            f"not verifiable on this tier: {control.id} is a vm-tier (kernel-level) control and "
            f"{name} is a container ({facts['container'] or facts['virt']}); verify it on the lab's VM tier"
        )
    groups = tuple(hostvars.get("group_names") or ())
    role = host_role_of(groups, hostvars.get("sitekit_host_role"))
    if not control.applies(role or "unknown"):
        pytest.skip(
            f"not applicable: {control.id} applies to {', '.join(control.applies_to)} hosts; "
            f"{name} is a {role or 'host without a role'}"
        )
    # A deviation is applied with its deviated value and verified like any other control; the row records
    # whether the site accepted it (compliance.deviations, rendered as `sitekit_deviations`).
    accepted = _site_deviation(hostvars, control.id)
    if control.deviation or accepted:
        props.append(("deviation_accepted_by_site", accepted or False))
