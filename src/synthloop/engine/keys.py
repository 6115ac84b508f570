"""The compact columns global ops see: dedup keys and selector candidates (never full rows)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import orjson
import pyarrow as pa

from synthloop.engine.rundir import read_parquet
from synthloop.formats.urls import INPUT_SHARD
from synthloop.ops.base import Quarantine
from synthloop.storage import Location

EMBEDDING = "embedding"  # meta key an embedding op stores its vector under


def key_table(ids: list[str], keys: list[Any], key_type: pa.DataType | None = None) -> pa.Table:
    """`id`, `key` (of `key_type`, or whatever Arrow type the keys have) and `error` (a quarantined
    key's reason)."""
    errors = [k.error if isinstance(k, Quarantine) else None for k in keys]
    values = [None if isinstance(k, Quarantine) else _arrow_friendly(k) for k in keys]
    return pa.table({"id": pa.array(ids, pa.string()), "key": pa.array(values, key_type),
                     "error": pa.array(errors, pa.string())})


def _arrow_friendly(key: Any) -> Any:
    if isinstance(key, np.ndarray):
        return key.tolist()
    if isinstance(key, np.generic):
        return key.item()
    return key


def candidate_table(samples: list[dict], tokens: list[int]) -> pa.Table:
    """Selector candidates: id, source, task, qtype, scores (JSON), tokens (the selector's count of
    each sample), `input_shard` when any sample has `meta["input_shard"]` (URL inputs) and
    `embedding` when any sample has `meta["embedding"]`."""
    columns: dict[str, pa.Array] = {
        "id": pa.array([s["id"] for s in samples], pa.string()),
        "source": pa.array([s["source"] for s in samples], pa.string()),
        "task": pa.array([s["task"] for s in samples], pa.string()),
        "qtype": pa.array([s["qtype"] for s in samples], pa.string()),
        "scores": pa.array([orjson.dumps(s["scores"], option=orjson.OPT_SORT_KEYS).decode() for s in samples],
                           pa.string()),
        "tokens": pa.array(tokens, pa.int64()),
    }
    shards = [s["meta"].get(INPUT_SHARD) for s in samples]
    if any(shard is not None for shard in shards):
        columns[INPUT_SHARD] = pa.array(shards, pa.string())
    vectors = [s["meta"].get(EMBEDDING) for s in samples]
    if any(v is not None for v in vectors):
        columns[EMBEDDING] = pa.array(vectors, pa.list_(pa.float32()))
    return pa.table(columns)


def concat_parts(tables: list[pa.Table]) -> pa.Table:
    """Concatenate shard key tables whose column sets or inferred types may differ."""
    return pa.concat_tables(tables, promote_options="permissive")


class PartKeys:
    """A `ColumnarDedup`'s `Keys`, read from a stage's key parts when asked: the stage's rows are the
    parts' rows in shard order (`offsets[j]` is shard j's first row) and position k is row `rows[k]`.
    Memory: 24 bytes per position (not per row of the stage) plus one part's keys at a time (and the
    keys `take` returns)."""

    def __init__(self, parts: list[Location], offsets: np.ndarray, rows: np.ndarray):
        self.parts, self.offsets, self.rows = parts, offsets, rows
        self.by_row = np.argsort(rows, kind="stable")  # positions in row order
        self.bounds = np.searchsorted(rows[self.by_row], offsets)  # shard j: by_row[bounds[j]:bounds[j + 1]]

    def __len__(self) -> int:
        return len(self.rows)

    def _read(self, j: int) -> pa.Array:
        return read_parquet(self.parts[j], ["key"])["key"].combine_chunks()

    def chunks(self) -> Iterator[tuple[np.ndarray, pa.Array]]:
        for j in range(len(self.parts)):
            positions = self.by_row[self.bounds[j]:self.bounds[j + 1]]
            if len(positions):
                yield positions, self._read(j).take(pa.array(self.rows[positions] - self.offsets[j]))

    def take(self, positions: np.ndarray) -> pa.Array:
        if not len(positions):
            return pa.array([], Location.of(self.parts[0]).parquet().schema_arrow.field("key").type)
        return rows_at(self.parts, self.offsets, self.rows[positions], ["key"])["key"].combine_chunks()


def rows_at(parts: list[Location], offsets: np.ndarray, rows: np.ndarray, columns: list[str]) -> pa.Table:
    """These columns of the parts at `rows` (numbered over the parts in order, `offsets[j]` being part
    j's first row), in the order of `rows`; each part read once."""
    shards = np.searchsorted(offsets, rows, side="right") - 1
    picked, pieces = [], []
    for j in np.unique(shards).tolist():
        chosen = np.flatnonzero(shards == j)
        picked.append(chosen)
        pieces.append(read_parquet(parts[j], columns).take(pa.array(rows[chosen] - offsets[j])))
    return pa.concat_tables(pieces).take(pa.array(np.argsort(np.concatenate(picked))))
