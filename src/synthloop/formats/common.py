"""What every edge format shares: bad-record reporting, JSON/JSONL streaming, extra fields.

Readers are generators that yield canonical sample dicts, or a `Rejected` for a record they
cannot convert; writers take an iterable of samples and report the samples they cannot write
through `on_bad`. `formats.registry` decides whether a rejection is fatal or quarantined.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from synthloop.formats.json_list import JsonListError, iter_json_list
from synthloop.sample import SampleError, validate_sample

# meta key holding top-level fields of an input record that no canonical field takes; the JSON
# writers put them back at the top level, so a record's unknown fields survive a round trip.
EXTRA_FIELDS = "extra_fields"
# canonical fields the JSON writers emit only when they are not empty
OPTIONAL_FIELDS = ("task", "qtype", "source", "meta", "scores")


class FormatError(ValueError):
    """Bad input: the message names the file, the line or sample, and the problem (one line)."""


@dataclass(frozen=True)
class Rejected:
    """A record (or sample) that cannot be read or written, with where it came from and why."""

    file: str
    reason: str
    line: int | None = None  # 1-based line the record starts on
    index: int | None = None  # 1-based position in a JSON list or tar
    sample_id: str | None = None
    record: Any = None

    def where(self) -> str:
        parts = [self.file]
        if self.line is not None:
            parts.append(f"line {self.line}")
        elif self.index is not None:
            parts.append(f"sample #{self.index}")
        if self.sample_id is not None:
            parts.append(f"id {self.sample_id!r}")
        return ", ".join(parts)

    def message(self) -> str:
        return f"{self.where()}: {self.reason}"

    def to_json(self) -> bytes:
        entry = {"file": self.file, "line": self.line, "index": self.index, "id": self.sample_id,
                 "reason": self.reason, "record": _jsonable(self.record)}
        return orjson.dumps(entry)


OnBad = Callable[[Rejected], None]


def raise_on_bad(rejected: Rejected) -> None:
    raise FormatError(rejected.message())


def _jsonable(value: Any) -> Any:
    """Records as JSON can hold them: image bytes are left out (the path stays)."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items() if not isinstance(v, bytes)}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


@dataclass(frozen=True)
class RawRecord:
    """One parsed JSON record and its position in its file."""

    record: Any
    line: int | None
    index: int


def iter_json_records(path: str | Path) -> Iterator[RawRecord | Rejected]:
    """Records of a JSON list file or a JSONL file, whichever the file is (first byte `[` = list).

    A JSONL line that is not JSON (or not UTF-8) is a `Rejected`; a JSON list that does not parse
    is a `FormatError`, since nothing in it can be trusted.
    """
    path = Path(path)
    with open(path, "rb") as file:
        head = file.read(4096).lstrip()
    if head.startswith(b"\xef\xbb\xbf"):
        raise FormatError(f"{path}: starts with a UTF-8 byte-order mark; save it without one")
    if head.startswith(b"["):
        yield from _iter_json_list(path)
    else:
        yield from _iter_jsonl(path)


def _iter_json_list(path: Path) -> Iterator[RawRecord | Rejected]:
    try:
        for index, (line, record) in enumerate(iter_json_list(path), 1):
            try:  # the standard decoder lets a lone surrogate (`"\ud800"`) and 65-bit integers through
                orjson.dumps(record)
            except TypeError as err:
                yield Rejected(str(path), f"record cannot be stored: {err}", line, index, record=json.dumps(record))
                continue
            yield RawRecord(record, line, index)
    except JsonListError as err:
        raise FormatError(f"{path}: {err}") from None
    except UnicodeDecodeError:
        raise FormatError(f"{path}: {utf8_problem(path)}") from None


def utf8_problem(path: Path) -> str:
    """Where a file stops being UTF-8 (reads the whole file: only on the error path)."""
    data = path.read_bytes()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as bad:
        line = data.count(b"\n", 0, bad.start) + 1
        return f"line {line}: not valid UTF-8 (byte {bad.start})"
    return "not valid UTF-8"


