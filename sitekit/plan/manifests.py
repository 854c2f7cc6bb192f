"""Turning recorded resources into manifests on disk: one file per object, one folder per country.

Files are named `<namespace>/<kind>-<name>.yaml` (`_cluster/` for cluster-scoped objects) and charts the
provider would expand are recorded under `_charts/`. Keys are ordered (apiVersion, kind, metadata, then
alphabetical) so the same spec always gives the same bytes. Secret values never reach the disk: every
`data`/`stringData` value of a Secret, and anything the program marked secret, is replaced by a marker
while its key is kept.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from sitekit.errors import UserError
from sitekit.plan.records import Recorded

_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml when present: same output, faster

REDACTED = "<redacted>"
MARKER = ".sitekit-plan"
_FIRST = ("apiVersion", "kind", "metadata")


def _ordered(value: Any, top: bool = False) -> Any:
    if isinstance(value, Mapping):
        keys = sorted(value, key=lambda k: (0, _FIRST.index(k)) if top and k in _FIRST else (1, str(k)))
        return {k: _ordered(value[k]) for k in keys}
    if isinstance(value, list):
        return [_ordered(v) for v in value]
    return value


def _redact_path(obj: Any, path: tuple[str, ...]) -> Any:
    if not path:
        if isinstance(obj, Mapping):
            return {k: REDACTED for k in obj}
        return REDACTED
    if isinstance(obj, Mapping) and path[0] in obj:
        return {**obj, path[0]: _redact_path(obj[path[0]], path[1:])}
    if isinstance(obj, list) and path[0].isdigit() and int(path[0]) < len(obj):
        items = list(obj)
        items[int(path[0])] = _redact_path(items[int(path[0])], path[1:])
        return items
    return obj


def redact(record: Recorded) -> dict[str, Any]:
    """The record's properties with Secret values and secret-marked values replaced by a marker."""
    props: dict[str, Any] = dict(record.props)
    for path in record.secret_paths:
        props = _redact_path(props, path)
    if props.get("kind") == "Secret":
        for key in ("data", "stringData"):
            if isinstance(props.get(key), Mapping):
                props[key] = {k: REDACTED for k in props[key]}
    return props


def manifest_path(manifest: Mapping[str, Any]) -> str:
    """Relative file name of an object: `<namespace or _cluster>/<kind>-<name>.yaml`."""
    meta = manifest.get("metadata") or {}
    folder = meta.get("namespace") or "_cluster"
    return f"{folder}/{str(manifest.get('kind')).lower()}-{meta.get('name') or '_unnamed'}.yaml"


def chart_record(record: Recorded) -> dict[str, Any]:
    """What is known of a chart offline: source, version, namespace and values (redacted like the rest)."""
    props = redact(record)
    record_doc: dict[str, Any] = _ordered(
        {
            "type": record.type,
            "name": props.get("name") or record.name,
            "chart": props.get("chart"),
            "repository": (props.get("repositoryOpts") or {}).get("repo"),
            "version": props.get("version"),
            "namespace": props.get("namespace"),
            "values": props.get("values") or {},
        }
    )
    return record_doc


def prepare_out_dir(out: Path) -> None:
    """Empty a previous plan's folder; refuse to clear a folder sitekit did not create."""
    if out.exists():
        if not out.is_dir():
            raise UserError(f"{out}: exists and is not a folder")
        if any(out.iterdir()) and not (out / MARKER).exists():
            raise UserError(f"{out}: not empty and not written by `sitekit plan`; choose another --out")
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / MARKER).write_text("Written by `sitekit plan`; the whole folder is replaced on the next plan.\n")


def dump(document: Any, header: str) -> str:
    """YAML text with a header comment saying which command wrote it."""
    body = yaml.dump(document, Dumper=_DUMPER, sort_keys=False, default_flow_style=False, allow_unicode=True, width=120)
    return f"# {header}\n{body}"


def write_files(out: Path, files: Mapping[str, Any], header: str) -> None:
    """Write each document under `out` in sorted order."""
    for rel in sorted(files):
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dump(files[rel], header))


def ordered_manifest(props: Mapping[str, Any]) -> dict[str, Any]:
    """A manifest with conventional key order at the top and alphabetical below."""
    result: dict[str, Any] = _ordered(props, top=True)
    return result
