"""YAML configs with line numbers: every validation error names the file, the line and the key."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

Model = TypeVar("Model", bound=BaseModel)


def load_validated(model: type[Model], path: str | Path, error: type[Exception], shape: str) -> Model:
    """Read YAML at `path` and validate it as `model`; raise `error` with one line naming the file,
    line and key of the first problem (`shape` says what the top level must be when it is not a mapping)."""
    path = Path(path)
    try:
        data, lines = load_yaml_with_lines(path.read_text())
    except OSError as err:
        raise error(f"{path}: {err.strerror or err}") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise error(f"{path}{where}: invalid YAML: {getattr(err, 'problem', None) or err}") from None
    if not isinstance(data, dict):
        raise error(f"{path}: {shape}")
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise error(describe_error(err, lines, str(path))) from None


def error_message(error: dict) -> str:
    if error["type"] == "extra_forbidden":
        return "unknown key"
    return error["msg"].removeprefix("Value error, ")


def describe_error(err: ValidationError, lines: dict[tuple, int], source: str) -> str:
    """One line: `source line N: dotted.key: problem` for the first error."""
    first = err.errors()[0]
    loc = tuple(first["loc"]) + tuple((first.get("ctx") or {}).get("path", ()))
    message = first["ctx"]["message"] if first["type"] == "section" else error_message(first)
    line = _line_of(loc, lines)
    key = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc).lstrip(".")
    return f"{source}{f' line {line}' if line else ''}: {key or 'recipe'}: {message}"


def _line_of(loc: tuple, lines: dict[tuple, int]) -> int | None:
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None


class _Yaml12Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans: `on`, `off`, `yes`, `no` stay strings (`exact_dedup: {on: image}`)."""


_BOOL = "tag:yaml.org,2002:bool"
_Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _BOOL]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Yaml12Loader.add_implicit_resolver(_BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))


def load_yaml_with_lines(text: str) -> tuple[Any, dict[tuple, int]]:
    """Parse YAML; also map every key path (tuple of keys / list indices) to its 1-based line."""
    node = yaml.compose(text, Loader=_Yaml12Loader)
    lines: dict[tuple, int] = {}
    if node is not None:
        lines[()] = node.start_mark.line + 1
        _collect_lines(node, (), lines)
    return yaml.load(text, Loader=_Yaml12Loader), lines  # noqa: S506  (a SafeLoader subclass)


def _collect_lines(node: yaml.Node, path: tuple, lines: dict[tuple, int]) -> None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            child = (*path, key_node.value)
            lines[child] = key_node.start_mark.line + 1
            _collect_lines(value_node, child, lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            child = (*path, index)
            lines[child] = item.start_mark.line + 1
            _collect_lines(item, child, lines)
