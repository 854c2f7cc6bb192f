"""ModelServing: one model of the country's catalog, served by vLLM behind the in-country ingress.

Choices worth knowing:
- The model's weights are baked into the image, pinned by digest, so what runs is exactly what was
  reviewed. The model cache is therefore an `emptyDir` with a size limit, not a PVC: it only holds caches
  the server rebuilds on start (compiled kernels, CUDA graphs), replicas never share it, and no storage
  class is needed. `/dev/shm` is a memory-backed `emptyDir` because tensor parallelism needs shared memory.
- Probes hit vLLM's `/health`. Loading tens of GB of weights takes minutes, so the startup probe allows
  30 minutes before liveness takes over; readiness keeps a loading pod out of the Service.
- The pod runs under Pod Security `restricted` and with a read-only root; it gets no service-account
  token because it never talks to the API server.
- Requests equal limits for CPU, memory and GPUs (Guaranteed QoS): a model server should neither be
  throttled nor evicted first, and a missing CPU limit would be filled in by the namespace's LimitRange
  default (1 CPU), below the request, which the API server refuses.
- GPU nodes are chosen by the product label GPU feature discovery really sets (`NVIDIA-L40S`,
  `NVIDIA-L40S-SHARED` on time-sliced hosts), over every spelling the site's hosts of that model carry.
- The autoscaler (only when `max_replicas` is above `min_replicas`) scales on CPU per pod from
  metrics-server, the resource-metrics path the site deploys: vLLM's engine loop keeps about one core busy
  while it has work queued and idles otherwise. The Deployment then leaves `replicas` to the autoscaler,
  so `pulumi up` never fights it. A disruption budget exists only where it protects something: with two
  or more replicas at most one is evicted at a time; a one-replica model gets none (a budget would either
  protect nothing or block every node drain), so a drain restarts it elsewhere.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.labels import app_labels
from sitekit.policy.conventions import GPU_RESOURCE
from sitekit.policy.gpu_labels import PRODUCT_LABEL, product_values
from sitekit.spec import Model, Site

SERVICE_PORT = 80
CACHE_SIZE = "20Gi"
RUN_AS = 1000
STARTUP_BUDGET_SECONDS = 1800
CPU_PER_POD_TARGET = "800m"
"""Average CPU per serving pod above which the autoscaler adds a replica (about one busy engine loop)."""


@dataclass(frozen=True)
class ModelServingArgs:
    """One model, the namespace it runs in and the TLS Secret its Ingress presents.

    `ingress_controller` says whether a controller will publish the Ingress's address: without one
    (a lab without charts) pulumi must not wait for an address that never comes.
    """

    site: Site
    model: Model
    namespace: str
    tls_secret_name: str
    depends_on: tuple[pulumi.Resource, ...] = ()
    ingress_controller: bool = True


def model_host(site: Site, model: Model) -> str:
    """The public name of a model endpoint: `<model>.<ingress_domain>`."""
    return f"{model.name}.{site.network.ingress_domain}"


def locale_data(model: Model) -> dict[str, str]:
    """The locale ConfigMap: plain environment variables plus the same as one JSON document."""
    data = {
        "SITEKIT_LANGUAGES": ",".join(model.languages),
        "SITEKIT_SYSTEM_PROMPT_LANGUAGE": model.locale.system_prompt_language,
        "SITEKIT_DEFAULT_LOCALE": model.locale.default_locale,
        "locale.json": json.dumps(
            {
                "languages": list(model.languages),
                "system_prompt_language": model.locale.system_prompt_language,
                "default_locale": model.locale.default_locale,
                "settings": dict(sorted(model.locale.settings.items())),
            },
            sort_keys=True,
        ),
    }
    return dict(sorted(data.items()))


def _probe(path: str, period: int, failures: int, timeout: int = 5) -> dict[str, Any]:
    return {
        "http_get": {"path": path, "port": "http"},
        "period_seconds": period,
        "failure_threshold": failures,
        "timeout_seconds": timeout,
    }


def pod_spec(site: Site, model: Model, service_account: str, config_map: str) -> dict[str, Any]:
    """The serving pod: restricted security context, GPU requests equal to limits, probes on /health."""
    gpus = str(model.gpus_per_replica)
    memory = f"{24 * model.gpus_per_replica}Gi"
    cpu = str(4 * model.gpus_per_replica)
    spec: dict[str, Any] = {
        "service_account_name": service_account,
        "automount_service_account_token": False,
        "enable_service_links": False,
        "security_context": {
            "run_as_non_root": True,
            "run_as_user": RUN_AS,
            "run_as_group": RUN_AS,
            "fs_group": RUN_AS,
            "seccomp_profile": {"type": "RuntimeDefault"},
        },
        "tolerations": [{"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"}],
        "termination_grace_period_seconds": 60,
        "containers": [
            {
                "name": "vllm",
                "image": model.image,
                "args": [
                    "--served-model-name",
                    model.name,
                    "--port",
                    str(model.port),
                    "--max-model-len",
                    str(model.max_model_len),
                    "--tensor-parallel-size",
                    gpus,
                    "--download-dir",
                    "/cache",
                ],
                "ports": [{"name": "http", "container_port": model.port, "protocol": "TCP"}],
                "env": [
                    {"name": "HOME", "value": "/cache"},
                    {"name": "HF_HOME", "value": "/cache/hf"},
                    {"name": "HF_HUB_OFFLINE", "value": "1"},
                    {"name": "TRANSFORMERS_OFFLINE", "value": "1"},
                    {"name": "VLLM_NO_USAGE_STATS", "value": "1"},
                    {"name": "DO_NOT_TRACK", "value": "1"},
                ],
                "env_from": [{"config_map_ref": {"name": config_map}}],
                "resources": {
                    "requests": {"cpu": cpu, "memory": memory, GPU_RESOURCE: gpus},
                    "limits": {"cpu": cpu, "memory": memory, GPU_RESOURCE: gpus},
                },
                "startup_probe": _probe("/health", 10, STARTUP_BUDGET_SECONDS // 10),
                "readiness_probe": _probe("/health", 10, 3),
                "liveness_probe": _probe("/health", 20, 3),
                "security_context": {
                    "allow_privilege_escalation": False,
                    "read_only_root_filesystem": True,
                    "run_as_non_root": True,
                    "capabilities": {"drop": ["ALL"]},
                },
                "volume_mounts": [
                    {"name": "cache", "mount_path": "/cache"},
                    {"name": "tmp", "mount_path": "/tmp"},
                    {"name": "shm", "mount_path": "/dev/shm"},
                    {"name": "locale", "mount_path": "/etc/sitekit/locale", "read_only": True},
                ],
            }
        ],
        "volumes": [
            {"name": "cache", "empty_dir": {"size_limit": CACHE_SIZE}},
            {"name": "tmp", "empty_dir": {"size_limit": "1Gi"}},
            {"name": "shm", "empty_dir": {"medium": "Memory", "size_limit": f"{2 * model.gpus_per_replica}Gi"}},
            {"name": "locale", "config_map": {"name": config_map}},
        ],
    }
    if model.gpu_model:
        spec["affinity"] = {
            "node_affinity": {
                "required_during_scheduling_ignored_during_execution": {
                    "node_selector_terms": [
                        {
                            "match_expressions": [
                                {
                                    "key": PRODUCT_LABEL,
                                    "operator": "In",
                                    "values": list(product_values(site, model.gpu_model)),
                                }
                            ]
                        }
                    ]
                }
            }
        }
    return spec


def autoscaled(model: Model) -> bool:
    """Whether the model gets an autoscaler (it has room to scale)."""
    return model.max_replicas > model.min_replicas


def disruption_budget(model: Model) -> dict[str, Any] | None:
    """The PodDisruptionBudget spec, or None where one would protect nothing (a single replica)."""
    if model.min_replicas < 2:
        return None
    return {"max_unavailable": 1}


class ModelServing(pulumi.ComponentResource):
    """Deployment, locale ConfigMap, ServiceAccount, Service, autoscaler, disruption budget and Ingress."""

    service_endpoint: str
    host: str

    def __init__(self, name: str, args: ModelServingArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("sitekit:serving:ModelServing", name, None, opts)
        site, model, ns = args.site, args.model, args.namespace
        labels = app_labels(model.name, "inference")
        selector = {"app.kubernetes.io/name": model.name}
        child = pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on))
        self.host = model_host(site, model)
        self.service_endpoint = f"http://{model.name}.{ns}.svc.{site.cluster.cluster_domain}:{SERVICE_PORT}"

        def meta(obj_name: str = model.name) -> dict[str, Any]:
            return {"name": obj_name, "namespace": ns, "labels": labels}

        account = k8s.core.v1.ServiceAccount(
            f"{name}-sa", metadata=meta(), automount_service_account_token=False, opts=child
        )
        locale = k8s.core.v1.ConfigMap(
            f"{name}-locale", metadata=meta(f"{model.name}-locale"), data=locale_data(model), opts=child
        )
        deployment = k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata=meta(),
            spec={
                **({} if autoscaled(model) else {"replicas": model.min_replicas}),
                "selector": {"match_labels": selector},
                "strategy": {"type": "RollingUpdate", "rolling_update": {"max_surge": 0, "max_unavailable": 1}},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": pod_spec(site, model, model.name, f"{model.name}-locale"),
                },
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*args.depends_on, account, locale]),
        )
        service = k8s.core.v1.Service(
            f"{name}-service",
            metadata=meta(),
            spec={
                "type": "ClusterIP",
                "selector": selector,
                "ports": [{"name": "http", "port": SERVICE_PORT, "target_port": "http", "protocol": "TCP"}],
            },
            opts=child,
        )
        if autoscaled(model):
            k8s.autoscaling.v2.HorizontalPodAutoscaler(
                f"{name}-hpa",
                metadata=meta(),
                spec={
                    "scale_target_ref": {"api_version": "apps/v1", "kind": "Deployment", "name": model.name},
                    "min_replicas": model.min_replicas,
                    "max_replicas": model.max_replicas,
                    "metrics": [
                        {
                            "type": "Resource",
                            "resource": {
                                "name": "cpu",
                                "target": {"type": "AverageValue", "average_value": CPU_PER_POD_TARGET},
                            },
                        }
                    ],
                    "behavior": {"scale_down": {"stabilization_window_seconds": 600}},
                },
                opts=pulumi.ResourceOptions(parent=self, depends_on=[deployment]),
            )
        budget = disruption_budget(model)
        if budget is not None:
            k8s.policy.v1.PodDisruptionBudget(
                f"{name}-pdb",
                metadata=meta(),
                spec={**budget, "selector": {"match_labels": selector}},
                opts=child,
            )
        annotations = {
            "nginx.ingress.kubernetes.io/proxy-read-timeout": "600",
            "nginx.ingress.kubernetes.io/proxy-body-size": "16m",
        }
        if not args.ingress_controller:
            # Nothing will ever publish the Ingress's address; pulumi would wait for it and fail.
            # With a controller (every real site) it waits, as it should.
            annotations["pulumi.com/skipAwait"] = "true"
        k8s.networking.v1.Ingress(
            f"{name}-ingress",
            metadata={**meta(), "annotations": annotations},
            spec={
                "ingress_class_name": site.cluster.ingress_class,
                "tls": [{"hosts": [self.host], "secret_name": args.tls_secret_name}],
                "rules": [
                    {
                        "host": self.host,
                        "http": {
                            "paths": [
                                {
                                    "path": "/",
                                    "path_type": "Prefix",
                                    "backend": {"service": {"name": model.name, "port": {"name": "http"}}},
                                }
                            ]
                        },
                    }
                ],
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[service]),
        )
        self.register_outputs({"host": self.host, "service_endpoint": self.service_endpoint})
