"""Public datasets by name: which annotation files each reads, where its images are, and its reader.

    for sample in ingest("vqav2", [questions, annotations], images="images/", seed=0): ...

A reader is a generator over canonical samples and `Rejected` records. `ingest` passes rejections
to `on_bad` (default: raise a one-line `FormatError` naming the file and record); a record whose
image is not under `--images` is a `MissingImage`, which the CLI always quarantines.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from synthloop.formats.common import FormatError, OnBad, Rejected, raise_on_bad
from synthloop.formats.ingest.common import MissingImage, RecordError, Where, require_items, stream_pairs
from synthloop.formats.ingest.image_folder import ImageFolder


class ImageNotFound(RecordError):
    """Raised by a converter when the record's image is not under `--images`."""


@dataclass(frozen=True)
class Context:
    images: ImageFolder
    seed: int = 0
    split: str | None = None

    def image(self, *candidates: str) -> str:
        """The first candidate path that exists under `--images`, or ImageNotFound; a path that
        would leave `--images` (absolute, or with `..`) is a RecordError."""
        for path in candidates:
            if path.startswith("/") or ".." in path and ".." in path.split("/"):
                raise RecordError(f"image path {path!r} leaves the image folder")
        found = self.images.first(candidates)
        if found is None:
            raise ImageNotFound(self.images.missing(candidates))
        return found


Reader = Callable[[list[Path], Context], Iterator[dict | Rejected]]


@dataclass(frozen=True)
class Dataset:
    name: str
    files: tuple[str, ...]  # the annotation files SRC... names, in order
    images: str  # the folder(s) under --images its images are in (DataOptim's layout)
    split: str | None  # default --split, when the dataset has splits to choose from
    read: Reader
    variadic: bool = False  # one or more files of the same kind


DATASETS: dict[str, Dataset] = {}


def register(name: str, files: tuple[str, ...], images: str, split: str | None = None,
             variadic: bool = False) -> Callable[[Reader], Reader]:
    def add(read: Reader) -> Reader:
        DATASETS[name] = Dataset(name, files, images, split, read, variadic)
        return read
    return add


Converter = Callable[[Any, Where], Iterable[dict]]


def convert_each(items: Iterable[tuple[Where, Any]], convert: Converter) -> Iterator[dict | Rejected]:
    """Samples of every record; a record that breaks its schema is one `Rejected` with the reason,
    one whose image is missing a `MissingImage`. A record's samples are all kept or all rejected;
    a record the file reader already rejected (a JSONL line that is not JSON) passes through."""
    for where, record in items:
        if isinstance(record, Rejected):
            yield record
            continue
        try:
            samples = list(convert(record, where))
        except ImageNotFound as err:
            yield MissingImage(str(where.file), str(err), index=where.index, sample_id=where.key, record=record)
        except RecordError as err:
            yield where.rejected(str(err), record)
        else:
            yield from samples


def each_item(path: Path, prefix: str, what: str, key: str, convert: Converter) -> Iterator[dict | Rejected]:
    """`convert_each` over the items of the JSON list at `prefix`, each known by its `key` field."""
    items = require_items(path, prefix, what)
    return convert_each(((Where(path, index, _key(record, key)), record) for index, record in enumerate(items, 1)),
                        convert)


def each_pair(path: Path, convert: Converter) -> Iterator[dict | Rejected]:
    """`convert_each` over the values of a top-level JSON object, each known by its key."""
    pairs = stream_pairs(path)
    return convert_each(((Where(path, index, key), value) for index, (key, value) in enumerate(pairs, 1)), convert)


def _key(record: Any, name: str) -> str | None:
    value = record.get(name) if isinstance(record, dict) else None
    return None if value is None else str(value)


def ingest(name: str, files: list[str | Path], images: str | Path, seed: int = 0, split: str | None = None,
           on_bad: OnBad | None = None) -> Iterator[dict]:
    """Canonical samples of dataset `name` read from its annotation `files`; bad records go to `on_bad`.

    An unknown dataset, a wrong number of files or a missing file raises at once.
    """
    spec = dataset(name)
    paths = [Path(f) for f in files]
    if spec.variadic and not paths or not spec.variadic and len(paths) != len(spec.files):
        raise FormatError(f"{name} reads {' + '.join(spec.files)}; got {len(paths)} file(s)")
    for path in paths:
        if not path.is_file():
            raise FormatError(f"{path}: no such file")
    if not Path(images).is_dir():
        raise FormatError(f"{images}: no such image folder")
    context = Context(ImageFolder(images), seed, split or spec.split)
    return _stream(spec.read(paths, context), on_bad or raise_on_bad)


def _stream(items: Iterator[dict | Rejected], on_bad: OnBad) -> Iterator[dict]:
    for item in items:
        if isinstance(item, Rejected):
            on_bad(item)
        else:
            yield item


def dataset(name: str) -> Dataset:
    if name not in DATASETS:
        raise FormatError(f"unknown dataset {name!r} (known: {', '.join(sorted(DATASETS))})")
    return DATASETS[name]
