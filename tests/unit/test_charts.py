"""The chart catalogue, verified chart copies, and the in-country image checks (sitekit.charts).

Charts here are small synthetic ones built per test (no chart repository is reachable from CI): they have
the same image-bearing shapes as the real charts, so the walker, the digest and the fetch rules are tested
on what the catalogue describes.
"""

from __future__ import annotations

import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from sitekit import charts
from sitekit.charts import (
    ChartPin,
    Dependency,
    ImagePath,
    chart_digest,
    check_images,
    fetch_chart,
    image_paths,
    lab_chart_dir,
    mirror_values,
    walk_images,
)
from sitekit.errors import UserError

REGISTRY = "registry.gov.ke"

NVIDIA_COMPONENTS = [
    "operator",
    "validator",
    "driver",
    "toolkit",
    "devicePlugin",
    "dcgm",
    "dcgmExporter",
    "gfd",
    "migManager",
    "nodeStatusExporter",
    "gds",
    "gdrcopy",
    "vgpuManager",
    "kataManager",
    "vfioManager",
    "sandboxDevicePlugin",
    "ccManager",
    "vgpuDeviceManager",
]


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("SITEKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv(charts.SOURCE_ENV, raising=False)
    yield


# --- the shipped catalogue ----------------------------------------------------------------------------------


def test_catalogue_pins_the_charts_the_stack_installs() -> None:
    cat = charts.catalogue()
    assert cat["gpu-operator"].version == "v24.9.2"
    assert {"gpu-operator", "node-feature-discovery", "ingress-nginx", "metrics-server"} <= set(cat)
    for pin in cat.values():
        assert pin.images, pin.name
        assert pin.images_source and pin.images_source_version, pin.name
        assert pin.upstream.get("repository", "").startswith("https://"), pin.name
        for dep in pin.dependencies:
            assert dep.name in cat and charts.same_version(cat[dep.name].version, dep.version)


def test_catalogue_matches_the_spec_gpu_operator_version(repo_root: Path) -> None:
    baseline = yaml.safe_load((repo_root / "sites" / "baseline.yaml").read_text())
    assert charts.same_version(baseline["cluster"]["gpu_operator_version"], charts.catalogue()["gpu-operator"].version)


def test_gpu_operator_image_paths_cover_every_component() -> None:
    paths = image_paths("gpu-operator")
    for expected in [
        *NVIDIA_COMPONENTS,
        "operator.initContainer",
        "driver.manager",
        "vgpuManager.driverManager",
        "vfioManager.driverManager",
        "node-feature-discovery.image",
    ]:
        assert expected in paths
    assert len(paths) == len(set(paths))


def test_ingress_and_metrics_server_image_paths() -> None:
    assert image_paths("ingress-nginx") == [
        "controller.image",
        "controller.admissionWebhooks.patch.image",
        "defaultBackend.image",
    ]
    assert image_paths("metrics-server") == ["image", "addonResizer.image"]


def test_unknown_chart_is_a_user_error() -> None:
    with pytest.raises(UserError, match="not in the charts catalogue"):
        image_paths("nginx-plus")


# --- check_images --------------------------------------------------------------------------------------


def _kata_classes(registry: str) -> list[dict[str, Any]]:
    artifacts = f"{registry}/nvidia/cloud-native/kata-gpu-artifacts:ubuntu22.04-550.144.03"
    return [{"name": "kata-nvidia-gpu", "nodeSelector": {}, "artifacts": {"url": artifacts, "pullSecret": ""}}]


def _full_gpu_values() -> dict[str, Any]:
    values = mirror_values("gpu-operator", REGISTRY)
    values["kataManager"]["config"] = {"runtimeClasses": _kata_classes(REGISTRY)}
    return values


def test_full_gpu_operator_override_passes() -> None:
    assert check_images(_full_gpu_values(), "gpu-operator", REGISTRY) == []


def test_kata_artifacts_must_be_overridden_as_a_whole_list() -> None:
    problems = check_images(mirror_values("gpu-operator", REGISTRY), "gpu-operator", REGISTRY)
    assert len(problems) == 1 and "kataManager.config.runtimeClasses[*].artifacts.url" in problems[0]
    values = _full_gpu_values()
    values["kataManager"]["config"]["runtimeClasses"] += _kata_classes("nvcr.io")
    problems = check_images(values, "gpu-operator", REGISTRY)
    assert len(problems) == 1 and "'nvcr.io/nvidia/cloud-native/kata-gpu-artifacts:" in problems[0]


def test_missing_driver_manager_is_reported() -> None:
    values = _full_gpu_values()
    del values["driver"]["manager"]
    problems = check_images(values, "gpu-operator", REGISTRY)
    assert len(problems) == 1
    assert "`driver.manager`" in problems[0] and "nvcr.io" in problems[0]


def test_foreign_or_docker_hub_repository_is_reported() -> None:
    values = _full_gpu_values()
    values["toolkit"]["repository"] = "nvcr.io/nvidia/k8s"
    values["dcgm"]["repository"] = "nvidia"  # a Docker Hub name, not a host
    problems = check_images(values, "gpu-operator", REGISTRY)
    assert [p.split("`")[1] for p in problems] == ["toolkit", "dcgm"]
    assert "docker.io" in problems[1]


def test_empty_repository_takes_the_image_as_full_reference() -> None:
    values = _full_gpu_values()
    values["vgpuManager"].update(repository="", image=f"{REGISTRY}/nvidia/vgpu-manager")
    assert check_images(values, "gpu-operator", REGISTRY) == []
    values["vgpuManager"].update(image="vgpu-manager")
    assert len(check_images(values, "gpu-operator", REGISTRY)) == 1


def test_ingress_nginx_registry_composition() -> None:
    assert check_images({}, "ingress-nginx", REGISTRY) != []
    # global.image.registry alone moves every image (the per-image registry keys are unset by default)
    assert check_images({"global": {"image": {"registry": REGISTRY}}}, "ingress-nginx", REGISTRY) == []
    # a per-image registry beats the global one; a full repository beats both
    values: dict[str, Any] = {
        "global": {"image": {"registry": REGISTRY}},
        "controller": {"image": {"registry": "registry.k8s.io"}},
        "defaultBackend": {"image": {"repository": f"{REGISTRY}/defaultbackend-amd64"}},
    }
    problems = check_images(values, "ingress-nginx", REGISTRY)
    assert len(problems) == 1 and "`controller.image`" in problems[0]
    assert check_images(mirror_values("ingress-nginx", REGISTRY), "ingress-nginx", REGISTRY) == []


def test_metrics_server_addon_resizer_is_checked() -> None:
    values = {"image": {"repository": f"{REGISTRY}/metrics-server/metrics-server"}}
    problems = check_images(values, "metrics-server", REGISTRY)
    assert len(problems) == 1 and "`addonResizer.image`" in problems[0]
    assert check_images(mirror_values("metrics-server", REGISTRY), "metrics-server", REGISTRY) == []


def test_registry_with_port_counts_as_host() -> None:
    host = "registry.lab:5000"
    assert check_images(mirror_values("metrics-server", host), "metrics-server", host) == []
    assert charts.registry_of("localhost/x") == "localhost"
    assert charts.registry_of("busybox") == "docker.io"


# --- walking values.yaml ---------------------------------------------------------------------------------


def _gpu_values() -> dict[str, Any]:
    values: dict[str, Any] = {"nfd": {"enabled": True}, "daemonsets": {"tolerations": []}}
    for c in NVIDIA_COMPONENTS:
        values[c] = {"enabled": True, "repository": "nvcr.io/nvidia", "image": c.lower(), "version": "v1"}
    values["operator"]["initContainer"] = {"repository": "nvcr.io/nvidia", "image": "cuda", "version": "12"}
    values["driver"]["manager"] = {"repository": "nvcr.io/nvidia/cloud-native", "image": "k8s-driver-manager"}
    values["vgpuManager"]["repository"] = ""
    values["vgpuManager"]["driverManager"] = {"repository": "nvcr.io/nvidia/cloud-native", "image": "dm"}
    values["vfioManager"]["driverManager"] = {"repository": "nvcr.io/nvidia/cloud-native", "image": "dm"}
    values["node-feature-discovery"] = {"worker": {"config": {"sources": {}}}}
    values["kataManager"]["config"] = {"runtimeClasses": _kata_classes("nvcr.io"), "artifactsDir": "/opt/x"}
    values["daemonsets"]["tolerations"] = [{"key": "nvidia.com/gpu", "operator": "Exists"}]
    return values


def test_walk_finds_nested_components_and_styles() -> None:
    found = {i.path: i for i in walk_images(_gpu_values())}
    assert found["driver.manager"].style == "nvidia"
    assert found["operator.initContainer"].default == "nvcr.io/nvidia"
    assert "node-feature-discovery" not in found and "nfd" not in found
    kata = found["kataManager.config.runtimeClasses[*].artifacts.url"]
    assert (kata.style, kata.default) == ("reference", "nvcr.io/nvidia/cloud-native/kata-gpu-artifacts")
    assert not [p for p in found if p.startswith("daemonsets")]  # `nvidia.com/gpu` is no image
    assert charts.is_image_reference("registry.lab:5000/a/b@sha256:" + "0" * 64)
    assert not charts.is_image_reference("nvidia.com/gpu")
    assert not charts.is_image_reference("https://nvcr.io/x:1")
    ingress = {
        "global": {"image": {"registry": "registry.k8s.io"}},
        "controller": {
            "image": {"image": "ingress-nginx/controller", "tag": "v1", "digest": "sha256:x"},
            "admissionWebhooks": {"patch": {"image": {"image": "ingress-nginx/kube-webhook-certgen", "tag": "v1"}}},
            "extraModules": [{"name": "m", "image": {"image": "x", "tag": "1"}}],
        },
        "defaultBackend": {"image": {"image": "defaultbackend-amd64", "tag": "1.5"}},
    }
    walked = walk_images(ingress)
    assert [(i.path, i.style, i.default) for i in walked] == [
        ("controller.image", "registry-image", "registry.k8s.io"),
        ("controller.admissionWebhooks.patch.image", "registry-image", "registry.k8s.io"),
        ("defaultBackend.image", "registry-image", "registry.k8s.io"),
    ]
    metrics = {
        "image": {"repository": "registry.k8s.io/metrics-server/metrics-server", "tag": ""},
        "addonResizer": {
            "enabled": False,
            "image": {"repository": "registry.k8s.io/autoscaling/addon-resizer", "tag": "1.8.21"},
        },
    }
    assert [(i.path, i.style) for i in walk_images(metrics)] == [
        ("image", "repository-tag"),
        ("addonResizer.image", "repository-tag"),
    ]


# --- fetching -----------------------------------------------------------------------------------------------


def _write_chart(
    folder: Path, name: str, version: str, values: dict[str, Any], deps: list[dict[str, str]] | None = None
) -> Path:
    folder.mkdir(parents=True)
    meta: dict[str, Any] = {"apiVersion": "v2", "name": name, "version": version, "appVersion": version}
    if deps:
        meta["dependencies"] = deps
    (folder / "Chart.yaml").write_text(yaml.safe_dump(meta))
    (folder / "values.yaml").write_text(yaml.safe_dump(values))
    (folder / "templates").mkdir()
    (folder / "templates" / "deployment.yaml").write_text("kind: Deployment\n")
    return folder


def _package(folder: Path, archive: Path) -> Path:
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname=folder.name)
    return archive


