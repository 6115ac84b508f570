"""An arm's pool: the Parquet folders its samples were written to, read on demand and never held whole.

The curated seed pool and each round's added data stay where the loop wrote them; a pool is the
ordered list of those folders. Training reads what a round trains on (a replayed draw of rows plus
the new data), and a model synthesizer reads the parent rows it drew.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from synthloop.formats.parquet import parquet_files, read_samples
from synthloop.sample import from_table


class Pool:
    """Samples of `folders` (canonical Parquet folders or files; a missing one is empty) in order, addressed
    by their position."""

    def __init__(self, folders: Sequence[Path]):
        self.folders = tuple(Path(f) for f in folders)
        self._files = [file for folder in self.folders if folder.exists() for file in parquet_files(folder)]
        self._sizes = [pq.ParquetFile(file).metadata.num_rows for file in self._files]

    def __len__(self) -> int:
        return sum(self._sizes)

    def __iter__(self) -> Iterator[dict]:
        for file in self._files:
            yield from read_samples(file)

    def plus(self, folder: Path) -> Pool:
        return Pool([*self.folders, folder])

    def take(self, positions: Sequence[int]) -> list[dict]:
        """The samples at `positions`, in that order; each file reads only the rows wanted of it."""
        found: dict[int, dict] = {}
        starts = np.cumsum([0, *self._sizes])
        order = np.asarray(positions, dtype=np.int64)
        for k, file in enumerate(self._files):
            mine = np.unique(order[(order >= starts[k]) & (order < starts[k + 1])])
            if len(mine):
                rows = from_table(pq.ParquetFile(file).read().take(mine - starts[k]))
                found.update(zip(mine.tolist(), rows, strict=True))
        return [found[int(i)] for i in positions]

    def column(self, name: str) -> list:
        """One column over the whole pool, without reading the others (images stay on disk)."""
        return [value for file in self._files for value in pq.ParquetFile(file).read(columns=[name]).column(0).to_pylist()]
