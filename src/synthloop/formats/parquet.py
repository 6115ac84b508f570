"""Canonical Parquet shards: the storage format every stage reads and writes.

A dataset is a folder of `part-NNNNN.parquet` files (or a single `.parquet` file) in
`sample.SCHEMA_WITH_HF`, so `datasets.load_dataset("parquet", data_files=...)` reads it and
decodes `images` through the Hugging Face `Image` feature.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import pyarrow.parquet as pq

from synthloop.sample import from_table, to_table

DEFAULT_SHARD_ROWS = 10_000


def parquet_files(path: str | Path) -> list[Path]:
    """The Parquet files of a dataset path (a file, or a folder searched recursively), sorted."""
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: no such Parquet file or folder")
    return sorted(path.rglob("*.parquet"))


def iter_batches(path: str | Path, batch_size: int = 1024) -> Iterator[list[dict]]:
    """Stream canonical samples from a Parquet dataset, `batch_size` at a time."""
    for file in parquet_files(path):
        for batch in pq.ParquetFile(file).iter_batches(batch_size=batch_size):
            yield from_table(batch)


def read_samples(path: str | Path) -> Iterator[dict]:
    for batch in iter_batches(path):
        yield from batch


def write_shard(samples: list[dict], file: str | Path) -> Path:
    """Write one shard atomically (temp file, then rename) so a killed run never leaves half a file."""
    file = Path(file)
    file.parent.mkdir(parents=True, exist_ok=True)
    tmp = file.with_suffix(".parquet.tmp")
    pq.write_table(to_table(samples), tmp, compression="zstd")
    tmp.replace(file)
    return file


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

