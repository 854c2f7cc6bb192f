"""What a lab created, written down *before* each thing is created so `down` can undo a crashed `up`.

The record lives in `state_dir()/lab/<cc>/state.json` and is rewritten atomically after every change.
`down` trusts only this record (plus processes whose command line names this lab's own folder), so it
never touches a namespace, mount or process that another lab or the operator created.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sitekit.atomic import write_atomic
from sitekit.lab.procs import ProcRef
from sitekit.paths import country_state, state_dir


def lab_dir(cc: str) -> Path:
    """The folder of one country's lab (keys, inventory, host layers, logs, state)."""
    return country_state(cc).lab


@dataclass
class HostRecord:
    """One lab host: where its layer is mounted and which processes run it."""

    name: str
    address: str
    mount: str | None = None
    procs: list[ProcRef] = field(default_factory=list)


@dataclass
class ClusterRecord:
    """The lab's Kubernetes control plane (sitekit.cluster): its processes by role and its entry point."""

    procs: dict[str, ProcRef] = field(default_factory=dict)
    api_port: int = 0
    """Port of the forwarder on the machine's 127.0.0.1 (what the kubeconfig names)."""
    api_address: str = ""
    """Address of the API server inside the lab namespace."""
    ready: bool = False


@dataclass
class LabState:
    """Everything one lab created; the single source for `status` and `down`."""

    cc: str
    tier: str
    netns: str | None = None
    created_netns_root: bool = False
    hosts: list[HostRecord] = field(default_factory=list)
    procs: list[ProcRef] = field(default_factory=list)
    mounts: list[str] = field(default_factory=list)
    ready: bool = False
    cluster: ClusterRecord | None = None

    @property
    def path(self) -> Path:
        """Where this record is stored."""
        return lab_dir(self.cc) / "state.json"

    def save(self) -> None:
        """Persist the record atomically (called before and after each step of `up`)."""
        write_atomic(self.path, json.dumps(asdict(self), indent=2, sort_keys=True) + "\n", 0o600)

    def host(self, name: str) -> HostRecord:
        """The record of host `name`, created on first use."""
        for rec in self.hosts:
            if rec.name == name:
                return rec
        rec = HostRecord(name=name, address="")
        self.hosts.append(rec)
        return rec

    @classmethod
    def load(cls, cc: str) -> LabState | None:
        """The saved record of `cc`'s lab, or None if there is no lab."""
        path = lab_dir(cc) / "state.json"
        if not path.exists():
            return None
        raw: dict[str, Any] = json.loads(path.read_text())
        hosts = [
            HostRecord(
                name=h["name"],
                address=h["address"],
                mount=h.get("mount"),
                procs=[ProcRef(**p) for p in h.get("procs", [])],
            )
            for h in raw.get("hosts", [])
        ]
        return cls(
            cc=raw["cc"],
            tier=raw["tier"],
            netns=raw.get("netns"),
            created_netns_root=raw.get("created_netns_root", False),
            hosts=hosts,
            procs=[ProcRef(**p) for p in raw.get("procs", [])],
            mounts=list(raw.get("mounts", [])),
            ready=raw.get("ready", False),
            cluster=_cluster(raw.get("cluster")),
        )


def _cluster(raw: dict[str, Any] | None) -> ClusterRecord | None:
    if not raw:
        return None
    return ClusterRecord(
        procs={k: ProcRef(**v) for k, v in raw.get("procs", {}).items()},
        api_port=raw.get("api_port", 0),
        api_address=raw.get("api_address", ""),
        ready=raw.get("ready", False),
    )


def known_labs() -> list[str]:
    """Country codes that have a lab folder (running, or left by a crash)."""
    root = state_dir() / "lab"
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / "state.json").exists())
