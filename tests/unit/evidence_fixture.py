"""Evidence of a country as `sitekit verify` and `sitekit scan` write it, made with their own writers
(`write_evidence`, `ScanResult.to_json`) so the OSCAL, pack and fleet-page tests read the real formats."""

from __future__ import annotations

import json
from pathlib import Path

from sitekit.scan.openscap import ScanResult
from sitekit.verify.evidence import HostEvidence, write_evidence

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


def write_full_evidence(folder: Path, cc: str, hosts: dict[str, str], failing: dict[str, str]) -> None:
    """A result for every catalogued control on every host (`name -> host role`), as verify writes it:
    vm-tier controls skipped on container-tier hosts with verify's reason, out-of-role controls skipped as
    not applicable, catalogued deviations passed and accepted, `failing` (control -> host) failed; and a
    scan of the first host."""
    from sitekit.controls import load_controls

    for i, (host, role) in enumerate(hosts.items()):
        tier = "container" if i == 0 else "vm"
        ev = HostEvidence(
            country=cc,
            host=host,
            inventory=f"inventories/{cc}",
            catalogue_sha256="0" * 64,
            started=T0,
            finished=T1,
            duration_s=40.0,
            facts={"hostname": host, "os": "debian 12", "tier": tier},
        )
        for c in load_controls():
            if not c.applies(role):
                row = _row(
                    c.id,
                    "skipped",
                    reason=f"not applicable: {c.id} applies to {', '.join(c.applies_to)} hosts; {host} is a {role}",
                )
            elif c.tier == "vm" and tier == "container":
                row = _row(
                    c.id,
                    "skipped",
                    reason=f"not verifiable on this tier: {c.id} is a vm-tier "
                    f"(kernel-level) control and {host} is a container (systemd-nspawn)",
                )
            elif failing.get(c.id) == host:
                row = _row(
                    c.id,
                    "failed",
                    observed="yes",
                    expected="no",
                    reason="observed differs from expected: observed yes, expected no",
                )
            elif c.deviation:
                row = _row(
                    c.id,
                    "passed",
                    deviation=f"{c.deviation.value}: {c.deviation.reason}",
                    deviation_accepted_by_site=c.deviation.reason,
                )
            else:
                row = _row(c.id, "passed", observed="ok", expected="ok")
            row["host"], row["title"] = host, c.title
            ev.results.append(row)
        write_evidence(ev, folder)
    first = next(iter(hosts))
    ratio = {"cl": (212, 31), "ee": (224, 19), "ke": (190, 53)}.get(cc, (200, 40))
    scan = ScanResult(
        host=first,
        profile="anssi_bp28_enhanced",
        tier="container",
        started=T0,
        duration_s=30.0,
        counts={"pass": ratio[0], "fail": ratio[1], "notapplicable": 61},
        score=None,
        failures=[
            {
                "rule": "partition_for_home",
                "result": "fail",
                "title": "/home on its own partition",
                "kind": "tier",
                "reason": "A lab host has a single root filesystem",
                "control": None,
            }
        ],
    )
    (folder / "openscap").mkdir(parents=True, exist_ok=True)
    (folder / "openscap" / f"{first}.openscap.json").write_text(json.dumps(scan.to_json(), indent=2) + "\n")
