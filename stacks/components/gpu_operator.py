"""GpuOperator: NVIDIA's GPU operator from the country's own chart repository, at the pinned version.

The chart installs the driver, container toolkit, device plugin, DCGM exporter and validator as DaemonSets.
Every image it pulls is pointed at the in-country registry, so a node never reaches a foreign registry.
GPU sharing is device-plugin configuration: time-slicing through a ConfigMap with one entry per replica
count, MIG through the MIG manager; hosts pick theirs by node label (exported for the host playbooks).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import yaml

from components.charts import release
from sitekit.policy.conventions import GPU_RESOURCE
from sitekit.spec import Host, Site

DEVICE_PLUGIN_CONFIG = "device-plugin-config"
DEVICE_PLUGIN_LABEL = "nvidia.com/device-plugin.config"
MIG_LABEL = "nvidia.com/mig.config"


@dataclass(frozen=True)
class GpuOperatorArgs:
    """The site (chart source, version, hosts) and the namespace the Baseline declared for the operator."""

    site: Site
    namespace: str
    depends_on: tuple[pulumi.Resource, ...] = ()


def device_plugin_key(host: Host) -> str:
    """The device-plugin config entry a host uses: `default`, or `time-slicing-<n>`."""
    if host.gpu and host.gpu.sharing and host.gpu.sharing.time_slicing:
        return f"time-slicing-{host.gpu.sharing.time_slicing.replicas}"
    return "default"


def mig_profile(host: Host) -> str:
    """The MIG manager profile a host uses (`all-disabled` unless the spec sets one)."""
    if host.gpu and host.gpu.sharing and host.gpu.sharing.mig:
        return host.gpu.sharing.mig.profile
    return "all-disabled"


def node_labels(site: Site) -> dict[str, dict[str, str]]:
    """Node labels each GPU host needs so the operator applies its sharing scheme (set by the host role)."""
    return {
        h.name: {DEVICE_PLUGIN_LABEL: device_plugin_key(h), MIG_LABEL: mig_profile(h)}
        for h in site.hosts_by_role("gpu-worker")
    }


def device_plugin_configs(site: Site) -> dict[str, str]:
    """The device plugin's config file per entry: `default` plus one per time-slicing replica count."""
    configs = {"default": yaml.safe_dump({"version": "v1", "flags": {"migStrategy": _mig_strategy(site)}})}
    for host in site.hosts_by_role("gpu-worker"):
        key = device_plugin_key(host)
        if key != "default" and host.gpu and host.gpu.sharing and host.gpu.sharing.time_slicing:
            configs[key] = yaml.safe_dump(
                {
                    "version": "v1",
                    "flags": {"migStrategy": "none"},
                    "sharing": {
                        "timeSlicing": {
                            "resources": [{"name": GPU_RESOURCE, "replicas": host.gpu.sharing.time_slicing.replicas}]
                        }
                    },
                },
                sort_keys=True,
            )
    return dict(sorted(configs.items()))


def _mig_strategy(site: Site) -> str:
    uses_mig = any(mig_profile(h) != "all-disabled" for h in site.hosts_by_role("gpu-worker"))
    return "single" if uses_mig else "none"


def chart_values(site: Site) -> dict[str, Any]:
    """Helm values: sharing from the spec, safe driver upgrades; `release` adds every other image override."""
    registry = site.residency.container_registry.host
    nvidia = f"{registry}/nvidia"
    k8s_images = f"{registry}/nvidia/k8s"
    uses_mig = _mig_strategy(site) == "single"
    return {
        "operator": {"repository": nvidia, "defaultRuntime": "containerd"},
        "driver": {
            "enabled": True,
            "repository": nvidia,
            "upgradePolicy": {
                "autoUpgrade": True,
                "maxParallelUpgrades": 1,
                "maxUnavailable": "25%",
                "drain": {"enable": True, "force": False, "timeoutSeconds": 1800, "deleteEmptyDir": True},
            },
        },
        "toolkit": {"enabled": True, "repository": k8s_images},
        "devicePlugin": {
            "enabled": True,
            "repository": nvidia,
            "config": {"name": DEVICE_PLUGIN_CONFIG, "default": "default"},
        },
        "dcgmExporter": {"enabled": True, "repository": k8s_images},
        "gfd": {"enabled": True, "repository": nvidia},
        "validator": {"repository": f"{registry}/nvidia/cloud-native"},
        "mig": {"strategy": "single" if uses_mig else "none"},
        "migManager": {"enabled": uses_mig, "repository": k8s_images},
        "nfd": {"enabled": True},
        "node-feature-discovery": {"image": {"repository": f"{registry}/nfd/node-feature-discovery"}},
        # Kata is not used; its runtime classes name artifact images abroad, and Helm replaces lists whole.
        "kataManager": {"enabled": False, "config": {"runtimeClasses": []}},
    }


class GpuOperator(pulumi.ComponentResource):
    """The operator's Helm release and its device-plugin configuration."""

    release: k8s.helm.v3.Release | None

    def __init__(self, name: str, args: GpuOperatorArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("sitekit:gpu:GpuOperator", name, None, opts)
        site = args.site
        child = pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on))
        config = k8s.core.v1.ConfigMap(
            f"{name}-device-plugin-config",
            metadata={"name": DEVICE_PLUGIN_CONFIG, "namespace": args.namespace},
            data=device_plugin_configs(site),
            opts=child,
        )
        self.release = release(
            f"{name}-release",
            site=site,
            chart="gpu-operator",
            version=site.cluster.gpu_operator_version,
            namespace=args.namespace,
            values=chart_values(site),
            parent=self,
            depends_on=[*args.depends_on, config],
        )
        self.register_outputs({"node_labels": node_labels(site)})