NFD_VALUES = {"image": {"repository": "registry.k8s.io/nfd/node-feature-discovery", "pullPolicy": "IfNotPresent"}}


def _gpu_catalogue(gpu_digest: str | None, nfd_digest: str | None) -> dict[str, ChartPin]:
    gpu_images = tuple(ImagePath(i.path, i.style, i.default) for i in walk_images(_gpu_values()))
    return {
        "gpu-operator": ChartPin(
            "gpu-operator",
            "v24.9.2",
            {},
            gpu_digest,
            "test",
            (Dependency("node-feature-discovery", "v0.16.6"),),
            (
                *gpu_images,
                ImagePath(
                    "node-feature-discovery.image", "repository-tag", "registry.k8s.io/nfd/node-feature-discovery"
                ),
            ),
            "synthetic",
            "v24.9.2",
            True,
        ),
        "node-feature-discovery": ChartPin(
            "node-feature-discovery",
            "v0.16.6",
            {},
            nfd_digest,
            "test",
            (),
            (ImagePath("image", "repository-tag", "registry.k8s.io/nfd/node-feature-discovery"),),
            "synthetic",
            "v0.16.6",
            True,
        ),
    }


@pytest.fixture()
def source(tmp_path: Path) -> Path:
    """A chart source with the GPU operator packaged *without* its NFD subchart, and NFD packaged alone."""
    build = tmp_path / "build"
    gpu = _write_chart(
        build / "gpu-operator",
        "gpu-operator",
        "v24.9.2",
        _gpu_values(),
        [{"name": "node-feature-discovery", "version": "v0.16.6", "repository": "https://example.invalid"}],
    )
    nfd = _write_chart(build / "nfd" / "node-feature-discovery", "node-feature-discovery", "0.16.6", NFD_VALUES)
    src = tmp_path / "source"
    src.mkdir()
    _package(gpu, src / "gpu-operator-v24.9.2.tgz")
    _package(nfd, src / "node-feature-discovery-0.16.6.tgz")
    return src


