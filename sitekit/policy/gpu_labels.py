"""The node labels NVIDIA GPU feature discovery (GFD) sets, derived from a host's spec.

Workloads select GPU nodes by these labels, so the stack must spell them as GFD does, not as the spec
names the GPU: GFD writes `nvidia.com/gpu.product` as the driver reports the product with spaces turned
into dashes (`NVIDIA-L40S`, `NVIDIA-H100-80GB-HBM3`), appends `-SHARED` when time-slicing or MPS shares the
GPU (unless the device plugin renames the shared resource), and `-MIG-<profile>` under the `single` MIG
strategy. The spec's `gpu.model` is that product name without the `NVIDIA-` prefix
(https://github.com/NVIDIA/k8s-device-plugin#shared-access-to-gpus and GFD's label reference). This is the
one place that spelling is decided: the stack selects nodes by it and the lab's simulated nodes
(`sitekit.cluster.gpu_labels`) carry it.
"""

from __future__ import annotations

import re

from sitekit.spec import Host, Site
from sitekit.spec.models import Gpu

PRODUCT_LABEL = "nvidia.com/gpu.product"
VENDOR_PREFIX = "NVIDIA-"
_MIG_SINGLE = re.compile(r"^all-(\d+g\.\d+gb)$")


def gpu_product(gpu: Gpu) -> str:
    """The value GFD gives `nvidia.com/gpu.product` on a host with these GPUs."""
    product = f"{VENDOR_PREFIX}{gpu.model}"
    sharing = gpu.sharing
    if sharing and sharing.time_slicing:
        return f"{product}-SHARED"
    if sharing and sharing.mig:
        match = _MIG_SINGLE.match(sharing.mig.profile)
        if match:
            return f"{product}-MIG-{match.group(1)}"
    return product


def gfd_product(host: Host) -> str:
    """The product label of a host's node (empty for a host without GPUs)."""
    return gpu_product(host.gpu) if host.gpu else ""


def product_values(site: Site, gpu_model: str) -> tuple[str, ...]:
    """Every `nvidia.com/gpu.product` value that the site's hosts with this GPU model carry, sorted."""
    return tuple(
        sorted({gfd_product(h) for h in site.hosts_by_role("gpu-worker") if h.gpu and h.gpu.model == gpu_model})
    )
