"""Helm releases of the site's add-ons, from the country's chart repository at pinned versions.

Every release goes through one function so that each is held to the same rules: the chart comes from the
in-country repository at the version the spec pins, and every image-bearing value the pinned chart has
(`sitekit/charts.yaml`) points at the in-country registry.

`sitekit:labSkipCharts` exists for the lab, which has no chart repository: the releases are then not
declared at all, the program says so with a warning and in the `charts_not_installed` output, and
`sitekit render --check` reports the key as a hand edit on any real stack file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from sitekit.charts import mirror_values
from sitekit.spec import Site


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """`override` on top of `base`, maps merged key by key (lists and scalars replaced), as Helm merges values."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def mirrored(site: Site, chart: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """The release's values over the catalogue's in-country image overrides for the chart."""
    return deep_merge(mirror_values(chart, site.residency.container_registry.host), values)


def charts_skipped() -> bool:
    """True when the stack runs in the lab without a chart repository (`sitekit:labSkipCharts`)."""
    return bool(pulumi.Config("sitekit").get_bool("labSkipCharts"))


def release(
    name: str,
    *,
    site: Site,
    chart: str,
    version: str,
    namespace: str,
    values: Mapping[str, Any],
    parent: pulumi.Resource,
    depends_on: Sequence[pulumi.Resource] = (),
) -> k8s.helm.v3.Release | None:
    """A Helm release of `chart` at `version` into `namespace` (None when the lab skips charts)."""
    if charts_skipped():
        pulumi.log.warn(f"sitekit:labSkipCharts: chart {chart} {version} is not installed (no chart repository)")
        return None
    return k8s.helm.v3.Release(
        name,
        name=chart,
        chart=chart,
        version=version,
        repository_opts={"repo": site.residency.chart_repository.url},
        namespace=namespace,
        values=mirrored(site, chart, values),
        create_namespace=False,
        atomic=True,
        cleanup_on_fail=True,
        opts=pulumi.ResourceOptions(parent=parent, depends_on=list(depends_on)),
    )