def _digests(src: Path, tmp_path: Path) -> tuple[str, str]:
    out = []
    for archive in ("gpu-operator-v24.9.2.tgz", "node-feature-discovery-0.16.6.tgz"):
        unpacked = tmp_path / f"unpacked-{archive}"
        with tarfile.open(src / archive) as tar:
            tar.extractall(unpacked, filter="data")
        out.append(chart_digest(next(unpacked.iterdir())))
    return out[0], out[1]


def test_digest_ignores_layout_and_times(tmp_path: Path) -> None:
    a = _write_chart(tmp_path / "a" / "c", "c", "1.0.0", {"x": 1})
    b = _write_chart(tmp_path / "b" / "c", "c", "1.0.0", {"x": 1})
    assert chart_digest(a) == chart_digest(b)
    (b / "templates" / "deployment.yaml").write_text("kind: DaemonSet\n")
    assert chart_digest(a) != chart_digest(b)


def test_fetch_lays_the_missing_dependency_and_matches_pins(source: Path, tmp_path: Path) -> None:
    gpu_digest, nfd_digest = _digests(source, tmp_path)
    cat = _gpu_catalogue(gpu_digest, nfd_digest)
    chart = fetch_chart("gpu-operator", "v24.9.2", source, cat)
    assert chart == tmp_path / "cache" / "charts" / "gpu-operator-v24.9.2"
    for required in ("Chart.yaml", "values.yaml", "templates", "charts/node-feature-discovery/Chart.yaml"):
        assert (chart / required).exists(), required
    assert not [p for p in chart.parent.iterdir() if p.name.startswith(".")]  # no scratch folder left
    assert fetch_chart("gpu-operator", "24.9.2", source, cat) == chart  # cached, `v` optional
    (chart / "values.yaml").write_text("{}")  # a cached copy is trusted while the pin is the same ...
    assert fetch_chart("gpu-operator", "v24.9.2", source, cat) == chart
    assert (chart / "values.yaml").read_text() == "{}"
    repinned = _gpu_catalogue("sha256:" + "1" * 64, nfd_digest)  # ... and taken again when the pin changes
    with pytest.raises(UserError, match=r"pinned sha256:1+"):
        fetch_chart("gpu-operator", "v24.9.2", source, repinned)
    assert not chart.exists()


