"""Moving the turns of merged duplicates into their survivors, between two stages.

When a dedup with `same_image: merge` removes a sample, the main process looks up the removed
sample's messages in the stage's data parts (only those rows, only that column) and writes them
beside the survivor's shard, `stages/sK/merged/part-J.parquet` (survivor, absorbed id, messages;
sorted by survivor then absorbed id, so the merged conversation does not depend on timing). The
next stage's worker appends them to the survivor as it reads its shard (`ops.merge_turns`).
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from synthloop.engine.keys import rows_at
from synthloop.engine.rundir import RunDir, read_parquet
from synthloop.ops.merge_turns import merge_turns


def write_merges(rundir: RunDir, k: int, offsets: np.ndarray, targets: dict[int, int]) -> None:
    """`targets`: absorbed row -> survivor row, rows numbered over stage k's data parts in shard order."""
    if not targets:
        return
    absorbed = np.array(sorted(targets), np.int64)
    survivors = np.array([targets[row] for row in absorbed.tolist()], np.int64)
    parts = [rundir.data_part(k, j) for j in range(len(offsets) - 1)]
    absorbed_rows = rows_at(parts, offsets, absorbed, ["id", "messages"])
    table = pa.table({"survivor": rows_at(parts, offsets, survivors, ["id"])["id"],
                      "absorbed": absorbed_rows["id"], "messages": absorbed_rows["messages"]})
    target_shards = np.searchsorted(offsets, survivors, side="right") - 1
    for j in np.unique(target_shards).tolist():
        part = table.filter(pa.array(target_shards == j))
        order = pc.sort_indices(part, [("survivor", "ascending"), ("absorbed", "ascending")])
        rundir.merged_part(k, j).write_parquet(part.take(order))


def apply_merges(rundir: RunDir, k: int, j: int, samples: list[dict]) -> None:
    """Give the survivors among `samples` (stage k's shard j, after its removals) their absorbed turns."""
    part = rundir.merged_part(k, j)
    if not part.exists():
        return
    absorbed: dict[str, list[tuple[str, list[dict]]]] = defaultdict(list)
    for row in read_parquet(part).to_pylist():
        absorbed[row["survivor"]].append((row["absorbed"], row["messages"]))
    for sample in samples:
        if sample["id"] in absorbed:
            merge_turns(sample, absorbed[sample["id"]])
