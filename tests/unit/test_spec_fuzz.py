"""Property-based: malformed and random site files always give a clear SpecError, never a traceback."""

from __future__ import annotations

import copy
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
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


# --- bad input that used to escape as MemoryError or ValueError, and names Kubernetes would refuse ---

SENTINEL = "sitekit-fuzz-sentinel"


@settings(max_examples=60)
@given(
    path=st.sampled_from(ALL_PATHS),
    text=st.one_of(
        st.integers(4300, 6000).map(lambda n: "9" * n),
        st.integers(33, 200).map(lambda n: "-" + "1" * n),
        st.integers(2**63, 2**80).map(str),
        st.integers(16, 40).map(lambda n: "0x" + "f" * n),
    ),
)
def test_oversized_integers_anywhere(tmp_path: Path, path: tuple[Any, ...], text: str) -> None:
    """An integer Python cannot parse, or beyond 64 bits, at any field: a SpecError, never a ValueError."""
    doc = yaml.safe_dump(mutate(EE, path, SENTINEL, False), allow_unicode=True)
    load_text(tmp_path, doc.replace(SENTINEL, text))


@settings(max_examples=60)
@given(
    path=st.sampled_from(ALL_PATHS),
    levels=st.integers(1, 12),
    width=st.integers(1, 12),
    scalar=st.booleans(),
)
def test_aliases_anywhere(tmp_path: Path, path: tuple[Any, ...], levels: int, width: int, scalar: bool) -> None:
    """Anchors and aliases (up to 12 levels of 12: far past memory if expanded) at any field: a SpecError."""
    anchors = "".join(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]\n" for i in range(1, levels))
    anchors = ("a0: &a0 x\n" if scalar else "a0: &a0 [x]\n") + anchors
    doc = yaml.safe_dump(mutate(EE, path, SENTINEL, False), allow_unicode=True)
    with_alias = doc.replace(repr(SENTINEL).strip("'"), f"*a{levels - 1}")
    load_text(tmp_path, anchors + with_alias)
    with pytest.raises(SpecError) as info:
        load_fleet(tmp_path / "sites")
    assert any("YAML aliases are not supported in site files" in i.reason for i in info.value.issues)


K8S_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
names = st.one_of(
    st.text(max_size=80),
    st.from_regex(r"[a-z0-9][-a-z0-9]{0,70}[a-z0-9]", fullmatch=True),
    st.from_regex(r"[A-Za-z0-9][-A-Za-z0-9]{0,50}", fullmatch=True),
)


@settings(max_examples=200)
@given(model=names, tenant=names, gpu=names, group=st.text(max_size=40))
def test_validated_names_are_names_kubernetes_accepts(
    tmp_path: Path, model: str, tenant: str, gpu: str, group: str
) -> None:
    """Whatever names a site holds once it validates, every object name and label derived from them is valid."""
    doc = copy.deepcopy(EE)
    doc["models"][0]["name"] = model
    doc["tenants"][0]["name"] = tenant
    doc["tenants"][0]["groups"] = [group]
    doc["hosts"][1]["gpu"]["model"] = doc["hosts"][2]["gpu"]["model"] = doc["models"][0]["gpu_model"] = gpu
    sites = tmp_path / "names"
    if sites.exists():
        shutil.rmtree(sites)
    shutil.copytree(ROOT / "sites", sites)
    (sites / "ee.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True))
    try:
        site = load_fleet(sites).site("ee")
    except SpecError:
        return
    m, t = site.models[0], site.tenants[0]
    assert DNS1035_LABEL.match(m.name) and len(m.name) <= 63  # Service, Deployment, ServiceAccount
    assert K8S_LABEL_VALUE.match(m.name)  # app.kubernetes.io/name
    assert len(f"{m.name}-locale") <= 253 and len(f"{m.name}.{site.network.ingress_domain}") <= 253
    assert DNS1123_LABEL.match(f"tenant-{t.name}") and len(f"tenant-{t.name}") <= 63  # namespace
    assert K8S_LABEL_VALUE.match(t.name) and len(t.name) <= 63  # tenant label
    assert all("/" not in g and "%" not in g and len(f"tenant-developer-{g}") <= 253 for g in t.groups)
    for value in (f"NVIDIA-{m.gpu_model}", f"NVIDIA-{m.gpu_model}-SHARED"):
        assert K8S_LABEL_VALUE.match(value) and len(value) <= 63, value


@settings(max_examples=300)
@given(text=st.text(max_size=6))
def test_country_code_rule(text: str) -> None:
    """Exactly two ASCII letters in either case, normalised to lower case; everything else refused."""
    from sitekit.spec.codes import CountryCodeError, country_code

    try:
        cc = country_code(text)
    except CountryCodeError as exc:
        assert not re.fullmatch(r"[A-Za-z]{2}", text)
        assert "is not a country code" in str(exc)
    else:
        assert cc == text.lower() and re.fullmatch(r"[a-z]{2}", cc)
