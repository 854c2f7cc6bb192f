"""Reading site files strictly.

PyYAML's default loader accepts duplicate keys (the last one silently wins) and YAML 1.1 booleans, so
`code: NO` (Norway) would load as `False`. Site files are read with YAML 1.2-style booleans (only
true/false) and duplicate keys are an error that names the line.

Bad input must cost an error, not the machine, so three more limits apply before anything is built:

- a file above `MAX_FILE_BYTES` (256 KiB) is refused unread (site files are a few KB);
- aliases (`*name`) are refused: none of the demo sites or docs uses one, and nine levels of nine
  aliases to a list ("billion laughs") expand to hundreds of millions of values once merged and
  validated. Shared values go in baseline.yaml, which is what it is for (merge keys are refused likewise);
- an integer is at most `MAX_INT_CHARS` characters and below 2**63 in size: Python refuses to parse
  integers over 4300 digits (a ValueError deep in the constructor), and no site field needs more than
  a 64-bit value.
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
        direct path refuses an alias or an oversized integer outright, gives up on anything else (a merge
        key, another tag, a duplicate key, a failure of any kind) and PyYAML's constructor then builds the
        document, or raises its error, exactly as before; an alias in a document it built is refused after.
        """
        try:
            return _plain(self, node, set())
        except _Refused as exc:
            raise exc.error() from None
        except Exception:
            pass
        data = super().construct_document(node)  # its errors (merge keys, duplicates) first, as before
        try:
            _refuse_aliases(node, set())  # shared objects are cheap here, but merging and validating expand them
        except _Refused as exc:
            raise exc.error() from None
        return data


# The largest site file read, in bytes. The demo's are under 3 KB and a country with a hundred hosts, models
# and tenants about 50 KB. Reading costs memory per value before anything can be checked: a file of only
# `- 1` lines took 130 MB and 3 s of CPU at 1 MiB (a flow list 230 MB), about a quarter of that at 256 KiB.
MAX_FILE_BYTES = 256 << 10
# The longest integer literal accepted (characters, sign and underscores included) and the magnitude bound.
MAX_INT_CHARS = 32
MAX_INT = 2**63

# Resolved tags by (loader or dumper class, scalar text, implicit flags), for `CachedResolver.resolve`.
_TAGS: dict[tuple[type, str, Any], str] = {}
_TAGS_MAX = 1 << 16

_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_INT = "tag:yaml.org,2002:int"
_SCALARS = {
    "tag:yaml.org,2002:float": yaml.SafeLoader.construct_yaml_float,
    "tag:yaml.org,2002:bool": yaml.SafeLoader.construct_yaml_bool,
    "tag:yaml.org,2002:null": yaml.SafeLoader.construct_yaml_null,
}


class _NotPlain(Exception):
    """The document needs PyYAML's own constructor."""


def _alias_reason(node: yaml.Node) -> str:
    """Why an alias is refused; an alias node is its anchor's node, so the anchor is what has a line."""
    mark = node.start_mark
    return (
        f"an alias (*name) of the value anchored at line {mark.line + 1}, column {mark.column + 1}: YAML aliases"
        " are not supported in site files (a few of them can expand to billions of values); write the values"
        " out, or put shared values in baseline.yaml"
    )


class _Refused(Exception):
    """A value site files never accept (an alias, an oversized integer): an error, whichever constructor runs.

    `path` is filled in on the way out of `_plain`, so the error names the field as well as the line.
    """

    def __init__(self, node: yaml.Node, reason: str, *, marked: bool = True) -> None:
        super().__init__(reason)
        self.node, self.reason, self.marked = node, reason, marked
        self.path: list[str | int] = []

    def error(self) -> yaml.constructor.ConstructorError:
        """The refusal as PyYAML's marked error; `path` rides along for the loader's issue."""
        mark = self.node.start_mark if self.marked else None
        exc = yaml.constructor.ConstructorError(None, None, self.reason, mark)
        exc.field_path = tuple(self.path)  # type: ignore[attr-defined]
        return exc


def _checked_int(node: yaml.ScalarNode) -> None:
    """Refuse an integer literal too long for Python to parse or too large for any site field."""
    if len(node.value) > MAX_INT_CHARS:
        raise _Refused(
            node,
            f"an integer of {len(node.value)} characters is too large: site fields take integers below 2**63",
        )


