"""Property-based: malformed and random site files always give a clear SpecError, never a traceback."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sitekit.cli import main
from sitekit.spec import SpecError, load_fleet

ROOT = Path(__file__).resolve().parents[2]
EE = yaml.safe_load((ROOT / "sites" / "ee.yaml").read_text())

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True),
    st.text(max_size=30), st.sampled_from(["10.20.0.0/24", "10.20.0.300", "::1", "EE", "1.30", "-1", ""]),
)
trees = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)


def paths(tree: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(tree, dict):
        for k, v in tree.items():
            out += paths(v, (*prefix, k))
    elif isinstance(tree, list):
        for i, v in enumerate(tree):
            out += paths(v, (*prefix, i))
    return out


ALL_PATHS = [p for p in paths(EE) if p]


def mutate(doc: Any, path: tuple[Any, ...], value: Any, delete: bool) -> Any:
    doc = copy.deepcopy(doc)
    node = doc
    for part in path[:-1]:
        node = node[part]
    if delete:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return doc


def load_text(tmp: Path, text: str | bytes) -> None:
    sites = tmp / "sites"
    if sites.exists():
        shutil.rmtree(sites)
    shutil.copytree(ROOT / "sites", sites)
    target = sites / "ee.yaml"
    if isinstance(text, bytes):
        target.write_bytes(text)
    else:
        target.write_text(text)
    try:
        load_fleet(sites)
    except SpecError as exc:
        assert exc.issues and all(i.file and i.reason for i in exc.issues)
        assert all(i.file.endswith((".yaml", "sites")) for i in exc.issues)


settings.register_profile("sitekit", deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
settings.load_profile("sitekit")


@settings(max_examples=150)
@given(tree=trees)
def test_random_documents(tmp_path: Path, tree: Any) -> None:
    load_text(tmp_path, yaml.safe_dump(tree))


@settings(max_examples=300)
@given(path=st.sampled_from(ALL_PATHS), value=trees, delete=st.booleans())
def test_mutated_valid_site(tmp_path: Path, path: tuple[Any, ...], value: Any, delete: bool) -> None:
    load_text(tmp_path, yaml.safe_dump(mutate(EE, path, value, delete), allow_unicode=True))


@settings(max_examples=100)
@given(data=st.binary(max_size=200) | st.text(max_size=200))
def test_garbage_bytes(tmp_path: Path, data: bytes | str) -> None:
    load_text(tmp_path, data)


@settings(max_examples=40)
@given(tree=trees)
def test_command_exits_0_or_2(tmp_path: Path, tree: Any) -> None:
    sites = tmp_path / "cmd"
    if sites.exists():
        shutil.rmtree(sites)
    shutil.copytree(ROOT / "sites", sites)
    (sites / "ke.yaml").write_text(yaml.safe_dump(tree))
    assert main(["--sites", str(sites), "validate"]) in (0, 2)
