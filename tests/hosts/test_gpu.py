"""SK-GPU: GPU host settings. The configuration is verified on every GPU worker; what needs a GPU (device
files, the persistence daemon running, the driver's live parameters) is checked where the host has one.
"""

from __future__ import annotations

import re
import tomllib
from typing import Any

from hostcheck import as_list, loaded_modules, modprobe_rules, module_blocked, stat

PERSISTENCED_DROPINS = "/etc/systemd/system/nvidia-persistenced.service.d"


def _gpus(probe: Any) -> list[str]:
    """NVIDIA GPUs the host really has (PCI vendor 0x10de, display class 0x03xx)."""
    out = probe.cmd(
        "for d in /sys/bus/pci/devices/*; do "
        '[ "$(cat $d/vendor 2>/dev/null)" = 0x10de ] && case $(cat $d/class) in 0x03*) echo ${d##*/};; esac; '
        "done; true"
    ).stdout
    return out.split()


def _nvidia_options(probe: Any) -> dict[str, str]:
    opts: dict[str, str] = {}
    for rule in modprobe_rules(probe).get("nvidia", []):
        if rule.startswith("options"):
            for kv in rule.split()[1:]:
                k, _, v = kv.partition("=")
                opts[k] = v
    return opts


def test_sk_gpu_001(probe: Any, observe: Any, control: Any) -> None:
    rules = modprobe_rules(probe)
    nouveau = rules.get("nouveau", [])
    loaded = "nouveau" in loaded_modules(probe)
    observe({"rules": nouveau, "loaded": loaded}, {"rules": ["blacklist", "install /bin/false"], "loaded": False})
    assert "blacklist" in nouveau or module_blocked(rules, "nouveau"), "nouveau is not blocked"
    assert module_blocked(rules, "nouveau") or any(r.startswith("options") and "modeset=0" in r for r in nouveau), (
        "nouveau can still be loaded by name (no install /bin/false or modeset=0)"
    )
    assert not loaded, "nouveau is loaded"


def test_sk_gpu_002(probe: Any, observe: Any, control: Any) -> None:
    opts = _nvidia_options(probe)
    live = probe.cmd("grep -h RestrictProfilingToAdminUsers /proc/driver/nvidia/params 2>/dev/null").stdout.strip()
    observe({"options": opts, "driver": live or None}, {"NVreg_RestrictProfilingToAdminUsers": "1"})
    assert opts.get("NVreg_RestrictProfilingToAdminUsers") == "1", "profiling is not restricted to admins"
    if live:
        assert live.split(":")[-1].strip() == "1", f"the loaded driver has {live}"


def test_sk_gpu_003(probe: Any, expect: Any, observe: Any, control: Any) -> None:
    opts = _nvidia_options(probe)
    group = str(expect.get("gpu_host_device_group"))
    gid = probe.cmd(f"getent group {group} | cut -d: -f3").stdout.strip()
    devices = probe.cmd("ls -1 /dev/nvidia[0-9]* /dev/nvidiactl 2>/dev/null").stdout.split()
    seen = {d: stat(probe, d) for d in devices}
    want = {"NVreg_DeviceFileMode": "0660", "NVreg_DeviceFileUID": "0", "NVreg_DeviceFileGID": gid or group}
    observe({"options": opts, "devices": seen}, want)
    assert opts.get("NVreg_DeviceFileUID") == "0", f"DeviceFileUID={opts.get('NVreg_DeviceFileUID')}"
    assert opts.get("NVreg_DeviceFileMode") in ("0660", "432", "0o660"), (
        f"DeviceFileMode={opts.get('NVreg_DeviceFileMode')}"
    )
    assert gid and opts.get("NVreg_DeviceFileGID") == gid, (
        f"DeviceFileGID={opts.get('NVreg_DeviceFileGID')} (want {group}={gid})"
    )
    for d, st in seen.items():
        assert st and st["owner"] == "root" and st["mode"] in ("0660", "0640", "0600"), f"{d} is {st}"


def test_sk_gpu_004(probe: Any, observe: Any, control: Any) -> None:
    gpus = _gpus(probe)
    dropins = probe.cmd(f"ls -1 {PERSISTENCED_DROPINS}/*.conf 2>/dev/null").stdout.split()
    show = probe.cmd("systemctl show -p LoadState,UnitFileState,ActiveState,DropInPaths nvidia-persistenced.service")
    state = dict(line.split("=", 1) for line in show.stdout.splitlines() if "=" in line)
    daemon = probe.exists("/usr/bin/nvidia-persistenced")
    observe(
        {"gpus": gpus, "drop_ins": dropins, "daemon_installed": daemon, **state},
        {"drop_in": "present", "running": "where GPUs and the daemon are present"},
    )
    assert any("sitekit" in d for d in dropins), f"no sitekit drop-in in {PERSISTENCED_DROPINS}"
    if gpus and daemon:
        assert state.get("LoadState") == "loaded", "nvidia-persistenced.service is not loaded"
        assert any("sitekit" in p for p in state.get("DropInPaths", "").split()), "the drop-in is not in effect"
        assert state.get("UnitFileState") == "enabled" and state.get("ActiveState") == "active", state
    elif gpus:
        raise AssertionError(f"{len(gpus)} NVIDIA GPUs but /usr/bin/nvidia-persistenced is not installed")


def test_sk_gpu_005(probe: Any, expect: Any, observe: Any, control: Any) -> None:
    # The effective command line is what counts: the role's GRUB drop-in applies from the next reboot.
    wanted = as_list(expect.get("gpu_host_iommu_args"))
    cmdline = (probe.cat("/proc/cmdline") or "").split()
    observe(" ".join(cmdline), wanted)
    missing = [a for a in wanted if a not in cmdline]
    assert not missing, f"kernel command line lacks {missing}"


def test_sk_gpu_006(probe: Any, observe: Any, control: Any) -> None:
    path = "/etc/nvidia-container-runtime/config.toml"
    text = probe.cat(path)
    assert text is not None, f"{path} is missing"
    conf = tomllib.loads(text)
    seen = {
        "accept-nvidia-visible-devices-envvar-when-unprivileged": conf.get(
            "accept-nvidia-visible-devices-envvar-when-unprivileged"
        ),
        "accept-nvidia-visible-devices-as-volume-mounts": conf.get("accept-nvidia-visible-devices-as-volume-mounts"),
    }
    observe(
        seen,
        {
            "accept-nvidia-visible-devices-envvar-when-unprivileged": False,
            "accept-nvidia-visible-devices-as-volume-mounts": True,
        },
    )
    assert seen["accept-nvidia-visible-devices-envvar-when-unprivileged"] is False
    assert seen["accept-nvidia-visible-devices-as-volume-mounts"] is True
    assert not re.search(r"\bno-cgroups\s*=\s*true", text), "device cgroups disabled"