def _iter_jsonl(path: Path) -> Iterator[RawRecord | Rejected]:
    index = 0
    with open(path, "rb") as file:
        for line_no, line in enumerate(file, 1):
            if not line.strip():
                continue
            index += 1
            try:
                yield RawRecord(orjson.loads(line), line_no, index)
            except orjson.JSONDecodeError as err:
                raw = line.decode("utf-8", errors="replace").rstrip("\n")
                yield Rejected(str(path), _decode_problem(line, err), line_no, index, record=raw)


def _decode_problem(line: bytes, err: orjson.JSONDecodeError) -> str:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError as bad:
        return f"not valid UTF-8 (byte {bad.start} of the line)"
    return f"column {err.pos + 1}: malformed JSON ({err.msg})"


def read_json_samples(path: str | Path, to_sample: Callable[[Any, str], dict]) -> Iterator[dict | Rejected]:
    """Valid canonical samples of a JSON/JSONL file, `to_sample(record, fallback_id)` converting each
    record (it raises ValueError on a bad shape); a bad record is yielded as a `Rejected`."""
    path = Path(path)
    stem = path.stem
    for raw in iter_json_records(path):
        if isinstance(raw, Rejected):
            yield raw
            continue
        fallback = f"{stem}_{raw.index}"
        sid = _readable_id(raw.record, fallback)
        try:
            yield validate_sample(to_sample(raw.record, fallback))
        except SampleError as err:
            yield Rejected(str(path), str(err).split(": ", 1)[-1], raw.line, raw.index, sid, raw.record)
        except ValueError as err:
            yield Rejected(str(path), str(err), raw.line, raw.index, sid, raw.record)


def json_reader_with_source(to_sample: Callable[[Any, str, str], dict]) -> Callable[..., Iterator[dict | Rejected]]:
    """A format's `read` over JSON/JSONL whose `to_sample(record, fallback_id, source)` takes the file's stem
    as the samples' source; paths stay relative (only formats that embed images load them)."""
    def read(path: str | Path, image_root: str | Path | None = None) -> Iterator[dict | Rejected]:
        del image_root
        source = Path(path).stem
        return read_json_samples(path, lambda record, fallback: to_sample(record, fallback, source))
    return read


def sample_id(record: dict, fallback: str) -> str:
    """The record's id as a string, `fallback` when it has none; ValueError for an id of another type."""
    value = record.get("id")
    if value is None:
        return fallback
    if isinstance(value, int | str) and not isinstance(value, bool) and str(value):
        return str(value)
    raise ValueError(f"'id' must be a non-empty string or an integer, got {json.dumps(value)[:80]}")


def _readable_id(record: Any, fallback: str) -> str | None:
    """The id to name a rejected record by (its fallback when it has none), if it has a usable one."""
    if not isinstance(record, dict):
        return None
    try:
        return sample_id(record, fallback)
    except ValueError:
        return None


def split_extras(record: dict, known: Iterable[str]) -> dict:
    return {k: v for k, v in record.items() if k not in known}


def canonical_meta(meta: dict | None, extras: dict) -> dict:
    meta = dict(meta or {})
    if extras:
        meta[EXTRA_FIELDS] = extras
    return meta


def optional_fields(sample: dict) -> dict:
    """Non-empty task/qtype/source/meta/scores (meta without the extra fields)."""
    fields = {}
    for name in OPTIONAL_FIELDS:
        value = sample.get(name)
        if name == "meta" and value:
            value = {k: v for k, v in value.items() if k != EXTRA_FIELDS}
        if value:
            fields[name] = value
    return fields


def extra_fields(sample: dict) -> dict:
    return (sample.get("meta") or {}).get(EXTRA_FIELDS) or {}


class JsonRecordWriter:
    """Streams records to a JSON list (`.json`) or JSONL (any other suffix) file."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.as_list = self.path.suffix.lower() == ".json"
        self.file = open(self.path, "wb")  # noqa: SIM115  (closed in close())
        self.count = 0
        if self.as_list:
            self.file.write(b"[")

    def write(self, record: dict) -> None:
        if self.as_list:
            self.file.write(b"\n" if self.count == 0 else b",\n")
            self.file.write(orjson.dumps(record))
        else:
            self.file.write(orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE))
        self.count += 1

    def close(self) -> None:
        if self.as_list:
            self.file.write(b"\n]\n")
        self.file.close()

    def __enter__(self) -> JsonRecordWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
