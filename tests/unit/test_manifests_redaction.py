"""Manifests on disk (`sitekit.plan.manifests`): redaction, file names, key order, the output folder (issue 15).

Redaction has two mechanisms and each is tested on its own with the exact result: by kind (every `data` and
`stringData` value of a Secret, keys kept) and by marking (any value the program marked secret, at its path,
in any kind, through mappings and list indexes). The record passed in is never changed.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from sitekit.errors import UserError
from sitekit.plan.manifests import (
    MARKER,
    REDACTED,
    chart_record,
    dump,
    manifest_path,
    ordered_manifest,
    prepare_out_dir,
    redact,
    write_files,
)
from sitekit.plan.records import Recorded

R = "<redacted>"


def record(props: dict[str, Any], *paths: tuple[str, ...], type_: str = "kubernetes:core/v1:ConfigMap",
           name: str = "res") -> Recorded:
    return Recorded(type=type_, name=name, urn=f"urn:{name}", props=props, custom=True, secret_paths=paths)


def test_marker_text() -> None:
    assert REDACTED == R
    assert MARKER == ".sitekit-plan"


# --- redaction by kind -------------------------------------------------------------------------------------


def test_secret_data_and_string_data_values_are_redacted_keys_kept() -> None:
    props = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s", "namespace": "a"},
        "type": "Opaque",
        "data": {"password": "cGFzcw==", "token": "dG9r"},
        "stringData": {"user": "admin", "key": "k"},
    }
    before = copy.deepcopy(props)
    assert redact(record(props)) == {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s", "namespace": "a"},
        "type": "Opaque",
        "data": {"password": R, "token": R},
        "stringData": {"user": R, "key": R},
    }
    assert props == before, "the recorded properties must not be changed"


def test_secret_with_only_string_data_or_no_data() -> None:
    assert redact(record({"kind": "Secret", "stringData": {"a": "1"}})) == {"kind": "Secret", "stringData": {"a": R}}
    assert redact(record({"kind": "Secret", "data": None})) == {"kind": "Secret", "data": None}
    assert redact(record({"kind": "Secret", "data": "not-a-map"})) == {"kind": "Secret", "data": "not-a-map"}


@pytest.mark.parametrize("kind", ["ConfigMap", "secret", "SecretList", None])
def test_data_of_other_kinds_is_kept(kind: str | None) -> None:
    props = {"kind": kind, "data": {"a": "1"}, "stringData": {"b": "2"}}
    assert redact(record(props)) == props


# --- redaction by marking ----------------------------------------------------------------------------------


def test_marked_scalar_in_any_kind_is_redacted() -> None:
    props = {"kind": "ConfigMap", "data": {"conf": "x", "secret": "y"}}
    assert redact(record(props, ("data", "secret"))) == {"kind": "ConfigMap", "data": {"conf": "x", "secret": R}}


def test_marked_mapping_has_every_value_redacted_and_keys_kept() -> None:
    props = {"kind": "Release", "values": {"auth": {"user": "u", "pass": "p"}, "replicas": 2}}
    assert redact(record(props, ("values", "auth"))) == {
        "kind": "Release",
        "values": {"auth": {"user": R, "pass": R}, "replicas": 2},
    }


def test_marked_whole_properties() -> None:
    assert redact(record({"a": 1, "b": {"c": 2}}, ())) == {"a": R, "b": R}


def test_marked_list_elements_by_index_second_not_only_first() -> None:
    props = {"kind": "Pod", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}, "three"]}
    assert redact(record(props, ("env", "1", "value"))) == {
        "kind": "Pod",
        "env": [{"name": "A", "value": "1"}, {"name": "B", "value": R}, "three"],
    }
    assert redact(record(props, ("env", "2"))) == {
        "kind": "Pod",
        "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}, R],
    }
    assert redact(record(props, ("env", "0"))) == {
        "kind": "Pod",
        "env": [{"name": R, "value": R}, {"name": "B", "value": "2"}, "three"],
    }
    assert props["env"][1] == {"name": "B", "value": "2"}, "the recorded list must not be changed"


def test_every_marked_path_is_redacted_not_only_the_first() -> None:
    props = {"x": "1", "y": "2", "z": "3"}
    assert redact(record(props, ("x",), ("z",))) == {"x": R, "y": "2", "z": R}


@pytest.mark.parametrize(
    "path",
    [("missing",), ("env", "3"), ("env", "x"), ("env", "-1"), ("x", "deeper"), ("env", "0", "missing")],
)
def test_paths_that_do_not_exist_change_nothing(path: tuple[str, ...]) -> None:
    props = {"x": "1", "env": [{"name": "A"}, "b", "c"]}
    assert redact(record(props, path)) == props


def test_both_mechanisms_together() -> None:
    props = {"kind": "Secret", "metadata": {"name": "s", "annotations": {"hint": "h"}}, "data": {"k": "v"}}
    assert redact(record(props, ("metadata", "annotations", "hint"))) == {
        "kind": "Secret",
        "metadata": {"name": "s", "annotations": {"hint": R}},
        "data": {"k": R},
    }


# --- file names and key order ------------------------------------------------------------------------------


def test_manifest_path() -> None:
    assert manifest_path({"kind": "NetworkPolicy", "metadata": {"name": "deny", "namespace": "a"}}) == (
        "a/networkpolicy-deny.yaml"
    )
    assert manifest_path({"kind": "ClusterRole", "metadata": {"name": "view"}}) == "_cluster/clusterrole-view.yaml"
    assert manifest_path({"kind": "ConfigMap", "metadata": {"namespace": ""}}) == "_cluster/configmap-_unnamed.yaml"
    assert manifest_path({"kind": "Pod"}) == "_cluster/pod-_unnamed.yaml"
    assert manifest_path({"metadata": None}) == "_cluster/none-_unnamed.yaml"


def test_ordered_manifest_puts_conventional_keys_first_and_sorts_the_rest() -> None:
    props = {"spec": {"z": 1, "a": [{"y": 1, "b": 2}], "kind": "k"}, "metadata": {"name": "n", "labels": {}},
             "kind": "Pod", "data": 1, "apiVersion": "v1"}
    out = ordered_manifest(props)
    assert list(out) == ["apiVersion", "kind", "metadata", "data", "spec"]
    assert list(out["metadata"]) == ["labels", "name"]
    assert list(out["spec"]) == ["a", "kind", "z"], "apiVersion/kind/metadata come first only at the top"
    assert list(out["spec"]["a"][0]) == ["b", "y"]
    assert out == props


def test_ordered_manifest_sorts_non_string_keys_by_their_text() -> None:
    props: dict[Any, int] = {"b": 1, 10: 2, 9: 3}
    assert list(ordered_manifest(props)) == [10, 9, "b"]


def test_chart_record_is_redacted_and_ordered() -> None:
    props = {
        "chart": "cert-manager",
        "version": "1.2.3",
        "namespace": "cert-manager",
        "repositoryOpts": {"repo": "https://charts.example"},
        "values": {"b": 1, "a": {"password": "p"}},
    }
    rec = record(props, ("values", "a", "password"), type_="kubernetes:helm.sh/v3:Release", name="cm")
    doc = chart_record(rec)
    assert doc == {
        "chart": "cert-manager",
        "name": "cm",
        "namespace": "cert-manager",
        "repository": "https://charts.example",
        "type": "kubernetes:helm.sh/v3:Release",
        "values": {"a": {"password": R}, "b": 1},
        "version": "1.2.3",
    }
    assert list(doc) == ["chart", "name", "namespace", "repository", "type", "values", "version"]
    assert list(doc["values"]) == ["a", "b"]


def test_chart_record_defaults() -> None:
    doc = chart_record(record({"name": "given"}, type_="kubernetes:helm.sh/v4:Chart", name="logical"))
    assert doc == {"chart": None, "name": "given", "namespace": None, "repository": None,
                   "type": "kubernetes:helm.sh/v4:Chart", "values": {}, "version": None}
    assert chart_record(record({"repositoryOpts": None, "values": None}, name="logical"))["name"] == "logical"


# --- the output folder ---------------------------------------------------------------------------------------


def test_prepare_out_dir_creates_a_marked_folder(tmp_path: Path) -> None:
    out = tmp_path / "new" / "plan"
    prepare_out_dir(out)
    assert sorted(p.name for p in out.iterdir()) == [MARKER]
    assert (out / MARKER).read_text() == (
        "Written by `sitekit plan`; the whole folder is replaced on the next plan.\n"
    )


def test_prepare_out_dir_replaces_a_previous_plan(tmp_path: Path) -> None:
    out = tmp_path / "plan"
    prepare_out_dir(out)
    (out / "a").mkdir()
    (out / "a" / "old.yaml").write_text("x")
    prepare_out_dir(out)
    assert sorted(p.name for p in out.iterdir()) == [MARKER]


def test_prepare_out_dir_reuses_an_empty_folder(tmp_path: Path) -> None:
    out = tmp_path / "empty"
    out.mkdir()
    prepare_out_dir(out)
    assert sorted(p.name for p in out.iterdir()) == [MARKER]


def test_prepare_out_dir_refuses_a_foreign_folder(tmp_path: Path) -> None:
    out = tmp_path / "home"
    out.mkdir()
    (out / "thesis.tex").write_text("precious")
    with pytest.raises(UserError) as err:
        prepare_out_dir(out)
    assert str(err.value) == f"{out}: not empty and not written by `sitekit plan`; choose another --out"
    assert (out / "thesis.tex").read_text() == "precious"


def test_prepare_out_dir_refuses_a_file(tmp_path: Path) -> None:
    out = tmp_path / "file"
    out.write_text("x")
    with pytest.raises(UserError) as err:
        prepare_out_dir(out)
    assert str(err.value) == f"{out}: exists and is not a folder"
    assert out.read_text() == "x"


LONG = " ".join(["word"] * 22)  # 109 characters: one line at width 120, folded at the default 80


def test_dump_keeps_order_block_style_unicode_and_long_lines() -> None:
    document = {"kind": "ConfigMap", "apiVersion": "v1", "data": {"k": "ä" * 20, "l": [1, 2], "m": LONG}}
    text = dump(document, "sitekit plan ee")
    assert text == (
        "# sitekit plan ee\n"
        "kind: ConfigMap\n"
        "apiVersion: v1\n"
        "data:\n"
        f"  k: {'ä' * 20}\n"
        "  l:\n"
        "  - 1\n"
        "  - 2\n"
        f"  m: {LONG}\n"
    )


def test_dump_folds_at_120_columns() -> None:
    assert dump({"m": "x" * 117 + " y"}, "h") == "# h\nm: " + "x" * 117 + " y\n"  # 120 columns before the space
    assert dump({"m": "x" * 118 + " y"}, "h") == "# h\nm: " + "x" * 118 + "\n  y\n"  # 121: folded


def test_dump_writes_plain_yaml_only() -> None:
    """No !!python/object tags in a plan: an object YAML cannot represent safely is an error."""
    with pytest.raises(yaml.representer.RepresenterError):
        dump({"a": object()}, "h")


def test_write_files_writes_each_document_with_the_header(tmp_path: Path) -> None:
    write_files(tmp_path, {"b/x.yaml": {"a": 1}, "a/deep/y.yaml": {"b": [2]}, "b/z.yaml": {"c": "d"},
                           "top.yaml": {}}, "hdr")
    assert (tmp_path / "b" / "x.yaml").read_text() == "# hdr\na: 1\n"
    assert (tmp_path / "b" / "z.yaml").read_text() == "# hdr\nc: d\n"
    assert (tmp_path / "a" / "deep" / "y.yaml").read_text() == "# hdr\nb:\n- 2\n"
    assert (tmp_path / "top.yaml").read_text() == "# hdr\n{}\n"
