"""What every dataset reader shares: templates from data files, seeded draws, streamed JSON, records.

Prompts are not in code: `templates/dataoptim.json` holds DataOptim's captioning prompts and
instructions (its README's prompt table and the records of `example/example-byod.json`), and
`templates/shikra_{rec,reg}.json` Shikra's grounding templates, as those projects ship them.

A template is drawn per sample from the run's seed and the sample id alone (a hash, not a shared
random stream), so a draw does not depend on which other samples were read, capped or skipped.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterator, Sequence
from functools import cache
from importlib import resources
from itertools import chain
from pathlib import Path
from typing import Any, NamedTuple

from synthloop.formats.boxes import format_box, normalize
from synthloop.formats.common import FormatError, Rejected, utf8_problem
from synthloop.formats.json_list import JsonListError, iter_item_batches, iter_pairs
from synthloop.sample import IMAGE_TOKEN

TEMPLATES = resources.files("synthloop.formats.ingest") / "templates"


@cache
def template_file(name: str) -> dict:
    """One templates file (`dataoptim`, `shikra_rec`, `shikra_reg`) as shipped in the package."""
    return json.loads((TEMPLATES / f"{name}.json").read_text(encoding="utf-8"))


def dataoptim(key: str) -> Any:
    return template_file("dataoptim")[key]


def draw(options: Sequence[str], seed: int, key: str) -> str:
    """One of `options`, chosen by (seed, key) only: the same seed and id give the same prompt."""
    digest = hashlib.blake2b(f"{seed}\0{key}".encode(), digest_size=8).digest()
    return options[int.from_bytes(digest, "big") % len(options)]


class MissingImage(Rejected):
    """A record whose image is not under `--images`: always quarantined, never dropped silently."""


class RecordError(ValueError):
    """A record that breaks its dataset's schema (the message says which field)."""


def field(record: Any, name: str) -> Any:
    """`record[name]`, or RecordError naming the missing field."""
    try:
        value = record[name]
    except (KeyError, TypeError, IndexError):
        value = None
    if value is None or value == "":
        if not isinstance(record, dict):
            raise RecordError(f"expected a JSON object, got {type(record).__name__}")
        raise RecordError(f"missing field {name!r}")
    return value


def text_field(record: Any, name: str) -> str:
    value = field(record, name)
    if type(value) is str:
        return value
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise RecordError(f"field {name!r} must be text, got {type(value).__name__}")
    return str(value)


def int_field(record: Any, name: str) -> int:
    """`int(record[name])` (an integer, or the text of one), or RecordError naming the field."""
    value = field(record, name)
    try:
        return int(value)
    except (TypeError, ValueError):
        raise RecordError(f"field {name!r} must be an integer, got {value!r}") from None


def texts(records: Any, name: str, where: str) -> list[str]:
    """`[record[name] for record in records]`, every one a non-empty string, or RecordError."""
    try:
        values = [record[name] for record in records]
        "".join(values)  # a TypeError unless every value is a string (checked in C, not per value)
    except (KeyError, TypeError, IndexError):
        values = None
    if not values or "" in values:
        if not isinstance(records, list) or not records:
            raise RecordError(f"{where} must be a non-empty list")
        return [text_field(record, name) for record in records]
    return values


def most_common(answers: Sequence[str]) -> str:
    """The most frequent answer (the first seen among equals), as VQA's `multiple_choice_answer`."""
    return Counter(answers).most_common(1)[0][0]


class Where(NamedTuple):
    """Where a record is: its file and its 1-based position there (or its key in a keyed file).
    A NamedTuple, as one is made per record (a frozen dataclass costs a few times more)."""

    file: Path
    index: int
    key: str | None = None

    def rejected(self, reason: str, record: Any, sample_id: str | None = None) -> Rejected:
        return Rejected(str(self.file), reason, index=self.index, sample_id=sample_id or self.key, record=record)


def stream_items(path: Path, prefix: str) -> Iterator[Any]:
    """The items of the JSON list at `prefix` in `path` ("item" for a top-level list,
    "questions.item" for `{"questions": [...]}`), streamed: memory holds one chunk of the file."""
    return chain.from_iterable(_named(path, iter_item_batches(path, tuple(prefix.split(".")[:-1]))))


def stream_pairs(path: Path) -> Iterator[tuple[str, Any]]:
    """(key, value) of the top-level JSON object in `path`, streamed."""
    return _named(path, iter_pairs(path))


def _named(path: Path, values: Iterator[Any]) -> Iterator[Any]:
    """`values`, with a malformed file's error as one line naming it."""
    try:
        yield from values
    except JsonListError as err:
        raise FormatError(f"{path}: {err}") from None
    except UnicodeDecodeError:
        raise FormatError(f"{path}: {utf8_problem(path)}") from None


def require_items(path: Path, prefix: str, what: str) -> Iterator[Any]:
    """`stream_items`, but a file with no items at `prefix` is an error naming what was expected
    (the wrong file given, or the right one cut short)."""
    items = stream_items(path, prefix)
    for first in items:
        return chain((first,), items)
    where = prefix.removesuffix("item").removesuffix(".") or "the top level"
    raise FormatError(f"{path}: no {what} at {where!r}; is this the right file?")


def one_turn(sample_id: str, image: str, prompt: str, answer: str, *, task: str, qtype: str, source: str,
             meta: dict, image_first: bool = True) -> dict:
    """A single-image question and its answer; `<image>` leads the prompt as in DataOptim's files,
    unless the prompt places it itself (Shikra's templates). The canonical dict is built here in one
    step (`new_sample`'s fields and order), as this runs once per ingested sample."""
    if image_first:
        user, literal = f"{IMAGE_TOKEN}\n{prompt}", IMAGE_TOKEN in prompt
    else:
        user, literal = prompt, prompt.count(IMAGE_TOKEN) != 1
    if literal or IMAGE_TOKEN in answer:
        raise RecordError(f"the question or answer holds a literal {IMAGE_TOKEN}")
    return {"id": sample_id, "images": [{"bytes": None, "path": image}],
            "messages": [{"role": "user", "content": user}, {"role": "assistant", "content": answer}],
            "task": task, "qtype": qtype, "source": source, "meta": meta, "scores": {}}


def short_answer(question: str) -> str:
    """DataOptim's open-ended VQA prompt: the question, then the short-answer instruction."""
    return _short_answer_template().format(question=question.strip())


@cache
def _short_answer_template() -> str:
    return dataoptim("short_answer")


def box_text(box: Sequence[float], width: float, height: float) -> tuple[list[float], str]:
    """A pixel box `[x1, y1, x2, y2]` -> (normalised box, its text `[0.0, 0.106, 0.827, 1.0]`).

    Normalised on the original image and clamped to [0, 1] as Shikra's `norm_box_xyxy` does
    (shikras/shikra mllm/dataset/utils/transform.py @ ff79a4c), rounded to 3 decimals as DataOptim's
    `tools/expand_to_square.py` writes them (Python floats: `0.0`, `0.106`).
    """
    x1, y1, x2, y2 = (float(v) for v in box)
    clamped = [min(max(x1, 0.0), width), min(max(y1, 0.0), height),
               min(max(x2, 0.0), width), min(max(y2, 0.0), height)]
    normalised = normalize(clamped, width, height)
    return normalised, format_box(normalised)
