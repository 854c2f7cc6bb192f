"""The add-ons the site's own objects depend on: the ingress controller and the resource-metrics path.

- **IngressController**: ingress-nginx for the IngressClass the model Ingresses name, in the ingress
  namespace (Pod Security `restricted`: the chart's controller runs as a non-root user and adds only
  NET_BIND_SERVICE, which `restricted` allows). It is published as a NodePort Service on fixed ports,
  never a LoadBalancer unless the spec allows one; the hosts' firewall decides who reaches those ports.
  Its validating webhook stays on, so a malformed Ingress is refused at the API server.
- **MetricsServer**: the resource-metrics API (`metrics.k8s.io`) that the model autoscalers read, in
  its own `restricted` namespace. Its APIService is verified with a CA bundle the chart generates
  (`tls.type: helm`), never with `insecureSkipTLSVerify`, and it verifies the kubelets' serving
  certificates (no `--kubelet-insecure-tls`).

What the stack assumes and does not install is listed once, in `sitekit.plan.report.ASSUMPTIONS`, and
printed by `sitekit plan`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi

from components.charts import release
from sitekit.spec import Site

INGRESS_HTTP_NODE_PORT = 30080
INGRESS_HTTPS_NODE_PORT = 30443
INGRESS_WEBHOOK_PORT = 8443
METRICS_SERVER_PORT = 10250
KUBELET_PORT = 10250


def ingress_values(site: Site) -> dict[str, Any]:
    """ingress-nginx values: the spec's IngressClass, NodePort publishing, webhook on, images in-country."""
    public = site.network.allow_public_load_balancer
    return {
        "global": {"image": {"registry": site.residency.container_registry.host}},
        "controller": {
            "ingressClass": site.cluster.ingress_class,
            "ingressClassResource": {
                "name": site.cluster.ingress_class,
                "enabled": True,
                "default": False,
                "controllerValue": f"k8s.io/{site.cluster.ingress_class}",
            },
            "allowSnippetAnnotations": False,
            "service": {
                "type": "LoadBalancer" if public else "NodePort",
                **({} if public else {"nodePorts": {"http": INGRESS_HTTP_NODE_PORT, "https": INGRESS_HTTPS_NODE_PORT}}),
            },
            "admissionWebhooks": {"enabled": True, "port": INGRESS_WEBHOOK_PORT},
            "metrics": {"enabled": False},
        },
        "defaultBackend": {"enabled": False},
    }


def metrics_values(site: Site) -> dict[str, Any]:
    """metrics-server values: a verified APIService and verified kubelets, images in-country."""
    del site
    return {
        "containerPort": METRICS_SERVER_PORT,
        "tls": {"type": "helm"},
        "apiService": {"create": True, "insecureSkipTLSVerify": False},
        "defaultArgs": [
            "--cert-dir=/tmp",
            "--kubelet-preferred-address-types=InternalIP",
            "--kubelet-use-node-status-port",
            "--metric-resolution=15s",
        ],
    }


@dataclass(frozen=True)
class AddonsArgs:
    """The site, and the namespaces (already declared) the add-ons go into."""

    site: Site
    ingress_namespace: str
    metrics_namespace: str


class Addons(pulumi.ComponentResource):
    """The ingress controller and metrics-server releases.

    `ingress_controller` is True when this stack installs the controller that serves the site's
    IngressClass, so Ingresses will get an address to wait for (False in a lab without charts).
    """

    charts: list[str]
    ingress_controller: bool

    def __init__(self, name: str, args: AddonsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("sitekit:addons:Addons", name, None, opts)
        site = args.site
        ingress = release(
            f"{name}-ingress-nginx",
            site=site,
            chart="ingress-nginx",
            version=site.cluster.ingress_nginx_version,
            namespace=args.ingress_namespace,
            values=ingress_values(site),
            parent=self,
        )
        metrics = release(
            f"{name}-metrics-server",
            site=site,
            chart="metrics-server",
            version=site.cluster.metrics_server_version,
            namespace=args.metrics_namespace,
            values=metrics_values(site),
            parent=self,
        )
        self.charts = [r for r, made in (("ingress-nginx", ingress), ("metrics-server", metrics)) if made is not None]
        self.ingress_controller = ingress is not None
        self.register_outputs({"charts": self.charts, "ingress_controller": self.ingress_controller})
