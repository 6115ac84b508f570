"""Bulky per-sample arrays (an `embed` op's vectors) kept out of JSON records, in a side Parquet file.

A JSON export carries the canonical fields; a `meta` value that is a list of at least `MIN_VALUES`
numbers would repeat kilobytes in every record (1,280 floats per sample is about 10 GB for mix665k),
so it goes to `<stem>.arrays.parquet` beside the output as rows `(id, field, values)`, streamed.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

MIN_VALUES = 64
BATCH_ROWS = 1024
SCHEMA = pa.schema([("id", pa.string()), ("field", pa.string()), ("values", pa.list_(pa.float64()))])


def is_bulky(value: object) -> bool:
    return (isinstance(value, list) and len(value) >= MIN_VALUES
            and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value))


class ArraySideFile:
    """Takes bulky arrays out of each sample's meta; writes them beside `out_file` when there are any."""

    def __init__(self, out_file: Path):
        self.path = out_file.with_name(f"{out_file.stem}.arrays.parquet")
        self.rows: list[dict] = []
        self.writer: pq.ParquetWriter | None = None

    def without_arrays(self, sample: dict) -> dict:
        meta = sample.get("meta")
        if not meta:
            return sample
        bulky = [key for key, value in meta.items() if is_bulky(value)]
        if not bulky:
            return sample
        self.rows += [{"id": sample["id"], "field": key, "values": meta[key]} for key in bulky]
        if len(self.rows) >= BATCH_ROWS:
            self._flush()
        return {**sample, "meta": {k: v for k, v in meta.items() if k not in bulky}}

    def _flush(self) -> None:
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.path, SCHEMA, compression="zstd")
        self.writer.write_table(pa.Table.from_pylist(self.rows, schema=SCHEMA))
        self.rows = []

    def close(self) -> None:
        if self.rows:
            self._flush()
        if self.writer is not None:
            self.writer.close()
