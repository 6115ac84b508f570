"""An evaluation's prediction cache, so a killed evaluation resumes where it stopped.

`predictions.cache.jsonl` in the output folder is append-only: one line `{"key", "id", "prediction"}`
per answered sample, written and flushed as each batch is answered. The key hashes the model (its
URI and, for a local checkpoint folder, the names, sizes and modification times of its files, so a
retrained checkpoint misses), the sample id, the prompt messages, the images (bytes by content,
paths by name) and the decoding settings. A rerun reads the file, answers only what it lacks, and
ends with the results an uninterrupted run gives. A line a kill cut short is dropped when the file is
opened. An `openai:` server is known by its URL and model name only: what it serves under that name
is its own business.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

CACHE_FILE = "predictions.cache.jsonl"


def model_fingerprint(uri: str) -> str:
    """`uri`, plus the name, size and modification time of each file of a local checkpoint folder."""
    scheme, _, target = uri.partition(":")
    folder = Path(target)
    if scheme == "openai" or not folder.is_dir():
        return uri
    files = sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in folder.iterdir() if p.is_file())
    return uri + "@" + hashlib.blake2b(orjson.dumps(files), digest_size=12).hexdigest()


def _image_key(ref: dict) -> str:
    if ref.get("bytes") is not None:
        return hashlib.blake2b(ref["bytes"], digest_size=16).hexdigest()
    return f"path:{ref.get('path')}"


class PredictionCache:
    def __init__(self, folder: Path, model: str):
        self.path = Path(folder) / CACHE_FILE
        self.model = model
        self.found: dict[str, str] = {}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists():
            self._read()
        self._sink = self.path.open("ab")

    def _read(self) -> None:
        data = self.path.read_bytes()
        complete = data[: data.rfind(b"\n") + 1]  # a kill may have cut the last line short
        for number, line in enumerate(complete.splitlines(), 1):
            try:
                entry = orjson.loads(line)
                self.found[entry["key"]] = entry["prediction"]
            except (orjson.JSONDecodeError, KeyError, TypeError):
                raise ValueError(f"{self.path} line {number}: not a cached prediction (delete the file to "
                                 "evaluate afresh)") from None
        if len(complete) < len(data):
            with self.path.open("r+b") as handle:
                handle.truncate(len(complete))

    def key(self, sample: dict, prompt: Any, **settings: Any) -> str:
        payload = [self.model, sample["id"], prompt, [_image_key(ref) for ref in sample["images"]], settings]
        return hashlib.blake2b(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS), digest_size=20).hexdigest()

    def add(self, keys: Sequence[str], samples: Sequence[dict], predictions: Sequence[str]) -> None:
        """Append one batch's predictions and flush them (the OS keeps them when the process is killed)."""
        lines = b"".join(orjson.dumps({"key": key, "id": sample["id"], "prediction": prediction}) + b"\n"
                         for key, sample, prediction in zip(keys, samples, predictions, strict=True))
        self._sink.write(lines)
        self._sink.flush()
        self.found.update(zip(keys, predictions, strict=True))

    def close(self) -> None:
        self._sink.close()