def _plain(loader: StrictLoader, node: yaml.Node, seen: set[int]) -> Any:
    """`node` as Python data, or `_NotPlain` (or any other exception) if it is not a plain document.

    `_Refused` is raised for what no constructor may build (an alias, an oversized integer).
    """
    if id(node) in seen:  # an alias: the same node in two places
        raise _Refused(node, _alias_reason(node), marked=False)
    seen.add(id(node))
    tag = node.tag
    if type(node) is yaml.ScalarNode:
        if tag == "tag:yaml.org,2002:str":
            return node.value
        if tag == _INT:
            _checked_int(node)
            value = loader.construct_yaml_int(node)
            if not -MAX_INT < value < MAX_INT:
                raise _Refused(node, f"integer {node.value} is too large: site fields take integers below 2**63")
            return value
        if tag in _SCALARS:
            return _SCALARS[tag](loader, node)
        raise _NotPlain(tag)
    if type(node) is yaml.SequenceNode and tag == _SEQ:
        out_list = []
        for index, item in enumerate(node.value):
            try:
                out_list.append(_plain(loader, item, seen))
            except _Refused as exc:
                exc.path.insert(0, index)
                raise
        return out_list
    if type(node) is yaml.MappingNode and tag == _MAP:
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _plain(loader, key_node, seen)
            if key in out:  # PyYAML's constructor raises the duplicate-key error with its lines
                raise _NotPlain("duplicate key")
            try:
                out[key] = _plain(loader, value_node, seen)
            except _Refused as exc:
                exc.path.insert(0, key if isinstance(key, int | str) else str(key))
                raise
        return out
    raise _NotPlain(tag)


def _refuse_aliases(node: yaml.Node, seen: set[int]) -> None:
    """`_Refused` at the first node reached twice (an alias), for documents PyYAML's constructor built."""
    if id(node) in seen:
        raise _Refused(node, _alias_reason(node), marked=False)
    seen.add(id(node))
    if isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            try:
                _refuse_aliases(item, seen)
            except _Refused as exc:
                exc.path.insert(0, index)
                raise
    elif isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            _refuse_aliases(key_node, seen)
            try:
                _refuse_aliases(value_node, seen)
            except _Refused as exc:
                exc.path.insert(0, str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else "?")
                raise


def _construct_int(loader: StrictLoader, node: yaml.ScalarNode) -> int:
    """PyYAML's int constructor behind the same bounds as the direct path (for documents it builds)."""
    try:
        _checked_int(node)
    except _Refused as exc:
        raise exc.error() from None
    value: int = loader.construct_yaml_int(node)
    if not -MAX_INT < value < MAX_INT:
        raise _Refused(node, f"integer {node.value} is too large: site fields take integers below 2**63").error()
    return value


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
StrictLoader.add_constructor(_INT, _construct_int)


class YamlProblem(Exception):
    """A file that is not readable YAML; the message names the line, `path` the field when it is known."""

    def __init__(self, message: str, path: tuple[str | int, ...] = ()) -> None:
        super().__init__(message)
        self.path = path


def read_yaml(path: Path) -> Any:
    """Parse one file strictly; raise `YamlProblem` with a line-numbered reason."""
    try:
        with path.open("rb") as stream:
            data = stream.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise YamlProblem(f"cannot read: {exc.strerror}") from None
    if len(data) > MAX_FILE_BYTES:
        raise YamlProblem(f"file is larger than {MAX_FILE_BYTES >> 10} KiB, far beyond any site file; refused unread")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise YamlProblem(f"not UTF-8 text ({exc.reason})") from None
    try:
        return yaml.load(text, Loader=StrictLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise YamlProblem(f"{where}{exc.problem or exc}", getattr(exc, "field_path", ())) from None
    except yaml.YAMLError as exc:
        raise YamlProblem(str(exc)) from None
    except RecursionError:
        raise YamlProblem("nesting too deep") from None
    except (ValueError, OverflowError) as exc:  # e.g. a timestamp like 2024-13-01 that the resolver matched
        raise YamlProblem(f"unreadable value: {exc}") from None
