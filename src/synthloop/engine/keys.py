"""The compact columns global ops see: dedup keys and selector candidates (never full rows)."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pyarrow as pa

from synthloop.ops.base import Quarantine

EMBEDDING = "embedding"  # meta key an embedding op stores its vector under


def key_table(ids: list[str], keys: list[Any]) -> pa.Table:
    """`id`, `key` (whatever Arrow type the op's keys have) and `error` (a quarantined key's reason)."""
    errors = [k.error if isinstance(k, Quarantine) else None for k in keys]
    values = [None if isinstance(k, Quarantine) else _arrow_friendly(k) for k in keys]
    return pa.table({"id": pa.array(ids, pa.string()), "key": pa.array(values), "error": pa.array(errors, pa.string())})


def _arrow_friendly(key: Any) -> Any:
    if isinstance(key, np.ndarray):
        return key.tolist()
    if isinstance(key, np.generic):
        return key.item()
    return key


def candidate_table(samples: list[dict]) -> pa.Table:
    """Selector candidates: id, source, task, qtype, scores (JSON), tokens (whitespace words of all
    messages) and `embedding` when any sample has `meta["embedding"]`."""
    columns: dict[str, pa.Array] = {
        "id": pa.array([s["id"] for s in samples], pa.string()),
        "source": pa.array([s["source"] for s in samples], pa.string()),
        "task": pa.array([s["task"] for s in samples], pa.string()),
        "qtype": pa.array([s["qtype"] for s in samples], pa.string()),
        "scores": pa.array([orjson.dumps(s["scores"], option=orjson.OPT_SORT_KEYS).decode() for s in samples],
                           pa.string()),
        "tokens": pa.array([sum(len(m["content"].split()) for m in s["messages"]) for s in samples], pa.int64()),
    }
    vectors = [s["meta"].get(EMBEDDING) for s in samples]
    if any(v is not None for v in vectors):
        columns[EMBEDDING] = pa.array(vectors, pa.list_(pa.float32()))
    return pa.table(columns)


def concat_parts(tables: list[pa.Table]) -> pa.Table:
    """Concatenate shard key tables whose column sets or inferred types may differ."""
    return pa.concat_tables(tables, promote_options="permissive")
