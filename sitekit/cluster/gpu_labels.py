"""The node labels and GPU resources NVIDIA's GPU feature discovery and device plugin publish for a host.

The lab's simulated nodes carry them, and the stack program derives its nodeSelectors from the same
functions, so a selector that would never match a real GPU node (say `nvidia.com/gpu.product: L40S` where
GFD publishes `NVIDIA-L40S`) fails in the lab instead of on the site. Values follow GFD's conventions:

- `nvidia.com/gpu.product` is the product name with spaces as dashes (`NVIDIA-L40S`), with `-SHARED`
  appended when time-slicing is on and `-MIG-<profile>` with the `single` MIG strategy (what the stack's
  GPU operator configuration uses);
- `nvidia.com/gpu.count` counts the devices the plugin advertises per physical unit (GPUs, or MIG slices),
  `nvidia.com/gpu.replicas` the time-slicing replicas (1 without), `nvidia.com/gpu.memory` MiB per device;
- the allocatable `nvidia.com/gpu` is GPUs x replicas, or the number of MIG slices.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sitekit.policy.gpu_labels import gpu_product
from sitekit.spec.models import Gpu, Host

GPU_RESOURCE = "nvidia.com/gpu"
PREFIX = "nvidia.com/"


@dataclass(frozen=True)
class GpuFacts:
    """What GFD reads from the driver for one product (memory in MiB, CUDA compute capability, family)."""

    memory_mib: int
    compute: tuple[int, int]
    family: str


#: Products the fleet uses; an unknown product still gets labels, with memory from an `-<N>GB` suffix.
KNOWN: dict[str, GpuFacts] = {
    "L40S": GpuFacts(46068, (8, 9), "ada-lovelace"),
    "L40": GpuFacts(46068, (8, 9), "ada-lovelace"),
    "L4": GpuFacts(23034, (8, 9), "ada-lovelace"),
    "H100-SXM5-80GB": GpuFacts(81559, (9, 0), "hopper"),
    "H100-PCIE-80GB": GpuFacts(81559, (9, 0), "hopper"),
    "H200-SXM5-141GB": GpuFacts(143771, (9, 0), "hopper"),
    "A100-SXM4-80GB": GpuFacts(81920, (8, 0), "ampere"),
    "A100-SXM4-40GB": GpuFacts(40960, (8, 0), "ampere"),
}

#: Compute slices of a whole GPU (A100/H100 have 7); `all-<k>g.<m>gb` gives 7 // k devices per GPU.
SLICES = 7
#: The `all-balanced` profile of the MIG manager on an 80 GB part: per GPU, two 1g, one 2g and one 3g slice.
BALANCED = {"1g.10gb": 2, "2g.20gb": 1, "3g.40gb": 1}
_PROFILE = re.compile(r"^all-(\d+)g\.(\d+)gb$")


def facts(gpu: Gpu) -> GpuFacts | None:
    """Driver facts of a product, from the table or (memory only) from a `-<N>GB` suffix of its name."""
    if gpu.model in KNOWN:
        return KNOWN[gpu.model]
    match = re.search(r"-(\d+)GB$", gpu.model, re.IGNORECASE)
    return GpuFacts(int(match.group(1)) * 1024, (0, 0), "unknown") if match else None


def product(gpu: Gpu) -> str:
    """GFD's `nvidia.com/gpu.product` of a host's GPUs: the stack's own rule (`sitekit.policy.gpu_labels`)."""
    return gpu_product(gpu)


def products(model: str) -> tuple[str, ...]:
    """Every product label a host with GPU `model` may carry (whole, time-sliced): for node affinity `In`."""
    return (f"NVIDIA-{model}", f"NVIDIA-{model}-SHARED")


def gpu_capacity(gpu: Gpu) -> dict[str, str]:
    """The extended resources the device plugin advertises (capacity = allocatable), as quantities."""
    sharing = gpu.sharing
    if sharing and sharing.time_slicing:
        return {GPU_RESOURCE: str(gpu.count * sharing.time_slicing.replicas)}
    if sharing and sharing.mig and sharing.mig.profile != "all-disabled":
        match = _PROFILE.match(sharing.mig.profile)
        if match:  # the single strategy: every slice is an `nvidia.com/gpu`
            return {GPU_RESOURCE: str(gpu.count * (SLICES // int(match.group(1))))}
        # all-balanced mixes slice sizes, which only the mixed strategy can advertise
        return {f"{PREFIX}mig-{p}": str(gpu.count * n) for p, n in BALANCED.items()} | {GPU_RESOURCE: "0"}
    return {GPU_RESOURCE: str(gpu.count)}


def gfd_labels(host: Host, gpu: Gpu) -> dict[str, str]:
    """The `nvidia.com/*` labels GFD (and the GPU operator's node feature rules) put on `host`."""
    info = facts(gpu)
    sharing = gpu.sharing
    replicas = sharing.time_slicing.replicas if sharing and sharing.time_slicing else 1
    labels = {
        f"{PREFIX}gpu.present": "true",
        f"{PREFIX}gpu.deploy.device-plugin": "true",
        f"{PREFIX}gpu.deploy.gpu-feature-discovery": "true",
        f"{PREFIX}gpu.product": product(gpu),
        f"{PREFIX}gpu.count": str(gpu.count),
        f"{PREFIX}gpu.replicas": str(replicas),
        f"{PREFIX}gpu.sharing-strategy": "time-slicing" if replicas > 1 else "none",
        f"{PREFIX}mig.capable": "true" if info and info.family in ("ampere", "hopper") else "false",
        f"{PREFIX}mig.strategy": "none",
    }
    memory = info.memory_mib if info else None
    mig = sharing.mig if sharing and sharing.mig and sharing.mig.profile != "all-disabled" else None
    if mig is not None:
        labels[f"{PREFIX}mig.strategy"] = "single"
        labels[f"{PREFIX}mig.config"] = mig.profile
        match = _PROFILE.match(mig.profile)
        if match:
            labels[f"{PREFIX}gpu.count"] = str(gpu.count * (SLICES // int(match.group(1))))
            labels[f"{PREFIX}gpu.slices.gi"] = match.group(1)
            labels[f"{PREFIX}gpu.slices.ci"] = match.group(1)
            memory = int(match.group(2)) * 1024
        else:
            labels[f"{PREFIX}mig.strategy"] = "mixed"
    if memory is not None:
        labels[f"{PREFIX}gpu.memory"] = str(memory)
    if info and info.compute != (0, 0):
        labels[f"{PREFIX}gpu.compute.major"] = str(info.compute[0])
        labels[f"{PREFIX}gpu.compute.minor"] = str(info.compute[1])
        labels[f"{PREFIX}gpu.family"] = info.family
    return labels


def host_labels(host: Host) -> dict[str, str]:
    """Every label the lab puts on a host's node: hostname, role, and the GPU labels of a GPU host."""
    labels = {
        "kubernetes.io/hostname": host.name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        f"node-role.kubernetes.io/{host.role}": "",
        "sitekit.io/role": host.role,
    }
    if host.gpu is not None:
        labels |= gfd_labels(host, host.gpu)
    return labels
