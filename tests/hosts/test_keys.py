"""Checks of the keys role's host state that a certificate login cannot show (tests/playbooks/test_keys.py
covers SSH certificates end to end): the TPM-bound model volume."""

from __future__ import annotations

import json
import shlex
from typing import Any

import pytest


def test_sk_key_001(probe: Any, expect: Any, observe: Any, control: Any) -> None:
    if str(expect.get("keys_luks_enabled")).strip().lower() not in ("true", "1", "yes"):
        volume = expect.get("keys_luks_volume") or {}
        why = "declares no keys.model_volume" if not volume else f"gives it to {', '.join(volume.get('roles', []))}"
        pytest.skip(f"not applicable: the site's spec {why}, so this host has no model volume")
    device = str(expect.get("keys_luks_device"))
    name = str(expect.get("keys_luks_name"))
    mount_point = str(expect.get("keys_luks_mount_point"))
    pcrs = sorted(int(p) for p in expect.get("keys_luks_tpm2_pcrs"))
    want_options = set(str(expect.get("keys_luks_mount_options")).split(","))

    dump = probe.cmd(f"cryptsetup luksDump --dump-json-metadata {shlex.quote(device)}")
    header = json.loads(dump.stdout) if dump.rc == 0 else {}
    tokens = [t for t in header.get("tokens", {}).values() if t.get("type") == "systemd-tpm2"]
    tpm_slots = {s for t in tokens for s in t.get("keyslots", [])}
    recovery_slots = sorted(set(header.get("keyslots", {})) - tpm_slots)
    status = probe.cmd(f"cryptsetup status {shlex.quote(name)}").stdout
    unit = probe.cmd(
        f"systemctl show -p ActiveState -p ExecStart systemd-cryptsetup@{shlex.quote(name)}.service"
    ).stdout
    mount = probe.mount(mount_point) or {}
    crypttab = probe.cmd("stat -c %a /etc/crypttab").stdout.strip().zfill(4)
    seen = {
        "luks2": dump.rc == 0,
        "tpm2 token pcrs": sorted({p for t in tokens for p in t.get("tpm2-pcrs", [])}),
        "recovery slots": recovery_slots,
        "opened": "type:    LUKS2" in status,
        "opened at boot by tpm2": "ActiveState=active" in unit and "tpm2-device=" in unit,
        "/etc/crypttab mode": crypttab,
        "mount": {
            "source": mount.get("source"),
            "options": sorted(set(mount.get("options", "").split(",")) & want_options),
        },
    }
    want = {
        "luks2": True,
        "tpm2 token pcrs": pcrs,
        "recovery slots": "at least one",
        "opened": True,
        "opened at boot by tpm2": True,
        "/etc/crypttab mode": "0600",
        "mount": {"source": f"/dev/mapper/{name}", "options": sorted(want_options)},
    }
    observe(seen, want)
    assert dump.rc == 0, f"{device} has no LUKS2 header"
    assert tokens and seen["tpm2 token pcrs"] == pcrs, f"no systemd-tpm2 key slot sealed to PCRs {pcrs}"
    assert recovery_slots, "no key slot besides the TPM's: losing the TPM would lose the weights"
    assert seen["opened"], f"/dev/mapper/{name} is not an open LUKS2 mapping"
    assert seen["opened at boot by tpm2"], f"systemd-cryptsetup@{name} is not active with tpm2-device: {unit}"
    assert int(crypttab, 8) & 0o177 == 0, f"/etc/crypttab is {crypttab}: it names the volume's devices and options"
    assert seen["mount"] == want["mount"], f"{mount_point}: {mount or 'not mounted'}"
