"""Reading site files strictly.

PyYAML's default loader accepts duplicate keys (the last one silently wins) and YAML 1.1 booleans, so
`code: NO` (Norway) would load as `False`. Site files are read with YAML 1.2-style booleans (only
true/false) and duplicate keys are an error that names the line.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

# libyaml's parser when PyYAML has it (several times faster); resolution and construction stay in Python,
# so the strict rules below apply to both.
_Base: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class CachedResolver(yaml.resolver.BaseResolver):
    """Mixin for a loader or dumper: the resolver's tag for a scalar, remembered across documents.

    The parser asks for every scalar which type its text is, and the serializer asks twice per scalar
    whether its text would read back as another type; site files and rendered files repeat the same keys
    and many values. Without path resolvers the answer depends only on the class, the text and
    `implicit`, so it is looked up instead of matched against the resolver's regexes again. List it
    before the PyYAML base class (`class L(CachedResolver, yaml.SafeLoader)`).
    """

    def resolve(self, kind: type[yaml.Node], value: Any, implicit: Any) -> str:
        if kind is not yaml.ScalarNode or self.yaml_path_resolvers:
            return str(super().resolve(kind, value, implicit))  # type: ignore[no-untyped-call]
        key = (type(self), value, implicit)
        tag = _TAGS.get(key)
        if tag is None:
            tag = str(super().resolve(kind, value, implicit))  # type: ignore[no-untyped-call]
            if len(_TAGS) >= _TAGS_MAX:
                _TAGS.clear()  # a crude bound: a fleet's distinct scalars fit many times over
            _TAGS[key] = tag
        return tag


class StrictLoader(CachedResolver, _Base):  # type: ignore[valid-type,misc]
    """Safe loader with duplicate-key errors and only `true`/`false` as booleans."""

    def construct_document(self, node: yaml.Node) -> Any:
        """Plain documents (str/int/float/bool/null scalars, lists, maps) built directly, others as PyYAML does.

        PyYAML's constructor defers every collection through generators and a constructed-objects table
        to support aliases and recursion, which site files never use; that was half of reading them. The
        direct path gives up on anything else (an alias, a merge key, another tag, a duplicate key, a
        failure of any kind) and PyYAML's constructor then builds the document, or raises its error,
        exactly as before.
        """
        try:
            return _plain(self, node, set())
        except Exception:
            return super().construct_document(node)


# Resolved tags by (loader or dumper class, scalar text, implicit flags), for `CachedResolver.resolve`.
_TAGS: dict[tuple[type, str, Any], str] = {}
_TAGS_MAX = 1 << 16

_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_SCALARS = {
    "tag:yaml.org,2002:int": yaml.SafeLoader.construct_yaml_int,
    "tag:yaml.org,2002:float": yaml.SafeLoader.construct_yaml_float,
    "tag:yaml.org,2002:bool": yaml.SafeLoader.construct_yaml_bool,
    "tag:yaml.org,2002:null": yaml.SafeLoader.construct_yaml_null,
}


class _NotPlain(Exception):
    """The document needs PyYAML's own constructor."""


def _plain(loader: StrictLoader, node: yaml.Node, seen: set[int]) -> Any:
    """`node` as Python data, or `_NotPlain` (or any other exception) if it is not a plain document."""
    tag = node.tag
    if type(node) is yaml.ScalarNode:
        if tag == "tag:yaml.org,2002:str":
            return node.value
        if tag in _SCALARS:
            return _SCALARS[tag](loader, node)
        raise _NotPlain(tag)
    if id(node) in seen:  # an alias: the same object in two places, which only PyYAML's constructor keeps
        raise _NotPlain("alias")
    seen.add(id(node))
    if type(node) is yaml.SequenceNode and tag == _SEQ:
        return [_plain(loader, item, seen) for item in node.value]
    if type(node) is yaml.MappingNode and tag == _MAP:
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _plain(loader, key_node, seen)
            if key in out:  # PyYAML's constructor raises the duplicate-key error with its lines
                raise _NotPlain("duplicate key")
            out[key] = _plain(loader, value_node, seen)
        return out
    raise _NotPlain(tag)


StrictLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def _construct_mapping(loader: StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        if not isinstance(key_node, yaml.ScalarNode):  # `? [a, b]: x` would crash dict() as unhashable
            kind = "list" if isinstance(key_node, yaml.SequenceNode) else "mapping"
            raise yaml.constructor.ConstructorError(
                "while reading a mapping",
                node.start_mark,
                f"a key must be a plain value, not a {kind}",
                key_node.start_mark,
            )
        if key_node.tag == "tag:yaml.org,2002:merge":
            raise yaml.constructor.ConstructorError(
                "while reading a mapping",
                node.start_mark,
                "YAML merge keys (<<) are not supported in site files: write the values out, or put shared"
                " values in baseline.yaml",
                key_node.start_mark,
            )
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                "while reading a mapping",
                node.start_mark,
                f"duplicate key {key!r} (first at line {seen[key] + 1})",
                key_node.start_mark,
            )
        seen[key] = key_node.start_mark.line
    mapping: dict[Any, Any] = loader.construct_mapping(node, deep=deep)
    return mapping


StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


class YamlProblem(Exception):
    """A file that is not readable YAML; the message names the line."""


def read_yaml(path: Path) -> Any:
    """Parse one file strictly; raise `YamlProblem` with a line-numbered reason."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise YamlProblem(f"not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise YamlProblem(f"cannot read: {exc.strerror}") from None
    try:
        return yaml.load(text, Loader=StrictLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise YamlProblem(f"{where}{exc.problem or exc}") from None
    except yaml.YAMLError as exc:
        raise YamlProblem(str(exc)) from None
    except RecursionError:
        raise YamlProblem("nesting too deep") from None
