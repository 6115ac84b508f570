"""Canonical Parquet shards: the storage format every stage reads and writes.

A dataset is a folder of `part-NNNNN.parquet` files (or a single `.parquet` file) in
`sample.SCHEMA_WITH_HF`, so `datasets.load_dataset("parquet", data_files=...)` reads it and
decodes `images` through the Hugging Face `Image` feature.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from synthloop.formats.catalog import register
from synthloop.formats.common import FormatError, OnBad, Rejected
from synthloop.formats.image_refs import with_image_bytes
from synthloop.formats.staged import is_hidden
from synthloop.images import ImageError
from synthloop.sample import SCHEMA, SampleError, from_table, to_table, validate_sample
from synthloop.storage import Location

DEFAULT_SHARD_ROWS = 10_000


def parquet_files(path: str | Path) -> list[Path]:
    """The Parquet files of a dataset path (a file, or a folder searched recursively, skipping paths
    that start with `.` or `_` as Arrow does: staging folders, markers), sorted."""
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: no such Parquet file or folder")
    return sorted(file for file in path.rglob("*.parquet") if not is_hidden(file, path))


def iter_batches(path: str | Path, batch_size: int = 1024) -> Iterator[list[dict]]:
    """Stream canonical samples from a Parquet dataset, `batch_size` at a time."""
    for file in parquet_files(path):
        for batch in pq.ParquetFile(file).iter_batches(batch_size=batch_size):
            yield from_table(batch)


class ParquetReadError(ValueError):
    """A Parquet file that cannot be read (truncated, not Parquet, a column missing); names the file."""


@dataclass(frozen=True)
class BadRow:
    """A row that does not convert to a canonical sample (bad `meta` JSON, say)."""

    file: Path
    row: int  # 0-based, in its file
    error: str
    record: dict


def iter_rows(path: str | Path, batch_size: int = 1024) -> Iterator[dict | BadRow]:
    """Canonical samples (not validated) of a Parquet dataset of untrusted origin, a `BadRow` for each
    row that does not convert; raises ParquetReadError naming the file (and row) it cannot read."""
    for file in parquet_files(path):
        try:
            reader = pq.ParquetFile(file)
        except (OSError, pa.ArrowException) as err:
            raise ParquetReadError(f"{file}: not a readable Parquet file ({_one_line(err)})") from None
        missing = [name for name in SCHEMA.names if name not in reader.schema_arrow.names]
        if missing:
            raise ParquetReadError(f"{file}: no column {', '.join(missing)} (a canonical dataset has "
                                   f"{', '.join(SCHEMA.names)})")
        batches, row = reader.iter_batches(batch_size=batch_size), 0
        while True:
            try:
                batch = next(batches, None)
            except (OSError, pa.ArrowException) as err:
                raise ParquetReadError(f"{file}: row {row}: cannot read ({_one_line(err)})") from None
            if batch is None:
                break
            yield from _convert(batch, file, row)
            row += batch.num_rows


def _convert(batch: pa.RecordBatch, file: Path, first_row: int) -> Iterator[dict | BadRow]:
    try:
        yield from from_table(batch)
        return
    except (KeyError, TypeError, ValueError, pa.ArrowException):
        pass
    for row in range(batch.num_rows):  # find the rows that fail
        one = batch.slice(row, 1)
        try:
            yield from from_table(one)
        except (KeyError, TypeError, ValueError, pa.ArrowException) as err:
            yield BadRow(file, first_row + row, f"{type(err).__name__}: {_one_line(err)}", one.to_pylist()[0])


def _one_line(err: Exception) -> str:
    return " ".join(str(err).split())  # Arrow's messages can span lines


def read_samples(path: str | Path) -> Iterator[dict]:
    for batch in iter_batches(path):
        yield from batch


def write_table_atomic(table: pa.Table, file: str | Path) -> Path:
    """Write a Parquet file atomically (`storage.Location.write_parquet`): a killed run never leaves
    half a file and concurrent writers never share a temporary."""
    Location.of(file).write_parquet(table)
    return Path(file)


def write_shard(samples: list[dict], file: str | Path) -> Path:
    """Write one shard of canonical samples atomically."""
    return write_table_atomic(to_table(samples), file)


class ShardWriter:
    """Writes samples into `part-NNNNN.parquet` files of at most `shard_rows` rows."""

    def __init__(self, folder: str | Path, shard_rows: int = DEFAULT_SHARD_ROWS):
        self.folder = Path(folder)
        self.shard_rows = shard_rows
        self.pending: list[dict] = []
        self.files: list[Path] = []
        self.count = 0

    def write(self, samples: Iterable[dict]) -> None:
        for sample in samples:
            self.pending.append(sample)
            self.count += 1
            if len(self.pending) >= self.shard_rows:
                self._flush()

    def _flush(self) -> None:
        if self.pending:
            self.files.append(write_shard(self.pending, self.folder / f"part-{len(self.files):05d}.parquet"))
            self.pending = []

    def close(self) -> list[Path]:
        self._flush()
        return self.files

    def __enter__(self) -> ShardWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_samples(samples: Iterable[dict], folder: str | Path, shard_rows: int = DEFAULT_SHARD_ROWS) -> list[Path]:
    with ShardWriter(folder, shard_rows) as writer:
        writer.write(samples)
    return writer.files


def is_canonical(schema: pa.Schema) -> bool:
    """Whether a Parquet schema is ours (every canonical column, with its type)."""
    return all(name in schema.names and schema.field(name).type == SCHEMA.field(name).type for name in SCHEMA.names)


def read(path: str | Path, image_root: str | Path | None = None) -> Iterator[dict | Rejected]:
    """Canonical samples, validated; a Parquet file in another layout is refused naming its columns."""
    del image_root
    files = parquet_files(path)
    if not files:
        raise FormatError(f"{path}: no Parquet files")
    for file in files:
        try:
            schema = pq.read_schema(file)
        except (OSError, ValueError) as err:  # a truncated file has no footer
            raise FormatError(f"{file}: not a readable Parquet file ({' '.join(str(err).split())})") from None
        if not is_canonical(schema):
            raise FormatError(f"{file}: not synthloop's canonical Parquet (columns: {', '.join(schema.names)}); "
                              "read it with --from hf")
    for index, sample in enumerate(iter_rows(path), 1):
        if isinstance(sample, BadRow):
            yield Rejected(str(sample.file), f"row {sample.row}: {sample.error}", record=sample.record)
            continue
        try:
            yield validate_sample(sample)
        except SampleError as err:
            yield Rejected(str(path), str(err).split(": ", 1)[-1], index=index, sample_id=sample.get("id"),
                           record=sample)


def write(samples: Iterable[dict], path: str | Path, on_bad: OnBad, image_root: str | Path | None = None) -> int:
    """Parquet shards embed image bytes (HF `Image` layout), loaded from `image_root` when needed."""
    with ShardWriter(path) as writer:
        for sample in samples:
            try:
                writer.write([with_image_bytes(sample, image_root)])
            except ImageError as err:
                on_bad(Rejected(str(path), str(err), sample_id=sample["id"], record=sample))
    return writer.count


@register("parquet", "canonical Parquet shards with embedded image bytes (Hugging Face Image layout)", read=read,
          write=write, priority=20, embeds_images=True)
def detect(path: Path, first: object) -> bool:
    del first
    file = next(iter(parquet_files(path)), None) if path.is_dir() else path
    try:
        return file is not None and file.suffix == ".parquet" and is_canonical(pq.read_schema(file))
    except (OSError, ValueError):  # not readable: `read` says why
        return False
