"""The Pulumi program: one country's inference cluster, built from the rendered stack configuration.

`pulumi up -s <cc>` runs this with `Pulumi.<cc>.yaml`; `sitekit plan <cc>` runs it under recording mocks.
Nothing is declared until the configuration has been validated and its digest checked.
"""

from __future__ import annotations

import os

import pulumi

from components.cluster_provider import cluster_provider
from components.ownership import owned_by_the_stack
from components.site import SovereignSite, SovereignSiteArgs
from components.stack_config import StackConfigError, read_site, under_mocks


def main() -> None:
    """Validate the config, build the site through the country's own provider, export what operators need."""
    os.environ["SITEKIT_NO_PROMPT"] = "1"  # the engine gives no terminal: a missing PIN must fail, not hang
    site, offline_plan = read_site()
    provider = cluster_provider(site, pulumi.Config("sitekit"), offline_plan)
    built = SovereignSite(
        f"site-{site.cc}",
        SovereignSiteArgs(site=site, offline_plan=offline_plan),
        opts=pulumi.ResourceOptions(providers={"kubernetes": provider}, transformations=[owned_by_the_stack]),
    )
    pulumi.export("namespaces", built.namespaces)
    pulumi.export("service_endpoints", built.service_endpoints)
    pulumi.export("ingress_hosts", built.ingress_hosts)
    pulumi.export("tenant_gpu_quota", built.tenant_gpu_quota)
    pulumi.export("gpu_node_labels", built.gpu_node_labels)
    pulumi.export("charts_not_installed", built.charts_not_installed)


try:
    main()
except StackConfigError as exc:
    if under_mocks():
        raise  # under mocks (sitekit plan, tests) the caller reports it
    raise pulumi.RunError(str(exc)) from None  # the engine shows the message, not a traceback
