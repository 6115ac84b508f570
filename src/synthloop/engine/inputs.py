"""Reading a recipe's inputs as a stream of samples, and cutting that stream into shards.

`parquet` is read here (validation happens in the workers); every other format goes through
`synthloop.formats.registry.READERS`, whose readers yield validated samples or `Rejected`
records (so the workers need not validate those again). Image paths are checked here and made
absolute: each must resolve under the input's `image_root` (by default the input's folder; an
absolute path only with `allow_absolute_paths`), so every shard (and the output) is readable
without knowing where its images came from, and a sample whose image path leads elsewhere is
quarantined (op "input") with the reason.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import orjson
import pyarrow.parquet as pq

from synthloop.engine.mixture import drawn
from synthloop.formats.common import Rejected
from synthloop.formats.mmc4 import read_documents
from synthloop.formats.parquet import BadRow, iter_rows, parquet_files
from synthloop.formats.urls import read_url_table
from synthloop.images import ImageError, ImageRoot


@dataclass(frozen=True)
class InputReject:
    """An input record the reader could not turn into a sample (quarantined as op "input")."""

    sample_id: str | None
    error: str
    record: str  # JSON text of what was read, for the audit


@dataclass
class Shard:
    index: int
    items: list[dict | InputReject]
    validated: bool  # the reader validated its samples
    spec: Any = None  # a URL input's spec: its items are records to download (engine.download)


# Inputs whose records are downloaded in stage 0 (engine.download) before they are samples.
URL_FORMATS = ("urls", "mmc4")


def input_formats() -> list[str]:
    return sorted({"parquet", *URL_FORMATS, *_readers()})


def _readers() -> dict:
    try:
        from synthloop.formats.registry import READERS
    except ImportError:  # a checkout without the edge formats: Parquet only
        return {}
    return READERS


def iter_input(fmt: str, path: str, image_root: str | None, allow_absolute_paths: bool = False,
               **options: Any) -> Iterator[dict | InputReject]:
    """The samples (and rejects) of one recipe input, image paths checked and made absolute; `options`
    go to the format's reader (`columns` for `hf`)."""
    items = _iter_parquet(path) if fmt == "parquet" else _iter_reader(fmt, path, image_root, options)
    folder = image_root or (path if Path(path).is_dir() else os.path.dirname(path) or ".")
    root = ImageRoot(folder, allow_absolute_paths)
    for item in items:
        yield _checked_paths(item, root, path) if isinstance(item, dict) else item


def iter_shards(inputs: list, rows_per_shard: int, seed: int = 0, sources: list | None = None) -> Iterator[Shard]:
    """Shards of at most `rows_per_shard` items, numbered across inputs; a shard never spans two inputs.

    Inputs with a `weight` or `cap` give the items a mixture draws with `seed` (`engine.mixture`);
    `sources` receives, per input, its path and how many items it had and gave.
    """
    index = 0
    for spec in inputs:
        validated = spec.format != "parquet"
        report: dict = {"path": spec.path}
        items: list[dict | InputReject] = []
        urls = spec if spec.format in URL_FORMATS else None
        read = (partial(_iter_url_input, spec) if urls else
                partial(iter_input, spec.format, spec.path, spec.image_root, spec.allow_absolute_paths,
                        **spec.reader_options()))
        for item in drawn(read, _item_id, seed, spec.weight, spec.cap, report):
            items.append(item)
            if len(items) == rows_per_shard:
                yield Shard(index, items, validated and not urls, urls)
                index, items = index + 1, []
        if items:
            yield Shard(index, items, validated and not urls, urls)
            index += 1
        if sources is not None:
            sources.append(report)


def _item_id(item: dict | InputReject) -> str | None:
    value = item.get("id") if isinstance(item, dict) else item.sample_id
    return value if isinstance(value, str) else None


def known_total(inputs: list) -> int | None:
    """How many samples the inputs hold, when that is known before reading them: Parquet inputs
    drawn whole (row counts from the files' metadata); None otherwise."""
    if any(spec.format != "parquet" or spec.weight is not None or spec.cap is not None for spec in inputs):
        return None
    try:
        return sum(pq.ParquetFile(file).metadata.num_rows for spec in inputs for file in parquet_files(spec.path))
    except (OSError, ValueError):  # an unreadable file: the reader names it when it gets there
        return None


def _iter_parquet(path: str) -> Iterator[dict | InputReject]:
    for item in iter_rows(path):
        if isinstance(item, BadRow):
            sample_id = item.record.get("id") if isinstance(item.record.get("id"), str) else None
            yield InputReject(sample_id, f"{item.file}: row {item.row}: {item.error}", _json_text(item.record))
        else:
            yield item


def _iter_url_input(spec: Any) -> Iterator[dict | InputReject]:
    """The records to download of a `urls` or `mmc4` input (and the rows its reader rejects)."""
    if spec.format == "mmc4":
        items = read_documents(spec.path)
    else:
        items = read_url_table(spec.path, spec.url_column, spec.text_column, spec.hash_column,
                               tuple(spec.score_columns))
    for item in items:
        yield InputReject(item.sample_id, item.message(), _json_text(item.record)) if isinstance(item, Rejected) \
            else item


def _iter_reader(fmt: str, path: str, image_root: str | None, options: dict[str, Any]) -> Iterator[dict | InputReject]:
    for item in _readers()[fmt](Path(path), image_root, **options):
        if isinstance(item, dict):
            yield item
        else:  # formats.common.Rejected
            yield InputReject(item.sample_id, item.message(), _json_text(item.record))


def _checked_paths(sample: dict, root: ImageRoot, file: str) -> dict | InputReject:
    """The sample with each image path that will be read resolved under `root`, or an InputReject
    naming the image and why its path is refused."""
    images = sample.get("images")
    if not isinstance(images, list):
        return sample
    resolved = []
    for j, ref in enumerate(images):
        path = ref.get("path") if isinstance(ref, dict) else None
        if isinstance(path, str) and ref.get("bytes") is None:
            try:
                ref = {**ref, "path": root.resolve(path)}
            except ImageError as err:
                sample_id = sample.get("id") if isinstance(sample.get("id"), str) else None
                return InputReject(sample_id, f"{file}: id {sample_id!r}: image {j}: {err}", _json_text(sample))
        resolved.append(ref)
    return {**sample, "images": resolved}


def _json_text(value: object) -> str:
    return orjson.dumps(value, default=_placeholder, option=orjson.OPT_SORT_KEYS).decode()


def _placeholder(value: object) -> str:
    return f"<{len(value)} bytes>" if isinstance(value, bytes) else repr(value)
