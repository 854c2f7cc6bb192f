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


class StrictLoader(_Base):  # type: ignore[valid-type,misc]
    """Safe loader with duplicate-key errors and only `true`/`false` as booleans."""


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
