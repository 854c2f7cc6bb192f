"""Evidence of a country as `sitekit verify` and `sitekit scan` write it, made with their own writers
(`write_evidence`, `ScanResult.to_json`) so the OSCAL, pack and fleet-page tests read the real formats."""

from __future__ import annotations

import json
from pathlib import Path

from sitekit.report.evidence import HostEvidence, write_evidence
from sitekit.report.openscap import ScanResult

T0 = "2026-11-30T10:00:00+00:00"
T1 = "2026-11-30T10:00:42+00:00"


def _row(control: str, result: str, **extra: object) -> dict[str, object]:
    row: dict[str, object] = {
        "control": control,
        "title": f"title of {control}",
        "check": "test_" + control.lower().replace("-", "_"),
        "test_id": f"tests/hosts/test_x.py::test_{control.lower().replace('-', '_')}",
        "result": result,
        "reason": "",
        "time": T1,
        "duration_s": 0.01,
        "host": "",
    }
    row.update(extra)
    return row


def write_country_evidence(folder: Path, cc: str, *, failing: bool = True) -> None:
    """Two hosts (one with a failure if `failing`), a skipped vm-tier control, an accepted deviation, a scan."""
    cp = HostEvidence(
        country=cc,
        host=f"{cc}-cp-1",
        inventory="inventories/" + cc,
        catalogue_sha256="0" * 64,
        started=T0,
        finished=T1,
        duration_s=42.0,
        facts={
            "hostname": f"{cc}-cp-1",
            "os": "debian 12",
            "kernel": "6.1.0",
            "virt": "systemd-nspawn",
            "tier": "container",
        },
    )
    cp.results = [
        _row(
            "SK-SSH-004", "passed", observed={"passwordauthentication": "no"}, expected={"passwordauthentication": "no"}
        ),
        _row(
            "SK-SYS-003",
            "passed",
            observed="1",
            expected="1",
            deviation="1 on cluster nodes: routing",
            deviation_accepted_by_site="pod and service networking",
        ),
        _row("SK-AUD-001", "skipped", reason="not verifiable on this tier: SK-AUD-001 is a vm-tier control"),
    ]
    gpu = HostEvidence(
        country=cc,
        host=f"{cc}-gpu-1",
        inventory="inventories/" + cc,
        catalogue_sha256="0" * 64,
        started=T0,
        finished=T1,
        duration_s=40.0,
        facts={"hostname": f"{cc}-gpu-1", "tier": "vm"},
    )
    gpu.results = [
        _row(
            "SK-SSH-004",
            "failed" if failing else "passed",
            observed={"passwordauthentication": "yes"},
            expected={"passwordauthentication": "no"},
            reason="observed differs from expected: passwordauthentication: observed yes, expected no",
        ),
        _row("SK-AUD-001", "passed", observed="active", expected="active"),
    ]
    for ev in (cp, gpu):
        for r in ev.results:
            r["host"] = ev.host
        write_evidence(ev, folder)
    scan = ScanResult(
        host=f"{cc}-cp-1",
        profile="anssi_bp28_enhanced",
        tier="container",
        started=T0,
        duration_s=30.0,
        counts={"pass": 180, "fail": 20, "notapplicable": 40},
        score=88.5,
        failures=[
            {
                "rule": "partition_for_home",
                "result": "fail",
                "title": "Ensure /home on its own partition",
                "kind": "tier",
                "reason": "A lab host has a single root filesystem",
                "control": None,
            },
            {
                "rule": "sysctl_net_ipv4_ip_forward",
                "result": "fail",
                "title": "Disable IP forwarding",
                "kind": "deviation",
                "reason": "catalogued deviation",
                "control": "SK-SYS-003",
            },
            {"rule": "package_x_removed", "result": "fail", "title": "Uninstall x", "kind": "", "reason": ""},
        ],
    )
    (folder / "openscap").mkdir(parents=True, exist_ok=True)
    (folder / "openscap" / f"{scan.host}.openscap.json").write_text(json.dumps(scan.to_json(), indent=2) + "\n")
