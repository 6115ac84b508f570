"""Tiny ops and datasets for the engine tests (no test functions here; imported by test_engine_*).

The ops are prefixed `t_` so they never clash with the real ones; they exercise every kind of
the op contract: a pixel-reading filter, a text filter, a mapper that emits copies and can be
slowed down (for kill tests), one that kills its process once, one that holds its Ray worker until its
node is removed, a dedup naming its survivor, and a selector.
"""

from __future__ import annotations

import hashlib
import io
import os
import signal
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa
from PIL import Image
from pydantic import PrivateAttr

from synthloop.formats.parquet import write_samples
from synthloop.images import ImageError
from synthloop.ops.base import Batch, Dedup, Drop, Filter, Mapper, Quarantine, Selector, register
from synthloop.sample import derive_id, new_sample


@register
class ImageWidth(Filter):
    name: ClassVar[str] = "t_image_width"
    pixels: ClassVar[int | None] = 32
    min_width: int = 0

    def compute(self, batch: Batch) -> list[Any]:
        values: list[Any] = []
        for i, sample in enumerate(batch.samples):
            try:
                values.append(min(img.width for img in batch.images(i)) if sample["images"] else 0)
            except ImageError as err:
                values.append(Quarantine(str(err)))
        return values

    def decide(self, value: Any) -> Drop | None:
        return Drop("image too narrow", value) if value < self.min_width else None


@register
class MinWords(Filter):
    name: ClassVar[str] = "t_min_words"
    min_words: int = 1

    def compute(self, batch: Batch) -> list[Any]:
        return [sum(len(m["content"].replace("<image>", " ").split()) for m in s["messages"]) for s in batch.samples]

    def decide(self, value: Any) -> Drop | None:
        return Drop(f"fewer than {self.min_words} words", value) if value < self.min_words else None


@register
class Copies(Mapper):
    name: ClassVar[str] = "t_copies"
    copies: int = 1
    delay: float = 0.0  # seconds per batch, to give kill tests time to strike mid-run

    def process(self, batch: Batch) -> list[Any]:
        time.sleep(self.delay)
        outcomes: list[Any] = []
        for sample in batch.samples:
            extra = [{**sample, "id": derive_id(sample["id"], self.name, n)} for n in range(1, self.copies)]
            outcomes.append([sample, *extra])
        return outcomes


@register
class DieOnce(Mapper):
    """Kills its own process (SIGKILL) the first time any process runs it: whoever creates `marker`
    (writing its pid there) dies; afterwards it passes samples through (a lost worker for Ray to retry)."""

    name: ClassVar[str] = "t_die_once"
    marker: str

    def process(self, batch: Batch) -> list[Any]:
        try:
            with open(self.marker, "x") as marker:
                marker.write(str(os.getpid()))
        except FileExistsError:
            pass
        else:
            os.kill(os.getpid(), signal.SIGKILL)
        return [[sample] for sample in batch.samples]


@register
class HoldOnce(Mapper):
    """The first process to run it writes "PID RAY_NODE_ID" to `marker` and waits there (until its Ray node
    is removed, which kills it); afterwards it passes samples through (a lost node for Ray to retry)."""

    name: ClassVar[str] = "t_hold_once"
    marker: str

    def process(self, batch: Batch) -> list[Any]:
        try:
            marker = open(self.marker, "x")  # noqa: SIM115 (closed below, before the wait)
        except FileExistsError:
            return [[sample] for sample in batch.samples]
        import ray

        with marker:
            marker.write(f"{os.getpid()} {ray.get_runtime_context().get_node_id()}")
        time.sleep(300)  # the test removes this node long before
        raise RuntimeError("t_hold_once: the node running it was not removed")


@register
class CacheDir(Mapper):
    """Records the model cache folder the engine gives this op (meta["cache_dir"])."""

    name: ClassVar[str] = "t_cache_dir"
    _folder: str | None = PrivateAttr(None)

    def use_cache_dir(self, folder: str) -> None:
        self._folder = folder

    def process(self, batch: Batch) -> list[Any]:
        return [[{**sample, "meta": {**sample["meta"], "cache_dir": self._folder}}] for sample in batch.samples]


