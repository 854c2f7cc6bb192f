"""SovereignSite: one country's inference cluster, assembled from the other components.

Ordering is by explicit dependencies: namespaces first, then their isolation and content. The outputs
are what operators and other tools need: namespaces, service endpoints, ingress hosts, GPU quotas and the
node labels the host playbooks must set for GPU sharing.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.addons import INGRESS_WEBHOOK_PORT, KUBELET_PORT, METRICS_SERVER_PORT, Addons, AddonsArgs
from components.baseline import Baseline, BaselineArgs, NamespaceSpec
from components.gpu_operator import GpuOperator, GpuOperatorArgs, node_labels
from components.ingress_tls import IngressTls, IngressTlsArgs
from components.labels import NamespaceRole
from components.model_serving import ModelServing, ModelServingArgs, model_host
from components.network_isolation import (
    Destination,
    NetworkIsolation,
    NetworkIsolationArgs,
    control_plane_sources,
    workload_destinations,
)
from components.tenant import TenantArgs, TenantSpace
from sitekit.policy.conventions import (
    GPU_OPERATOR_NAMESPACE,
    INGRESS_NAMESPACE,
    METRICS_NAMESPACE,
    SERVING_NAMESPACE,
)
from sitekit.spec import Site

GPU_OPERATOR_EXEMPTION = (
    "NVIDIA GPU operator: its driver, container-toolkit and device-plugin pods load kernel modules and "
    "manage device nodes on the host, which needs privileged pods; no other namespace is exempt."
)


@dataclass(frozen=True)
class SovereignSiteArgs:
    """The validated site; `offline_plan` lets TLS fall back to placeholders (never set by `pulumi up`)."""

    site: Site
    offline_plan: bool = False


class SovereignSite(pulumi.ComponentResource):
    """Every component of one country's cluster."""

    namespaces: list[str]
    service_endpoints: dict[str, str]
    ingress_hosts: dict[str, str]
    tenant_gpu_quota: dict[str, int]
    gpu_node_labels: dict[str, dict[str, str]]
    charts_not_installed: list[str]

    def __init__(self, name: str, args: SovereignSiteArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("sitekit:site:SovereignSite", name, None, opts)
        site = args.site
        version = site.cluster.kubernetes_version
        serving_ports = tuple(sorted({m.port for m in site.models}))
        child = pulumi.ResourceOptions(parent=self)
        baseline = Baseline(
            f"{name}-baseline",
            BaselineArgs(
                namespaces=(
                    NamespaceSpec(GPU_OPERATOR_NAMESPACE, "system", GPU_OPERATOR_EXEMPTION, default_limits=False),
                    NamespaceSpec(INGRESS_NAMESPACE, "ingress"),
                    NamespaceSpec(SERVING_NAMESPACE, "serving"),
                    NamespaceSpec(METRICS_NAMESPACE, "system"),
                ),
                kubernetes_version=version,
            ),
            opts=child,
        )
        ns = baseline.namespaces
        kubelets = (Destination("kubelets", site.network.node_cidr, (KUBELET_PORT,)),)
        system_namespaces: tuple[
            tuple[str, NamespaceRole, tuple[Destination, ...], bool, tuple[Destination, ...]], ...
        ] = (
            (GPU_OPERATOR_NAMESPACE, "system", (), True, ()),  # the operator watches the API server
            # so does the ingress controller; the API server calls its validating webhook
            (INGRESS_NAMESPACE, "ingress", (), True, control_plane_sources(site, (INGRESS_WEBHOOK_PORT,))),
            (SERVING_NAMESPACE, "serving", workload_destinations(site), False, ()),
            # metrics-server scrapes the kubelets; the API server calls it as the metrics.k8s.io API
            (METRICS_NAMESPACE, "system", kubelets, True, control_plane_sources(site, (METRICS_SERVER_PORT,))),
        )
        for ns_name, role, destinations, api, sources in system_namespaces:
            NetworkIsolation(
                f"{name}-network-{ns_name}",
                NetworkIsolationArgs(
                    namespace=ns_name,
                    role=role,
                    site=site,
                    serving_ports=serving_ports,
                    destinations=destinations,
                    needs_api_server=api,
                    ingress_from=sources,
                    depends_on=(ns[ns_name],),
                ),
                opts=child,
            )
        addons = Addons(
            f"{name}-addons",
            AddonsArgs(site=site, ingress_namespace=INGRESS_NAMESPACE, metrics_namespace=METRICS_NAMESPACE),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[ns[INGRESS_NAMESPACE], ns[METRICS_NAMESPACE]]),
        )
        operator = GpuOperator(
            f"{name}-gpu-operator",
            GpuOperatorArgs(site=site, namespace=GPU_OPERATOR_NAMESPACE, depends_on=(ns[GPU_OPERATOR_NAMESPACE],)),
            opts=child,
        )
        self.service_endpoints = {}
        self.ingress_hosts = {}
        if site.models:
            hosts = tuple(model_host(site, m) for m in site.models)
            tls = IngressTls(
                f"{name}-ingress-tls",
                IngressTlsArgs(
                    site=site,
                    namespace=SERVING_NAMESPACE,
                    hosts=hosts,
                    allow_placeholder=args.offline_plan,
                    depends_on=(ns[SERVING_NAMESPACE],),
                ),
                opts=child,
            )
            for model in site.models:
                serving = ModelServing(
                    f"{name}-model-{model.name}",
                    ModelServingArgs(
                        site=site,
                        model=model,
                        namespace=SERVING_NAMESPACE,
                        tls_secret_name=tls.secret_name,
                        depends_on=(ns[SERVING_NAMESPACE],),
                        ingress_controller=addons.ingress_controller,
                    ),
                    opts=child,
                )
                self.service_endpoints[model.name] = serving.service_endpoint
                self.ingress_hosts[model.name] = serving.host
        tenant_namespaces = []
        self.tenant_gpu_quota = {}
        for tenant in site.tenants:
            space = TenantSpace(f"{name}-tenant-{tenant.name}", TenantArgs(site=site, tenant=tenant), opts=child)
            tenant_namespaces.append(space.namespace)
            self.tenant_gpu_quota[tenant.name] = tenant.gpu_quota
        self.namespaces = sorted([*ns, *tenant_namespaces])
        self.gpu_node_labels = node_labels(site)
        installed = [*addons.charts, *(["gpu-operator"] if operator.release is not None else [])]
        self.charts_not_installed = sorted({"gpu-operator", "ingress-nginx", "metrics-server"} - set(installed))
        self.register_outputs(
            {
                "namespaces": self.namespaces,
                "service_endpoints": self.service_endpoints,
                "ingress_hosts": self.ingress_hosts,
                "tenant_gpu_quota": self.tenant_gpu_quota,
                "gpu_node_labels": self.gpu_node_labels,
                "charts_not_installed": self.charts_not_installed,
            }
        )