def test_fetch_accepts_a_vendored_dependency(tmp_path: Path) -> None:
    build = tmp_path / "build"
    gpu = _write_chart(
        build / "gpu-operator",
        "gpu-operator",
        "v24.9.2",
        _gpu_values(),
        [{"name": "node-feature-discovery", "version": "v0.16.6"}],
    )
    _write_chart(gpu / "charts" / "node-feature-discovery", "node-feature-discovery", "0.16.6", NFD_VALUES)
    src = tmp_path / "src"
    src.mkdir()
    _package(gpu, src / "gpu-operator-v24.9.2.tgz")  # no NFD archive: it must not be needed
    cat = _gpu_catalogue(chart_digest(gpu), None)
    chart = fetch_chart("gpu-operator", "v24.9.2", src, cat)
    assert (chart / "charts" / "node-feature-discovery" / "values.yaml").is_file()


def test_fetch_accepts_a_packaged_vendored_dependency(tmp_path: Path) -> None:
    build = tmp_path / "build"
    gpu = _write_chart(
        build / "gpu-operator",
        "gpu-operator",
        "v24.9.2",
        _gpu_values(),
        [{"name": "node-feature-discovery", "version": "v0.16.6"}],
    )
    nfd = _write_chart(build / "nfd" / "node-feature-discovery", "node-feature-discovery", "v0.16.6", NFD_VALUES)
    (gpu / "charts").mkdir()
    _package(nfd, gpu / "charts" / "node-feature-discovery-v0.16.6.tgz")
    src = tmp_path / "src"
    src.mkdir()
    _package(gpu, src / "gpu-operator-v24.9.2.tgz")
    chart = fetch_chart("gpu-operator", "v24.9.2", src, _gpu_catalogue(chart_digest(gpu), None))
    assert (chart / "charts" / "node-feature-discovery-v0.16.6.tgz").is_file()


