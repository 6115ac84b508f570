"""YAML configs with line numbers: every validation error names the file, the line and the key.

A config is untrusted input, so loading is bounded: a duplicate key is an error (YAML would keep the
last silently), nesting is at most MAX_DEPTH deep (the composer recurses), aliases may expand to at
most MAX_NODES nodes (a billion-laughs document is a few lines), and integers fit in 64 bits.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

Model = TypeVar("Model", bound=BaseModel)

# Validation context key: models may check that the files a config names exist (only when asked:
# a config read to be described rather than run may name inputs written later).
CHECK_FILES = "check_files"
MAX_DEPTH = 64
MAX_NODES = 100_000
MAX_INT = 2**63 - 1


class YamlLimitError(yaml.YAMLError):
    """A YAML document over a loading limit, or with a duplicate key; `line` is 1-based."""

    def __init__(self, line: int, problem: str):
        super().__init__(f"line {line}: {problem}")
        self.line, self.problem = line, problem


def load_validated(model: type[Model], path: str | Path, error: type[Exception], shape: str,
                   context: dict | None = None) -> Model:
    """Read YAML at `path` and validate it as `model` (with pydantic validation `context`); raise `error`
    with one line naming the file, line and key of the first problem (`shape` says what the top level
    must be when it is not a mapping)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
        text = raw.decode("utf-8")
        data, lines = load_yaml_with_lines(text)
    except OSError as err:
        raise error(f"{path}: {err.strerror or err}") from None
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        raise error(f"{path} line {line}: not valid UTF-8 (byte {err.start})") from None
    except YamlLimitError as err:
        raise error(f"{path} line {err.line}: {err.problem}") from None
    except yaml.reader.ReaderError as err:  # a character YAML does not allow; it has a position, no mark
        line = text.count("\n", 0, err.position) + 1
        raise error(f"{path} line {line}: invalid YAML: character #x{err.character:04x} is not allowed") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        problem = " ".join(str(getattr(err, "problem", None) or err).split())
        raise error(f"{path}{where}: invalid YAML: {problem}") from None
    if not isinstance(data, dict):
        raise error(f"{path}: {shape}")
    try:
        return model.model_validate(data, context=context)
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
    return f"{source}{f' line {line}' if line else ''}: {_dotted(loc)}: {message}"


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
    """Parse YAML; also map every key path (tuple of keys / list indices) to its 1-based line.

    Raises YamlLimitError (a YAMLError) for a duplicate key or a document over the loading limits."""
    _check_depth(text)
    node = yaml.compose(text, Loader=_Yaml12Loader)
    lines: dict[tuple, int] = {}
    if node is None:
        return None, lines
    _expanded_size(node, {})
    lines[()] = node.start_mark.line + 1
    _collect_lines(node, (), lines)
    data = yaml.load(text, Loader=_Yaml12Loader)  # noqa: S506  (a SafeLoader subclass)
    _check_ints(data, (), lines)
    return data, lines


def _check_depth(text: str) -> None:
    """Nesting depth from the parser's events (the parser keeps its own stack; the composer recurses)."""
    depth = 0
    for event in yaml.parse(text, Loader=_Yaml12Loader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise YamlLimitError(event.start_mark.line + 1, f"nested more than {MAX_DEPTH} levels deep")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def _expanded_size(node: yaml.Node, sizes: dict[int, int]) -> int:
    """Nodes in the document once aliases are expanded (counted once per distinct node, so a
    billion-laughs document is measured without being expanded)."""
    if id(node) not in sizes:
        children = ([n for pair in node.value for n in pair] if isinstance(node, yaml.MappingNode) else
                    node.value if isinstance(node, yaml.SequenceNode) else [])
        sizes[id(node)] = 1 + sum(_expanded_size(child, sizes) for child in children)
        if sizes[id(node)] > MAX_NODES:
            raise YamlLimitError(node.start_mark.line + 1, f"aliases expand to more than {MAX_NODES} nodes")
    return sizes[id(node)]


def _check_ints(value: Any, path: tuple, lines: dict[tuple, int]) -> None:
    if isinstance(value, bool):
        return
    if isinstance(value, int) and not -MAX_INT <= value <= MAX_INT:
        raise YamlLimitError(_line_of(path, lines) or 1, f"{_dotted(path)}: integer {value} does not fit in 64 bits")
    children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in children:
        _check_ints(child, (*path, key), lines)


def _dotted(loc: tuple) -> str:
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc).lstrip(".") or "recipe"


def _collect_lines(node: yaml.Node, path: tuple, lines: dict[tuple, int]) -> None:
    if isinstance(node, yaml.MappingNode):
        first_line: dict[Any, int] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                raise YamlLimitError(line, f"{_dotted(path)}: a key must be a plain value")
            child = (*path, key_node.value)
            if key_node.value in first_line:
                raise YamlLimitError(line, f"{_dotted(child)}: duplicate key (first at line "
                                           f"{first_line[key_node.value]})")
            first_line[key_node.value] = line
            lines[child] = line
            _collect_lines(value_node, child, lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            child = (*path, index)
            lines[child] = item.start_mark.line + 1
            _collect_lines(item, child, lines)
