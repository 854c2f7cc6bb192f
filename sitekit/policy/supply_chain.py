"""Images and charts only from the country's own mirrors, pinned.

An image by tag can change under the same name, and a chart from a foreign repository is code the country
did not review; both break the promise that the site runs only what its mirrors hold.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

from sitekit.policy.model import Resource
from sitekit.policy.workloads import containers, pod_spec
from sitekit.spec import Site

IMAGES_POLICY = "sitekit-images-from-mirror"
CHARTS_POLICY = "sitekit-charts-from-mirror"

_DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
_PINNED = re.compile(r"^v?\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?$")
_IMAGE_KEYS = frozenset({"repository", "registry", "image"})
_CHART_TYPES = frozenset(
    {"kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v4:Chart", "kubernetes:helm.sh/v3:Chart"}
)


def image_registry(image: str) -> str:
    """The registry part of an image reference (Docker Hub when the first part is not a host)."""
    first, _, rest = image.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return first
    return "docker.io"


def registry_names(site: Site) -> set[str]:
    """How the in-country registry may be written in an image: host, or host:port as in its URL."""
    endpoint = site.residency.container_registry
    return {endpoint.host, urlsplit(endpoint.url).netloc}


def check_images(site: Site, resource: Resource) -> Iterator[str]:
    """Every container image comes from the in-country registry and is pinned by digest."""
    spec = pod_spec(resource)
    if spec is None:
        return
    allowed = registry_names(site)
    for where, container in containers(spec):
        image = str(container.get("image") or "")
        if image_registry(image) not in allowed:
            yield (
                f"{where}: image {image!r} is not from the in-country registry {site.residency.container_registry.host}"
            )
        elif not _DIGEST.search(image):
            yield f"{where}: image {image!r} is not pinned by digest (@sha256:…)"


def _value_images(values: Any, path: str = "values") -> Iterator[tuple[str, str]]:
    if isinstance(values, Mapping):
        for key, value in values.items():
            if key in _IMAGE_KEYS and isinstance(value, str) and value:
                yield f"{path}.{key}", value
            else:
                yield from _value_images(value, f"{path}.{key}")
    elif isinstance(values, list):
        for i, value in enumerate(values):
            yield from _value_images(value, f"{path}[{i}]")


def _catalogued_images(site: Site, chart: str, version: str, values: Mapping[str, Any]) -> Iterator[str]:
    """Every image the pinned chart can pull is overridden to the in-country registry (sitekit/charts.yaml).

    Values the release leaves out fall back to the chart's defaults, which name registries abroad; only the
    catalogue of the chart's image-bearing values can tell which are missing. A chart or version the
    catalogue does not pin cannot be judged, so it fails too.
    """
    from sitekit.charts import catalogue, check_images, same_version

    pins = catalogue()
    pin = pins.get(chart)
    if pin is None:
        yield f"chart {chart!r} is not in sitekit/charts.yaml: its image-bearing values are unknown"
        return
    if not same_version(pin.version, version):
        yield (
            f"chart {chart!r} version {version!r} is not the version sitekit/charts.yaml lists its images for "
            f"({pin.version})"
        )
        return
    for problem in check_images(values, chart, site.residency.container_registry.host, pins):
        yield f"chart {chart!r}: {problem}"


def check_charts(site: Site, resource: Resource) -> Iterator[str]:
    """Charts come from the in-country chart repository at a pinned version; their images from the mirror."""
    if resource.type not in _CHART_TYPES:
        return
    props = resource.props
    repo_url = site.residency.chart_repository.url.rstrip("/")
    repo = str((props.get("repositoryOpts") or {}).get("repo") or "")
    chart = str(props.get("chart") or "")
    source = repo or chart
    if "://" in chart:
        source = chart
    parts = urlsplit(source)
    if not (
        source.rstrip("/") == repo_url
        or source.startswith(repo_url + "/")
        # the repository's host, over TLS only: the spec makes the chart repository https-only, since a chart
        # fetched over plain http can be swapped in transit (OCI registries speak https too)
        or (parts.scheme in ("https", "oci") and parts.hostname == site.residency.chart_repository.host)
    ):
        yield f"chart {chart!r} comes from {source or 'an unnamed repository'!r}, not from {repo_url}"
    version = str(props.get("version") or "")
    if not _PINNED.match(version):
        yield f"chart {chart!r} version {version or '(none)'!r} is not pinned to an exact version"
    yield from _catalogued_images(site, chart, version, props.get("values") or {})
    allowed = registry_names(site)
    for where, value in _value_images(props.get("values") or {}):
        host = value.split("/", 1)[0]
        if host not in allowed:
            yield f"{where} {value!r} points outside the in-country registry {site.residency.container_registry.host}"