def test_fetch_refuses_unpinned_and_mismatched_digests(source: Path, tmp_path: Path) -> None:
    gpu_digest, nfd_digest = _digests(source, tmp_path)
    with pytest.raises(UserError, match=rf"no pinned digest; the copy in .* has {gpu_digest}"):
        fetch_chart("gpu-operator", "v24.9.2", source, _gpu_catalogue(None, nfd_digest))
    with pytest.raises(UserError, match=r"digest sha256:.*, pinned sha256:0+"):
        fetch_chart("gpu-operator", "v24.9.2", source, _gpu_catalogue("sha256:" + "0" * 64, nfd_digest))
    assert not (tmp_path / "cache" / "charts" / "gpu-operator-v24.9.2").exists()


def test_fetch_refuses_wrong_version_and_missing_parts(tmp_path: Path) -> None:
    cat = _gpu_catalogue(None, None)
    with pytest.raises(UserError, match=r"not pinned: the catalogue pins v24\.9\.2"):
        fetch_chart("gpu-operator", "v25.3.0", tmp_path, cat)
    bad = _write_chart(
        tmp_path / "src" / "node-feature-discovery-v0.16.6", "node-feature-discovery", "0.17.0", NFD_VALUES
    )
    with pytest.raises(UserError, match=r"Chart\.yaml says version '0\.17\.0'"):
        fetch_chart("node-feature-discovery", "v0.16.6", tmp_path / "src", cat)
    (bad / "Chart.yaml").write_text(yaml.safe_dump({"name": "node-feature-discovery", "version": "0.16.6"}))
    (bad / "templates" / "deployment.yaml").unlink()
    (bad / "templates").rmdir()
    with pytest.raises(UserError, match="missing templates/"):
        fetch_chart("node-feature-discovery", "v0.16.6", tmp_path / "src", cat)
    with pytest.raises(UserError, match="not in the chart source"):
        fetch_chart("gpu-operator", "v24.9.2", tmp_path / "src", cat)