@register
class Fragile(Mapper):
    """Raises on samples whose id contains `bad_id` (a whole-batch failure the engine must isolate)."""

    name: ClassVar[str] = "t_fragile"
    bad_id: str = "bad"

    def process(self, batch: Batch) -> list[Any]:
        for sample in batch.samples:
            if self.bad_id in sample["id"]:
                raise ValueError(f"cannot handle {sample['id']}")
        return [[sample] for sample in batch.samples]


@register
class TextDedup(Dedup):
    name: ClassVar[str] = "t_text_dedup"

    def key(self, batch: Batch) -> list[Any]:
        return [hashlib.md5(" ".join(m["content"].lower() for m in s["messages"]).encode()).hexdigest()
                for s in batch.samples]

    def resolve(self, keys: Iterable[tuple[str, Any]]) -> dict[str, Drop]:
        first: dict[Any, str] = {}
        drops = {}
        for sample_id, key in sorted(keys):
            if key in first:
                drops[sample_id] = Drop(f"same text as {first[key]}", {"survivor": first[key]})
            else:
                first[key] = sample_id
        return drops


@register
class MostTokens(Selector):
    name: ClassVar[str] = "t_most_tokens"
    k: int = 1

    def select(self, candidates: pa.Table, seed: int) -> list[str]:
        rows = sorted(zip(candidates["tokens"].to_pylist(), candidates["id"].to_pylist(), strict=True),
                      key=lambda row: (-row[0], row[1]))
        return [sample_id for _, sample_id in rows[: self.k]]


def jpeg(color: tuple[int, int, int], size: tuple[int, int] = (48, 40)) -> bytes:
    """A smooth random pattern seeded by `color` (distinct perceptual hashes), as JPEG."""
    rng = np.random.default_rng(list(color))
    grid = Image.fromarray(rng.integers(0, 256, (12, 12, 3), dtype=np.uint8))
    return _encode(grid.resize(size, Image.BICUBIC), 90)


def near_copy(data: bytes, quality: int = 80) -> bytes:
    """Cropped by 1 px, resized to 95 % and re-encoded: a near duplicate."""
    with Image.open(io.BytesIO(data)) as img:
        w, h = img.size
        return _encode(img.convert("RGB").crop((1, 1, w - 1, h - 1)).resize((int(w * 0.95), int(h * 0.95))), quality)


def _encode(img: Image.Image, quality: int) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


NEAR_COPIES_OF_1 = (21, 44)
EXACT_COPIES_OF_2 = (30, 52)


def noisy_samples(n: int = 60) -> list[dict]:
    """n samples: i % 10 == 3 a truncated JPEG, i % 11 == 5 a narrow (8 px) image, i % 9 == 4 an
    empty answer, i % 7 == 6 the same text as sample 0 (answers have 1 + i % 5 words), samples
    NEAR_COPIES_OF_1 a near copy of sample 1's image and EXACT_COPIES_OF_2 sample 2's image bytes."""
    samples: list[dict] = []
    for i in range(n):
        data = jpeg((i * 37 % 256, i * 11 % 256, 90), (8, 40) if i % 11 == 5 else (48, 40))
        if i % 10 == 3:
            data = data[: len(data) // 3]
        if i in NEAR_COPIES_OF_1:
            data = near_copy(samples[1]["images"][0]["bytes"], quality=50 + i)
        if i in EXACT_COPIES_OF_2:
            data = samples[2]["images"][0]["bytes"]
        question = f"<image>\nWhat is shown in picture number {0 if i % 7 == 6 else i}?"
        answer = "" if i % 9 == 4 else "word" if i % 7 == 6 else " ".join(["word"] * (1 + i % 5))
        samples.append(new_sample(f"s_{i:04d}", [{"role": "user", "content": question},
                                                 {"role": "assistant", "content": answer}],
                                  [{"bytes": data, "path": None}], task="vqa", source="fixture"))
    return samples


def write_dataset(folder: Path, samples: list[dict], shard_rows: int = 25) -> Path:
    write_samples(samples, folder, shard_rows=shard_rows)
    return folder


def recipe_dict(tmp: Path, data: Path, ops: list[dict], **executor: Any) -> dict:
    return {
        "inputs": [{"format": "parquet", "path": str(data)}],
        "ops": ops,
        "output": {"format": "parquet", "path": str(tmp / "out")},
        "run_dir": str(tmp / "run"),
        "executor": {"workers": 1, "batch_size": 8, "shard_rows": 16, **executor},
        "seed": 0,
    }
