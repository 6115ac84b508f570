"""Compact key columns: PartKeys reads a dedup's keys from shard parts exactly as an in-memory column."""

from itertools import pairwise

import numpy as np
import pyarrow as pa
import pytest

from synthloop.engine.keys import PartKeys, key_table
from synthloop.formats.parquet import write_table_atomic
from synthloop.ops import op_class
from synthloop.ops.dedup_resolve import ArrayKeys


def planted_keys(name: str, n: int, rng: np.random.Generator) -> list:
    """n keys of the op's kind, a fifth of them exact or near copies of others."""
    copies = rng.integers(0, n, n // 5)
    if name == "exact_dedup":
        keys = [rng.bytes(16) for _ in range(n)]
        return [keys[c] if k < len(copies) else key for k, (c, key) in enumerate(zip(np.resize(copies, n), keys))]
    if name == "image_near_dedup":
        hashes = rng.integers(0, 2**64, (n, 2), dtype=np.uint64)
        hashes[: len(copies)] = hashes[copies] ^ (np.uint64(1) << rng.integers(0, 64, (len(copies), 2)).astype(np.uint64))
        return [row[: 1 + k % 2] for k, row in enumerate(hashes.tolist())]  # one or two images
    sigs = rng.integers(0, 2**32, (n, 64), dtype=np.uint32)
    sigs[: len(copies)] = sigs[copies]
    sigs[: len(copies) // 2, :4] = rng.integers(0, 2**32, (len(copies) // 2, 4), dtype=np.uint32)  # J ~ 0.94
    return [row.astype("<u4").tobytes() for row in sigs]


@pytest.mark.parametrize(("name", "params"), [("exact_dedup", {}), ("image_near_dedup", {"max_hamming": 3, "same_image": "drop"}),
                                              ("text_minhash_dedup", {"threshold": 0.8, "num_perm": 64})])
def test_part_keys_resolve_as_an_in_memory_column(tmp_path, name, params):
    op = op_class(name)(**params)
    rng = np.random.default_rng(1)
    keys = planted_keys(name, 600, rng)
    sizes = [250, 0, 100, 250]  # shards of the stage, one of them empty
    offsets = np.cumsum([0, *sizes])
    parts = []
    for j, (start, stop) in enumerate(pairwise(offsets)):
        parts.append(tmp_path / f"part-{j}.parquet")
        write_table_atomic(key_table([f"r{r}" for r in range(start, stop)], keys[start:stop], op.key_type()), parts[-1])
    rows = rng.permutation(600)[:500]  # the rows in play, in some id order
    stored = op.duplicates(PartKeys(parts, offsets, rows))
    in_memory = op.duplicates(ArrayKeys(pa.array([keys[r] for r in rows], op.key_type())))
    assert len(stored.rows) >= 20  # planted duplicates found (a near copy with another image count is distinct)
    for field in ("rows", "survivors", "distances"):
        assert np.array_equal(getattr(stored, field), getattr(in_memory, field))


def test_part_keys_chunks_cover_each_position_once_and_take_keeps_order(tmp_path):
    offsets = np.array([0, 3, 3, 7])
    parts = [tmp_path / f"part-{j}.parquet" for j in range(3)]
    for j, part in enumerate(parts):
        write_table_atomic(key_table([f"r{r}" for r in range(offsets[j], offsets[j + 1])],
                                [r.to_bytes(2, "big") for r in range(offsets[j], offsets[j + 1])], pa.binary(2)), part)
    keys = PartKeys(parts, offsets, np.array([6, 0, 4, 2]))
    seen = {int(p): int.from_bytes(v, "big") for positions, values in keys.chunks()
            for p, v in zip(positions, values.to_pylist(), strict=True)}
    assert seen == {0: 6, 1: 0, 2: 4, 3: 2}
    assert [int.from_bytes(v, "big") for v in keys.take(np.array([3, 0, 0, 2])).to_pylist()] == [2, 6, 6, 4]
    assert keys.take(np.array([], np.int64)).type == pa.binary(2)