def test_fetch_refuses_a_chart_whose_images_differ_from_the_list(tmp_path: Path) -> None:
    values = _gpu_values()
    values["driver"]["newSidecar"] = {"repository": "nvcr.io/nvidia", "image": "sidecar", "version": "v1"}
    del values["gdrcopy"]
    gpu = _write_chart(tmp_path / "src" / "gpu-operator-v24.9.2", "gpu-operator", "v24.9.2", values)
    cat = _gpu_catalogue(chart_digest(gpu), None)
    with pytest.raises(UserError) as err:
        fetch_chart("gpu-operator", "v24.9.2", tmp_path / "src", cat)
    assert "not in the catalogue: driver.newSidecar" in str(err.value)
    assert "gdrcopy" in str(err.value)


def test_fetch_needs_a_source(monkeypatch: pytest.MonkeyPatch, source: Path, tmp_path: Path) -> None:
    with pytest.raises(UserError, match="SITEKIT_CHART_SOURCE"):
        fetch_chart("gpu-operator", "v24.9.2", None, _gpu_catalogue(None, None))
    monkeypatch.setenv(charts.SOURCE_ENV, str(source))
    cat = _gpu_catalogue(*_digests(source, tmp_path))
    folder = lab_chart_dir([("gpu-operator", "v24.9.2")], None, cat)
    assert sorted(p.name for p in folder.iterdir()) == ["gpu-operator-v24.9.2", "node-feature-discovery-v0.16.6"]
    assert charts.chart_path(folder, "gpu-operator", cat) == folder / "gpu-operator-v24.9.2"


def test_archive_escaping_its_folder_is_refused(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    evil = tmp_path / "evil.txt"
    evil.write_text("x")
    with tarfile.open(src / "node-feature-discovery-v0.16.6.tgz", "w:gz") as tar:
        tar.add(evil, arcname="../evil.txt")
    with pytest.raises(UserError, match="refusing archive member"):
        fetch_chart("node-feature-discovery", "v0.16.6", src, _gpu_catalogue(None, None))


def test_cli_prints_digest_and_images(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    chart = _write_chart(
        tmp_path / "c" / "metrics-server",
        "metrics-server",
        "3.12.2",
        {"image": {"repository": "registry.k8s.io/metrics-server/metrics-server", "tag": ""}},
    )
    archive = _package(chart, tmp_path / "metrics-server-3.12.2.tgz")
    assert charts.main(["digest", str(archive)]) == 0
    assert capsys.readouterr().out.strip() == chart_digest(chart)
    assert charts.main(["images", str(chart)]) == 0
    doc = yaml.safe_load(capsys.readouterr().out)
    assert doc == {
        "source_version": "3.12.2",
        "paths": [
            {"path": "image", "style": "repository-tag", "default": "registry.k8s.io/metrics-server/metrics-server"}
        ],
    }


def test_an_explicitly_empty_reference_list_overrides_the_chart_default() -> None:
    """Helm replaces a list whole: `runtimeClasses: []` leaves no default artifact to pull from abroad."""
    from sitekit.charts import check_images, mirror_values

    values = mirror_values("gpu-operator", "registry.ee.sovereign.example")
    missing = check_images(values, "gpu-operator", "registry.ee.sovereign.example")
    assert [p for p in missing if "kataManager.config.runtimeClasses" in p], missing
    values["kataManager"]["config"] = {"runtimeClasses": []}
    assert check_images(values, "gpu-operator", "registry.ee.sovereign.example") == []
