"""The add-ons the site depends on (ingress controller, metrics path, GPU operator), held to the same rules."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sitekit.plan.program import Recording
from sitekit.policy.model import Resource
from sitekit.policy.supply_chain import check_charts
from sitekit.spec import Fleet

Declare = Callable[..., Recording]
RELEASE = "kubernetes:helm.sh/v3:Release"


def releases(rec: Recording) -> dict[str, dict[str, Any]]:
    return {str(r.props["chart"]): r.props for r in rec.resources if r.type == RELEASE}


def test_ingress_controller_serves_the_class_the_ingresses_name(declare: Declare, fleet: Fleet) -> None:
    from components.addons import Addons, AddonsArgs

    site = fleet.site("ee")
    rec = declare(lambda: Addons("a", AddonsArgs(site, "sitekit-ingress", "sitekit-metrics")))
    ingress = releases(rec)["ingress-nginx"]
    assert ingress["namespace"] == "sitekit-ingress"
    assert ingress["version"] == site.cluster.ingress_nginx_version
    assert ingress["repositoryOpts"]["repo"] == site.residency.chart_repository.url
    controller = ingress["values"]["controller"]
    assert controller["ingressClassResource"]["name"] == site.cluster.ingress_class == "nginx"
    assert controller["service"]["type"] == "NodePort", "no LoadBalancer unless the spec allows one"
    assert controller["admissionWebhooks"]["enabled"] is True
    assert controller["allowSnippetAnnotations"] is False
    assert ingress["values"]["global"]["image"]["registry"] == site.residency.container_registry.host


def test_metrics_server_apiservice_and_kubelets_are_verified(declare: Declare, fleet: Fleet) -> None:
    from components.addons import Addons, AddonsArgs

    site = fleet.site("ee")
    rec = declare(lambda: Addons("a", AddonsArgs(site, "sitekit-ingress", "sitekit-metrics")))
    metrics = releases(rec)["metrics-server"]
    assert metrics["namespace"] == "sitekit-metrics"
    assert metrics["values"]["apiService"]["insecureSkipTLSVerify"] is False
    assert metrics["values"]["tls"] == {"type": "helm"}
    assert not any("insecure" in a for a in metrics["values"]["defaultArgs"])


def test_every_release_passes_the_chart_image_catalogue(declare: Declare, fleet: Fleet) -> None:
    from components.addons import Addons, AddonsArgs
    from components.gpu_operator import GpuOperator, GpuOperatorArgs

    for cc in ("ee", "ke", "cl"):
        site = fleet.site(cc)
        rec = declare(
            lambda site=site: (
                Addons("a", AddonsArgs(site, "sitekit-ingress", "sitekit-metrics")),
                GpuOperator("g", GpuOperatorArgs(site=site, namespace="gpu-operator")),
            ),
            stack=cc,
        )
        found = releases(rec)
        assert set(found) == {"gpu-operator", "ingress-nginx", "metrics-server"}
        for chart, props in found.items():
            problems = list(check_charts(site, Resource(RELEASE, chart, f"urn:{chart}", props)))
            assert problems == [], (cc, chart, problems)


def test_gpu_operator_without_the_driver_manager_override_fails_the_policy(declare: Declare, fleet: Fleet) -> None:
    from components.gpu_operator import GpuOperator, GpuOperatorArgs

    site = fleet.site("ee")
    rec = declare(lambda: GpuOperator("g", GpuOperatorArgs(site=site, namespace="gpu-operator")))
    props = releases(rec)["gpu-operator"]
    del props["values"]["driver"]["manager"]  # as the values were before every image path was catalogued
    problems = list(check_charts(site, Resource(RELEASE, "g", "urn:g", props)))
    assert any("driver.manager" in p for p in problems), problems


def test_a_chart_version_without_a_catalogued_image_list_fails(declare: Declare, fleet: Fleet) -> None:
    from components.gpu_operator import GpuOperator, GpuOperatorArgs

    site = fleet.site("ee")
    rec = declare(lambda: GpuOperator("g", GpuOperatorArgs(site=site, namespace="gpu-operator")))
    props = dict(releases(rec)["gpu-operator"], version="v25.3.0")
    problems = list(check_charts(site, Resource(RELEASE, "g", "urn:g", props)))
    assert problems == [
        "chart 'gpu-operator' version 'v25.3.0' is not the version sitekit/charts.yaml lists its images for (v24.9.2)"
    ]


def test_lab_without_a_chart_repository_declares_no_release_and_says_so(fleet: Fleet, stacks_dir: Any) -> None:
    from sitekit.plan.program import run_program, stack_config

    config = stack_config(fleet.site("ee"))
    config["sitekit:labSkipCharts"] = "true"
    rec = run_program(stacks_dir, "ee", config)
    assert not [r for r in rec.resources if r.type == RELEASE]
    assert rec.outputs["charts_not_installed"] == ["gpu-operator", "ingress-nginx", "metrics-server"]
    assert any("labSkipCharts" in w for w in rec.warnings), rec.warnings


def test_ingresses_wait_for_an_address_only_where_a_controller_will_publish_one(
    fleet: Fleet, stacks_dir: Any
) -> None:
    """With the ingress controller installed pulumi waits for each Ingress's address; without it, it cannot."""
    from sitekit.plan.program import run_program, stack_config

    ingress = "kubernetes:networking.k8s.io/v1:Ingress"
    config = stack_config(fleet.site("ee"))
    real = [r for r in run_program(stacks_dir, "ee", dict(config)).resources if r.type == ingress]
    assert real and all("pulumi.com/skipAwait" not in r.props["metadata"].get("annotations", {}) for r in real)
    config["sitekit:labSkipCharts"] = "true"
    lab = [r for r in run_program(stacks_dir, "ee", config).resources if r.type == ingress]
    assert len(lab) == len(real)
    assert all(r.props["metadata"]["annotations"]["pulumi.com/skipAwait"] == "true" for r in lab)
