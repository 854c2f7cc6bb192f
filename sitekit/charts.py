"""The Helm charts the stack installs: a pinned catalogue, verified local copies, and image-override checks.

`sitekit/charts.yaml` pins each chart (version, upstream provenance, content digest, dependencies) and lists
every values path of the chart that names an image. Three things are built on it:

* `fetch_chart(name, version)` takes the chart from a *chart source* (a folder of packaged charts, as
  `helm pull` or the country's chart repository deliver them: `<name>-<version>.tgz`, or an unpacked
  `<name>-<version>/` folder), checks its Chart.yaml name and version, its content digest against the pin and
  its image-bearing values against the catalogue's list, lays any dependency that is not vendored into
  `charts/`, and leaves the result in `$SITEKIT_CACHE/charts/<name>-<version>/` (built in a sibling folder
  and renamed, so a reader never sees half a chart). Helm can install that folder offline.
* `check_images(values, chart, registry_host)` reports every image-bearing path whose Helm values do not
  point the image at the in-country registry, following how that chart composes its image references.
* `lab_chart_dir(...)` fetches a set of charts and returns the folder holding them, for the lab's
  `sitekit:chartDir` stack setting.

sitekit never downloads a chart from its upstream project: the catalogue's `upstream` is provenance only.
The chart source is given explicitly or by `$SITEKIT_CHART_SOURCE`.

Run as `python -m sitekit.charts digest PATH` to print a chart folder's (or archive's) digest, or
`python -m sitekit.charts images PATH` to print the image-bearing paths of a chart's values.yaml (and its
vendored subcharts') in the catalogue's format.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import sys
import tarfile
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path, PurePosixPath
from typing import Any, Literal, cast

import yaml

from sitekit.errors import UserError
from sitekit.paths import cache_dir

CATALOGUE_FILE = Path(__file__).with_name("charts.yaml")
SOURCE_ENV = "SITEKIT_CHART_SOURCE"

Style = Literal["nvidia", "repository-tag", "registry-image", "reference"]
STYLES: tuple[Style, ...] = ("nvidia", "repository-tag", "registry-image", "reference")

#: A full image reference with a registry host and a tag or digest (`nvcr.io/nvidia/x:1.0`), as found in
#: values that hold one as a plain string (the GPU operator's Kata artifact URLs).
_REFERENCE = re.compile(
    r"^(?P<host>[a-z0-9-]+(\.[a-z0-9-]+)+(:\d+)?|localhost(:\d+)?)/[a-z0-9._/-]+"
    r"(?P<tag>:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?P<digest>@sha256:[0-9a-f]{64})?$"
)
_IMAGE_KEYS = frozenset({"repository", "registry", "image", "tag", "version", "digest"})


@dataclass(frozen=True)
class ImagePath:
    """One values path that names an image, how the chart composes the image there, and its default."""

    path: str
    style: Style
    default: str = ""


@dataclass(frozen=True)
class Dependency:
    """A subchart a chart declares (Chart.yaml `dependencies`)."""

    name: str
    version: str


@dataclass(frozen=True)
class ChartPin:
    """One catalogue entry: the pinned version, where it comes from, its digest and its images."""

    name: str
    version: str
    upstream: Mapping[str, str]
    digest: str | None
    digest_source: str | None
    dependencies: tuple[Dependency, ...]
    images: tuple[ImagePath, ...]
    images_source: str
    images_source_version: str
    images_verified: bool


Catalogue = Mapping[str, ChartPin]


def _str(entry: Mapping[str, Any], key: str, where: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str):
        raise UserError(f"{where}: `{key}` must be a string")
    return value


def parse_catalogue(data: Any, where: str = "charts catalogue") -> dict[str, ChartPin]:
    """Validate a loaded catalogue document and return its pins by chart name."""
    if not isinstance(data, dict) or not isinstance(data.get("charts"), dict):
        raise UserError(f"{where}: expected a mapping with a `charts` mapping")
    pins: dict[str, ChartPin] = {}
    for name, raw in cast(dict[str, Any], data["charts"]).items():
        at = f"{where}: chart {name}"
        if not isinstance(raw, dict):
            raise UserError(f"{at}: expected a mapping")
        images_raw = raw.get("images") or {}
        if not isinstance(images_raw, dict):
            raise UserError(f"{at}: `images` must be a mapping")
        images: list[ImagePath] = []
        for item in images_raw.get("paths") or []:
            if not isinstance(item, dict):
                raise UserError(f"{at}: each image path must be a mapping")
            style = _str(item, "style", at)
            if style not in STYLES:
                raise UserError(f"{at}: unknown image style {style!r} (known: {', '.join(STYLES)})")
            images.append(ImagePath(_str(item, "path", at), style, str(item.get("default") or "")))
        deps = tuple(
            Dependency(_str(d, "name", at), _str(d, "version", at))
            for d in raw.get("dependencies") or []
            if isinstance(d, dict)
        )
        digest = raw.get("digest")
        if digest is not None and (not isinstance(digest, str) or not digest.startswith("sha256:")):
            raise UserError(f"{at}: `digest` must be null or `sha256:<hex>`")
        upstream = raw.get("upstream") or {}
        pins[str(name)] = ChartPin(
            name=str(name),
            version=_str(raw, "version", at),
            upstream={str(k): str(v) for k, v in upstream.items()},
            digest=digest,
            digest_source=raw.get("digest_source"),
            dependencies=deps,
            images=tuple(images),
            images_source=str(images_raw.get("source") or ""),
            images_source_version=str(images_raw.get("source_version") or ""),
            images_verified=bool(images_raw.get("verified", False)),
        )
    return pins


@cache
def catalogue() -> Catalogue:
    """The pinned catalogue shipped with sitekit (`sitekit/charts.yaml`)."""
    return parse_catalogue(yaml.safe_load(CATALOGUE_FILE.read_text()), str(CATALOGUE_FILE))


def _pin(name: str, cat: Catalogue | None) -> ChartPin:
    pins = catalogue() if cat is None else cat
    if name not in pins:
        raise UserError(f"chart {name!r} is not in the charts catalogue (known: {', '.join(sorted(pins))})")
    return pins[name]


def same_version(a: str, b: str) -> bool:
    """Whether two chart versions are the same, ignoring a leading `v` (Helm accepts both spellings)."""
    return a.removeprefix("v") == b.removeprefix("v")


def image_paths(chart: str, cat: Catalogue | None = None) -> list[str]:
    """The values paths of a catalogued chart that name an image (dotted, subchart values under its name)."""
    return [i.path for i in _pin(chart, cat).images]


# --- digests -------------------------------------------------------------------------------------------


def chart_digest(folder: Path) -> str:
    """`sha256:<hex>` over a chart folder: each file's relative path and sha256, in sorted path order.

    Independent of timestamps, permissions and archive layout, so a packaged chart and its unpacked copy
    agree. Symbolic links and other special files are refused (Helm does not package them either).
    """
    entries: list[tuple[str, str]] = []
    for path in folder.rglob("*"):
        rel = path.relative_to(folder).as_posix()
        if path.is_symlink():
            raise UserError(f"{folder}: {rel} is a symbolic link; a chart must be plain files")
        if path.is_dir():
            continue
        if not path.is_file():
            raise UserError(f"{folder}: {rel} is not a regular file")
        entries.append((rel, hashlib.sha256(path.read_bytes()).hexdigest()))
    outer = hashlib.sha256()
    for rel, digest in sorted(entries):
        outer.update(f"{rel}\0{digest}\n".encode())
    return f"sha256:{outer.hexdigest()}"


# --- image-bearing values ---------------------------------------------------------------------------------


def _style_of(key: str, node: Mapping[str, Any]) -> Style | None:
    """The style of an image-bearing mapping, or None when the mapping names no image."""
    keys = set(node)
    if "version" in keys and ({"repository", "image"} & keys):
        return "nvidia"
    if {"repository", "image"} <= keys and not ({"tag", "registry", "digest"} & keys):
        return "nvidia"
    if "image" in keys and ("registry" in keys or (key == "image" and ({"digest", "tag"} & keys))):
        return "registry-image"
    if "repository" in keys and ("tag" in keys or key == "image"):
        return "repository-tag"
    return None


def is_image_reference(value: str) -> bool:
    """Whether a string is a full image reference with a registry host and a tag or digest."""
    match = _REFERENCE.match(value)
    return bool(match and (match.group("tag") or match.group("digest")))


def walk_images(values: Any, prefix: str = "") -> list[ImagePath]:
    """Every place in a values document that names an image, with its style and default registry.

    A mapping names an image when it holds `repository` with `image`/`version`/`tag`, `registry` with
    `image`, or is itself at a key `image` with `repository`, or `image` with `digest`/`tag`. Image-bearing
    mappings are walked further (the GPU operator nests `driver.manager` inside `driver`). A plain string
    that is a full image reference (registry host and tag or digest) is a `reference`, also inside lists,
    whose elements share the path segment `[*]`. Mappings inside lists are not taken as image specs: those
    are user-supplied (extra containers, modules), empty by default.
    """
    found: dict[str, ImagePath] = {}
    root = values if isinstance(values, Mapping) else {}
    global_registry = str(_get(root, "global.image.registry") or "")

    def visit(node: Any, path: str, key: str, in_list: bool) -> None:
        if isinstance(node, str):
            if key not in _IMAGE_KEYS and is_image_reference(node):
                found.setdefault(path, ImagePath(path, "reference", node.rsplit("@", 1)[0].rsplit(":", 1)[0]))
            return
        if isinstance(node, list):
            for item in node:
                visit(item, f"{path}[*]", key, True)
            return
        if not isinstance(node, Mapping):
            return
        style = _style_of(key, node) if path and not in_list else None
        if style is not None:
            default = node.get("repository") or node.get("registry") or ""
            if style == "registry-image" and not default:
                default = global_registry
            found.setdefault(path, ImagePath(path, style, str(default)))
        for k, v in node.items():
            visit(v, f"{path}.{k}" if path else str(k), str(k), in_list)

    visit(values, prefix, prefix.rsplit(".", 1)[-1] if prefix else "", False)
    return list(found.values())


def _packaged_chart_files(archive: Path) -> tuple[Any, Any]:
    """Chart.yaml and values.yaml of a packaged (sub)chart, read without unpacking it."""
    docs: dict[str, Any] = {}
    with tarfile.open(archive, "r:*") as tar:
        for member in tar.getmembers():
            parts = PurePosixPath(member.name).parts
            if member.isfile() and len(parts) == 2 and parts[1] in ("Chart.yaml", "values.yaml"):
                handle = tar.extractfile(member)
                if handle is not None:
                    docs[parts[1]] = yaml.safe_load(handle.read())
    return docs.get("Chart.yaml"), docs.get("values.yaml")


def chart_images(folder: Path) -> list[ImagePath]:
    """The image-bearing paths of a chart folder's values.yaml and of its subcharts' (under their names).

    Subcharts count whether vendored unpacked (`charts/<name>/`) or packaged (`charts/<name>-<v>.tgz`).
    """
    found = walk_images(_load_yaml(folder / "values.yaml") or {})
    charts = folder / "charts"
    if charts.is_dir():
        for sub in sorted(charts.iterdir()):
            if sub.is_dir() and (sub / "Chart.yaml").is_file():
                meta, values = _load_yaml(sub / "Chart.yaml") or {}, _load_yaml(sub / "values.yaml")
            elif sub.is_file() and sub.name.endswith((".tgz", ".tar.gz")):
                meta, values = _packaged_chart_files(sub)
            else:
                continue
            name = str((meta or {}).get("name") or sub.name)
            found += walk_images(values or {}, name)
    return sorted(found, key=lambda i: i.path)


# --- checking overrides -----------------------------------------------------------------------------------


def _get(values: Mapping[str, Any], dotted: str) -> Any:
    node: Any = values
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _get_all(values: Any, path: str) -> list[Any]:
    """Every value at a dotted path in which `name[*]` stands for each element of the list at `name`."""
    nodes: list[Any] = [values]
    for part in path.split("."):
        key, star = (part[:-3], True) if part.endswith("[*]") else (part, False)
        nxt: list[Any] = []
        for node in nodes:
            if isinstance(node, Mapping) and key in node:
                value = node[key]
                if star:
                    nxt.extend(value if isinstance(value, list) else [])
                else:
                    nxt.append(value)
        nodes = nxt
    return nodes


def registry_of(ref: str) -> str:
    """The registry host an image reference is pulled from, by the container runtimes' rule.

    The first path component is a host when it has a `.` or `:` or is `localhost`; otherwise the reference
    is a Docker Hub name (`nvidia/cuda`, `busybox`) and the host is `docker.io`.
    """
    first, sep, _ = ref.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return first
    return "docker.io"


def image_reference(values: Mapping[str, Any], image: ImagePath) -> tuple[str, str]:
    """The image name (without tag) the values make the chart use at a path, and the keys that decided it."""
    node = _get(values, image.path)
    node = node if isinstance(node, Mapping) else {}
    leaf = str(node.get("image") or "<image>")
    if image.style == "nvidia":
        repository = node.get("repository")
        if repository is None:
            repository, by = image.default, f"{image.path}.repository unset (chart default {image.default!r})"
        else:
            by = f"{image.path}.repository"
        if repository:
            return f"{repository}/{leaf}", by
        return leaf, f"{image.path}.image (the repository is empty)"
    if image.style == "repository-tag":
        if node.get("repository"):
            return str(node["repository"]), f"{image.path}.repository"
        return image.default, f"{image.path}.repository unset (chart default {image.default!r})"
    # registry-image: `repository` wins, then the path's `registry`, then global.image.registry.
    if node.get("repository"):
        return str(node["repository"]), f"{image.path}.repository"
    if node.get("registry"):
        return f"{node['registry']}/{leaf}", f"{image.path}.registry"
    global_registry = _get(values, "global.image.registry")
    if global_registry:
        return f"{global_registry}/{leaf}", "global.image.registry"
    return f"{image.default}/{leaf}", f"{image.path}.registry unset (chart default {image.default!r})"


def check_images(values: Mapping[str, Any], chart: str, registry_host: str, cat: Catalogue | None = None) -> list[str]:
    """Problems with a release's Helm values: each image-bearing path not pulled from `registry_host`.

    Every path of the chart's list counts, enabled or not (an operator can switch a component on later, and
    the chart still names the image). An empty list means every image comes from the in-country registry.
    """
    problems = []
    for image in _pin(chart, cat).images:
        if image.style == "reference":
            problems += _check_references(values, chart, image, registry_host)
            continue
        ref, decided_by = image_reference(values, image)
        host = registry_of(ref)
        if host != registry_host:
            problems.append(
                f"{chart}: image at `{image.path}` would be pulled from {host} ({ref}, decided by {decided_by}), "
                f"not from the in-country registry {registry_host}"
            )
    return problems


def _check_references(values: Mapping[str, Any], chart: str, image: ImagePath, registry_host: str) -> list[str]:
    found = _get_all(values, image.path)
    head = image.path.split("[*]", 1)[0]
    list_set = "[*]" in image.path and any(isinstance(v, list) for v in _get_all(values, head))
    if not found and not list_set:
        return [
            f"{chart}: image reference at `{image.path}` is left at the chart default ({image.default}), not "
            f"the in-country registry {registry_host}; Helm replaces a list whole, so set the whole list"
        ]
    return [
        f"{chart}: image reference at `{image.path}` is {ref!r}, not from the in-country registry {registry_host}"
        for ref in found
        if not isinstance(ref, str) or registry_of(ref) != registry_host
    ]


def mirror_values(chart: str, registry_host: str, cat: Catalogue | None = None) -> dict[str, Any]:
    """Helm values that point every image of a chart at `registry_host`, keeping the upstream path.

    `nvcr.io/nvidia/k8s` becomes `<registry_host>/nvidia/k8s`; a registry-image path gets `registry`. Merge
    the result under a release's own values (the release's keys win); `check_images` on the merged values
    must then report nothing. A path whose upstream default is empty (vGPU manager: licensed image the
    operator builds) is pointed at `<registry_host>/nvidia`. Plain `reference` paths (inside lists, such as
    the GPU operator's Kata artifact URLs) are left out: the caller sets those lists whole.
    """
    out: dict[str, Any] = {}
    for image in _pin(chart, cat).images:
        if image.style == "reference":
            continue
        node = out
        for part in image.path.split("."):
            node = node.setdefault(part, {})
        if image.style == "registry-image":
            node["registry"] = registry_host
        else:
            rest = image.default.split("/", 1)[1] if "/" in image.default else "nvidia"
            node["repository"] = f"{registry_host}/{rest}"
    return out


# --- fetching -------------------------------------------------------------------------------------------


def _load_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text())
    except FileNotFoundError:
        return None
    except yaml.YAMLError as exc:
        raise UserError(f"{path}: not valid YAML: {exc}") from exc


def chart_source(source: Path | None = None) -> Path:
    """The folder charts are taken from: `source`, else `$SITEKIT_CHART_SOURCE`."""
    if source is None:
        env = os.environ.get(SOURCE_ENV)
        if not env:
            raise UserError(
                f"no chart source: pass one or set {SOURCE_ENV} to a folder of packaged charts "
                "(<name>-<version>.tgz as the country's chart repository serves them, or unpacked "
                "<name>-<version>/ folders)"
            )
        source = Path(env)
    if not source.is_dir():
        raise UserError(f"chart source {source} is not a folder")
    return source


def _find_in_source(source: Path, name: str, version: str) -> Path | None:
    for v in dict.fromkeys((version, version.removeprefix("v"), f"v{version.removeprefix('v')}")):
        for candidate in (source / f"{name}-{v}.tgz", source / f"{name}-{v}.tar.gz", source / f"{name}-{v}"):
            if candidate.exists():
                return candidate
    return None


def _extract_chart(archive: Path, into: Path, name: str | None) -> Path:
    """Unpack a packaged chart (one top folder, normally the chart name) into `into`; return the chart root."""
    with tarfile.open(archive, "r:*") as tar:
        members = tar.getmembers()
        tops = {PurePosixPath(m.name).parts[0] for m in members if m.name not in ("", ".")}
        for m in members:
            p = PurePosixPath(m.name)
            if p.is_absolute() or ".." in p.parts or not (m.isfile() or m.isdir()):
                raise UserError(f"{archive}: refusing archive member {m.name!r} (not a plain file inside the chart)")
        tar.extractall(into, filter="data")
    if len(tops) != 1:
        raise UserError(f"{archive}: expected one top folder (the chart), found {sorted(tops)}")
    top = into / tops.pop()
    if name is not None and top.name != name:
        top = top.rename(into / name)
    return top


def _check_layout(root: Path, name: str, version: str) -> dict[str, Any]:
    missing = [p for p in ("Chart.yaml", "values.yaml") if not (root / p).is_file()]
    if not (root / "templates").is_dir():
        missing.append("templates/")
    if missing:
        raise UserError(f"chart {name} {version}: missing {', '.join(missing)}")
    meta = _load_yaml(root / "Chart.yaml")
    if not isinstance(meta, dict):
        raise UserError(f"chart {name} {version}: Chart.yaml is not a mapping")
    if meta.get("name") != name:
        raise UserError(f"chart {name} {version}: Chart.yaml names it {meta.get('name')!r}")
    if not same_version(str(meta.get("version", "")), version):
        raise UserError(f"chart {name}: Chart.yaml says version {meta.get('version')!r}, the pin is {version}")
    return meta


def _vendored(charts: Path, dep: str, version: str) -> bool:
    """Whether `charts/` holds the dependency at a matching version (unpacked folder or packaged archive)."""
    if not charts.is_dir():
        return False
    for sub in charts.iterdir():
        if sub.is_dir() and (sub / "Chart.yaml").is_file():
            meta = _load_yaml(sub / "Chart.yaml") or {}
            if meta.get("name") == dep and same_version(str(meta.get("version", "")), version):
                return True
        elif sub.is_file() and sub.name in (f"{dep}-{version}.tgz", f"{dep}-{version.removeprefix('v')}.tgz"):
            return True
    return False


def _check_images_list(root: Path, pin: ChartPin) -> None:
    found = {i.path for i in chart_images(root)}
    listed = {i.path for i in pin.images}
    missing, stale = sorted(found - listed), sorted(listed - found)
    if missing or stale:
        lines = [f"chart {pin.name} {pin.version}: the catalogue's image list does not match its values.yaml"]
        if missing:
            lines.append(f"  image-bearing paths not in the catalogue: {', '.join(missing)}")
        if stale:
            lines.append(f"  catalogue paths that name no image in the chart: {', '.join(stale)}")
        lines.append("  regenerate with `python -m sitekit.charts images <chart folder>` and review the diff")
        raise UserError("\n".join(lines))


def _stamp(pin: ChartPin, cat: Catalogue | None) -> str:
    """What a cached copy was verified against: the chart's pin and its dependencies' pins."""
    deps = [f"{d.name} {_pin(d.name, cat).digest}" for d in pin.dependencies if d.name in (cat or catalogue())]
    return "\n".join([f"{pin.name} {pin.version} {pin.digest}", *deps, ""])


def fetch_chart(name: str, version: str, source: Path | None = None, cat: Catalogue | None = None) -> Path:
    """A verified, offline-installable copy of a pinned chart: `$SITEKIT_CACHE/charts/<name>-<version>/`.

    Taken from the chart source (`source`, else `$SITEKIT_CHART_SOURCE`) unless already in the cache. The
    chart must be the catalogue's pin: same version, Chart.yaml name and version, Chart.yaml, values.yaml
    and templates/ present, content digest equal to the pinned one (an unpinned chart is refused with the
    digest found), image-bearing values equal to the catalogue's list. Each Chart.yaml dependency must be
    vendored under charts/ or be a catalogued chart, which is fetched the same way and laid into charts/.
    """
    pin = _pin(name, cat)
    if not same_version(pin.version, version):
        raise UserError(f"chart {name} {version} is not pinned: the catalogue pins {pin.version}")
    dest = cache_dir() / "charts" / f"{name}-{pin.version}"
    stamp = cache_dir() / "chart-pins" / f"{dest.name}.pin"  # beside, not inside, the lab's chart folder
    if (dest / "Chart.yaml").is_file():
        if stamp.is_file() and stamp.read_text() == _stamp(pin, cat):
            return dest
        shutil.rmtree(dest)  # verified against another pin (the catalogue changed): take it again
    src = _find_in_source(chart_source(source), name, pin.version)
    if src is None:
        raise UserError(
            f"chart {name} {pin.version} is not in the chart source {chart_source(source)} "
            f"(looked for {name}-{pin.version}.tgz or a {name}-{pin.version}/ folder)"
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{name}-{pin.version}.", dir=dest.parent))
    try:
        if src.is_dir():
            root = work / name
            shutil.copytree(src, root, symlinks=True)
        else:
            root = _extract_chart(src, work, name)
        meta = _check_layout(root, name, pin.version)
        digest = chart_digest(root)
        if pin.digest is None:
            raise UserError(
                f"chart {name} {pin.version} has no pinned digest; the copy in {src} has {digest}. Check it "
                "against the origin, then set `digest` and `digest_source` in sitekit/charts.yaml"
            )
        if digest != pin.digest:
            raise UserError(f"chart {name} {pin.version} from {src}: digest {digest}, pinned {pin.digest}")
        _lay_dependencies(root, meta, pin, source, cat)
        _check_images_list(root, pin)
        try:
            root.rename(dest)
        except OSError:
            if not (dest / "Chart.yaml").is_file():
                raise
        stamp.parent.mkdir(parents=True, exist_ok=True)
        stamp.write_text(_stamp(pin, cat))
        return dest
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _lay_dependencies(
    root: Path, meta: Mapping[str, Any], pin: ChartPin, source: Path | None, cat: Catalogue | None
) -> None:
    """Make every Chart.yaml dependency present under charts/ so that Helm renders the chart offline.

    A dependency must be the catalogue's pin for it (an exact version, `v` optional); one already vendored
    (covered by the parent's digest) stays, any other is fetched and verified as a chart of its own.
    """
    declared = [d for d in meta.get("dependencies") or [] if isinstance(d, dict)]
    charts = root / "charts"
    for dep in declared:
        dep_name, dep_version = str(dep.get("name")), str(dep.get("version", ""))
        pinned = next((d for d in pin.dependencies if d.name == dep_name), None)
        if pinned is None or not same_version(pinned.version, dep_version):
            raise UserError(
                f"chart {pin.name} {pin.version}: Chart.yaml depends on {dep_name} {dep_version}, the catalogue "
                f"pins {pinned.version if pinned else 'no such dependency'}"
            )
        if _vendored(charts, dep_name, dep_version):
            continue
        sub = fetch_chart(dep_name, pinned.version, source, cat)
        charts.mkdir(exist_ok=True)
        shutil.copytree(sub, charts / dep_name)


def lab_chart_dir(
    names_versions: Iterable[tuple[str, str]], source: Path | None = None, cat: Catalogue | None = None
) -> Path:
    """Fetch every (name, version) and return the folder holding them as `<name>-<version>/` subfolders.

    The lab's `sitekit:chartDir` stack setting points at this folder.
    """
    folder = cache_dir() / "charts"
    for name, version in names_versions:
        fetch_chart(name, version, source, cat)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def chart_path(chart_dir: Path, name: str, cat: Catalogue | None = None) -> Path:
    """The folder of a pinned chart inside a lab chart folder (what a helm Release's `chart` takes)."""
    pin = _pin(name, cat)
    return chart_dir / f"{name}-{pin.version}"


# --- command line ---------------------------------------------------------------------------------------


def _as_folder(path: Path, work: Path) -> Path:
    if path.is_dir():
        return path
    return _extract_chart(path, work, None)


def main(argv: Sequence[str] | None = None) -> int:
    """`digest PATH` prints a chart's digest; `images PATH` prints its image-bearing paths as catalogue YAML."""
    parser = argparse.ArgumentParser(prog="python -m sitekit.charts", description=main.__doc__)
    parser.add_argument("command", choices=("digest", "images"))
    parser.add_argument("path", type=Path, help="a chart folder or packaged chart (.tgz)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            folder = _as_folder(args.path, Path(tmp))
            if args.command == "digest":
                print(chart_digest(folder))
            else:
                meta = _load_yaml(folder / "Chart.yaml") or {}
                paths = [{"path": i.path, "style": i.style, "default": i.default} for i in chart_images(folder)]
                doc = {"source_version": str(meta.get("version", "")), "paths": paths}
                print(yaml.safe_dump(doc, sort_keys=False, width=200), end="")
        except UserError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
