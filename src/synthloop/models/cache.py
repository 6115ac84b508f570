"""Model-output cache: a resumed run never pays twice for the same model call.

Keys hash the model URI, the call kind, the prompt, the image content hashes and the decoding
parameters; values are JSON. Storage is a folder of immutable Parquet segments (key, value), one
per batch of fresh entries, named by the hash of its keys, on any pyarrow filesystem
(`synthloop.storage`): a local disk, a shared mount or an object store. SQLite would need file
locks, which object stores lack and network filesystems break (SQLite's WAL mode requires all its
users on one host), and it could not be shared by workers on several machines.

The engine gives each shard of each stage its own folder (`RUN_DIR/cache/sK-J`), so a folder is
small (one shard's calls): it is read whole on first use, and written only by the one worker that
runs the shard (a retried task writes the same segments). A shard that is redone, after a kill or
with --force, finds every batch it finished. Values never depend on which shards ran first, as a
cache shared by concurrent workers would make them (a duplicate in another shard is computed in its
own batch).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa

from synthloop.storage import Location

CACHE_DIR_ENV = "SYNTHLOOP_CACHE_DIR"  # a cache folder for ops used outside the engine


def cache_key(model: str, kind: str, prompt: Any, image_hashes: Sequence[str] = (), **params: Any) -> str:
    """Stable key of one model call; `prompt` is any JSON value (messages, text, ...)."""
    payload = orjson.dumps([model, kind, prompt, list(image_hashes), params], option=orjson.OPT_SORT_KEYS)
    return hashlib.blake2b(payload, digest_size=20).hexdigest()


class ModelCache:
    """A key -> JSON value store in a folder (path or URI); `ModelCache(None)` keeps nothing."""

    def __init__(self, folder: str | Path | Location | None):
        self.folder = Location.of(folder) if folder else None
        self._entries: dict[str, bytes] | None = None
        self.hits = 0
        self.misses = 0

    @classmethod
    def from_env(cls, folder: str | Path | None = None) -> ModelCache:
        """The cache in `folder`, else in `$SYNTHLOOP_CACHE_DIR`, else disabled."""
        return cls(folder or os.environ.get(CACHE_DIR_ENV) or None)

    def _load(self) -> dict[str, bytes]:
        if self._entries is None:
            self._entries = {}
            for segment in self.folder.files(".parquet") if self.folder else []:
                table = segment.read_parquet()
                self._entries.update(zip(table["key"].to_pylist(), table["value"].to_pylist(), strict=True))
        return self._entries

    def get_many(self, keys: Sequence[str]) -> dict[str, Any]:
        entries = self._load()
        return {key: orjson.loads(entries[key]) for key in dict.fromkeys(keys) if key in entries}

    def put_many(self, items: dict[str, Any]) -> None:
        if self.folder is None or not items:
            return
        keys = sorted(items)
        values = [orjson.dumps(items[key]) for key in keys]
        name = hashlib.blake2b("".join(keys).encode(), digest_size=12).hexdigest()
        table = pa.table({"key": pa.array(keys, pa.string()), "value": pa.array(values, pa.binary())})
        (self.folder / f"part-{name}.parquet").write_parquet(table)
        self._load().update(zip(keys, values, strict=True))

    def cached(self, keys: Sequence[str], compute: Callable[[list[int]], list[Any]]) -> list[Any]:
        """Values for `keys`: cached ones are read, the rest come from one `compute(missing_indices)`
        call (one batched model call) and are stored. Duplicate keys in a batch are computed once."""
        found = self.get_many(keys)
        first_index: dict[str, int] = {}
        for i, key in enumerate(keys):
            if key not in found:
                first_index.setdefault(key, i)
        missing = list(first_index.values())
        self.hits += len(keys) - len(missing)
        self.misses += len(missing)
        if missing:
            computed = compute(missing)
            fresh = {keys[i]: value for i, value in zip(missing, computed, strict=True)}
            self.put_many(fresh)
            found.update(fresh)
        return [found[key] for key in keys]
