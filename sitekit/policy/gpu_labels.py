"""The node labels NVIDIA GPU feature discovery (GFD) sets, derived from a host's spec.

Workloads select GPU nodes by these labels, so the stack must spell them as GFD does, not as the spec
names the GPU: GFD writes `nvidia.com/gpu.product` as the driver reports the product with spaces turned
into dashes (`NVIDIA-L40S`, `NVIDIA-H100-80GB-HBM3`), appends `-SHARED` when time-slicing or MPS shares the
GPU (unless the device plugin renames the shared resource), and `-MIG-<profile>` under the `single` MIG
strategy. The spec's `gpu.model` is that product name without the `NVIDIA-` prefix
(https://github.com/NVIDIA/k8s-device-plugin#shared-access-to-gpus and GFD's label reference).
"""

from __future__ import annotations

import re

from sitekit.spec import Host, Site

PRODUCT_LABEL = "nvidia.com/gpu.product"
PRESENT_LABEL = "nvidia.com/gpu.present"
COUNT_LABEL = "nvidia.com/gpu.count"
REPLICAS_LABEL = "nvidia.com/gpu.replicas"
SHARING_LABEL = "nvidia.com/gpu.sharing-strategy"
VENDOR_PREFIX = "NVIDIA-"
_MIG_SINGLE = re.compile(r"^all-(\d+g\.\d+gb)$")


def gfd_product(host: Host) -> str:
    """The value GFD gives `nvidia.com/gpu.product` on this host (empty for a host without GPUs)."""
    gpu = host.gpu
    if gpu is None:
        return ""
    product = f"{VENDOR_PREFIX}{gpu.model}"
    sharing = gpu.sharing
    if sharing and sharing.time_slicing:
        return f"{product}-SHARED"
    if sharing and sharing.mig:
        match = _MIG_SINGLE.match(sharing.mig.profile)
        if match:
            return f"{product}-MIG-{match.group(1)}"
    return product


def gfd_labels(host: Host) -> dict[str, str]:
    """The GPU labels GFD and the device plugin put on the host's node (none for a host without GPUs)."""
    gpu = host.gpu
    if gpu is None:
        return {}
    sharing = gpu.sharing
    replicas = sharing.time_slicing.replicas if sharing and sharing.time_slicing else 1
    return {
        PRESENT_LABEL: "true",
        PRODUCT_LABEL: gfd_product(host),
        COUNT_LABEL: str(gpu.count),
        REPLICAS_LABEL: str(replicas),
        SHARING_LABEL: "time-slicing" if replicas > 1 else "none",
    }


def product_values(site: Site, gpu_model: str) -> tuple[str, ...]:
    """Every `nvidia.com/gpu.product` value that the site's hosts with this GPU model carry, sorted."""
    return tuple(
        sorted({gfd_product(h) for h in site.hosts_by_role("gpu-worker") if h.gpu and h.gpu.model == gpu_model})
    )
