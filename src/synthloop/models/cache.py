"""On-disk model-output cache: a resumed run never pays twice for the same model call.

Keys hash the model URI, the call kind, the prompt, the image content hashes and the decoding
parameters; values are JSON. Storage is one SQLite file (`<run dir>/cache/models.sqlite`), which
several worker processes may share: writes are short transactions and WAL mode lets readers in.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import orjson

CACHE_DIR_ENV = "SYNTHLOOP_CACHE_DIR"  # the engine points this at `<run dir>/cache`
CACHE_FILE = "models.sqlite"


def cache_key(model: str, kind: str, prompt: Any, image_hashes: Sequence[str] = (), **params: Any) -> str:
    """Stable key of one model call; `prompt` is any JSON value (messages, text, ...)."""
    payload = orjson.dumps([model, kind, prompt, list(image_hashes), params], option=orjson.OPT_SORT_KEYS)
    return hashlib.blake2b(payload, digest_size=20).hexdigest()


class ModelCache:
    """A key -> JSON value store; `ModelCache(None)` keeps nothing (caching disabled)."""

    def __init__(self, folder: str | Path | None):
        self.path = Path(folder) / CACHE_FILE if folder else None
        self._db: sqlite3.Connection | None = None
        self.hits = 0
        self.misses = 0

    @classmethod
    def from_env(cls, folder: str | Path | None = None) -> ModelCache:
        """The cache in `folder`, else in `$SYNTHLOOP_CACHE_DIR`, else disabled."""
        return cls(folder or os.environ.get(CACHE_DIR_ENV) or None)

    def _connect(self) -> sqlite3.Connection | None:
        if self.path is None:
            return None
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            # No fsync per batch's commit: a killed run keeps every committed batch; only an OS crash
            # may lose the last few, which a resumed run recomputes.
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS outputs (key TEXT PRIMARY KEY, value BLOB NOT NULL)")
        return self._db

    def get_many(self, keys: Sequence[str]) -> dict[str, Any]:
        db = self._connect()
        if db is None or not keys:
            return {}
        found: dict[str, Any] = {}
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), 500):  # SQLite caps the number of bound parameters
            chunk = unique[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for key, value in db.execute(f"SELECT key, value FROM outputs WHERE key IN ({marks})", chunk):
                found[key] = orjson.loads(value)
        return found

    def put_many(self, items: dict[str, Any]) -> None:
        db = self._connect()
        if db is None or not items:
            return
        with db:
            db.executemany("INSERT OR REPLACE INTO outputs VALUES (?, ?)",
                           [(key, orjson.dumps(value)) for key, value in items.items()])

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

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
