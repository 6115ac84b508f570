"""Dataset statistics: counts by source, task and qtype; turns; images per sample; image sizes;
sample lengths in tokens (percentiles), by a counter the caller gives (whitespace words by default)."""

from __future__ import annotations

import io
from array import array
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from synthloop.images import ImageError, image_bytes, image_path, open_image_file


@dataclass
class DatasetStats:
    samples: int = 0
    by_source: Counter = field(default_factory=Counter)
    by_task: Counter = field(default_factory=Counter)
    by_qtype: Counter = field(default_factory=Counter)
    # compact int arrays, not lists: a pool has millions of samples
    turns: array = field(default_factory=lambda: array("l"))
    images_per_sample: Counter = field(default_factory=Counter)
    widths: array = field(default_factory=lambda: array("l"))
    heights: array = field(default_factory=lambda: array("l"))
    tokens: array = field(default_factory=lambda: array("l"))
    unreadable_images: int = 0

    def turn_summary(self) -> dict[str, float]:
        return _summary(self.turns)

    def token_summary(self) -> dict[str, float]:
        """Sample lengths: the summary plus the 90th, 95th and 99th percentiles."""
        summary = _summary(self.tokens)
        if self.tokens:
            p90, p95, p99 = np.percentile(np.asarray(self.tokens), [90, 95, 99]).tolist()
            summary.update(p90=round(p90, 1), p95=round(p95, 1), p99=round(p99, 1))
        return summary

    def as_dict(self) -> dict:
        """Everything, JSON-ready."""
        return {"samples": self.samples, "by_source": dict(self.by_source), "by_task": dict(self.by_task),
                "by_qtype": dict(self.by_qtype),
                "images_per_sample": {str(k): v for k, v in sorted(self.images_per_sample.items())},
                "turns": self.turn_summary(), "tokens": self.token_summary(), "image_size": self.size_summary(),
                "unreadable_images": self.unreadable_images}

    def size_summary(self) -> dict[str, dict[str, float]]:
        return {"width": _summary(self.widths), "height": _summary(self.heights)}


def _summary(values: array) -> dict[str, float]:
    if not values:
        return {"count": 0}
    array = np.asarray(values)
    return {"count": int(array.size), "total": int(array.sum()), "min": int(array.min()),
            "mean": round(float(array.mean()), 2), "median": float(np.median(array)), "max": int(array.max())}


def image_size(ref: dict, image_root: str | Path | None) -> tuple[int, int]:
    """(width, height) from the image header; raises ImageError if unreadable."""
    if ref.get("bytes") is None and ref.get("path"):
        path = image_path(ref, image_root)
        try:
            with open_image_file(path) as file, Image.open(file) as img:  # reads the header only
                return img.size
        except (OSError, SyntaxError, ValueError) as err:
            raise ImageError(f"image file {path}: {err}") from None
    try:
        with Image.open(io.BytesIO(image_bytes(ref, image_root))) as img:
            return img.size
    except (OSError, SyntaxError, ValueError) as err:
        raise ImageError(f"cannot read image: {err}") from None


def words(samples: list[dict]) -> list[int]:
    """Whitespace-separated words per sample (the default token count)."""
    return [sum(len(m["content"].split()) for m in sample["messages"]) for sample in samples]


TOKEN_CHUNK = 512  # samples counted per call (tokenizers are fast on batches)


def compute_stats(samples: Iterable[dict], image_root: str | Path | None = None, image_sizes: bool = True,
                  count_tokens: Callable[[list[dict]], list[int]] = words) -> DatasetStats:
    stats = DatasetStats()
    pending: list[dict] = []
    for sample in samples:
        pending.append(sample)
        if len(pending) == TOKEN_CHUNK:
            stats.tokens.extend(count_tokens(pending))
            pending = []
        stats.samples += 1
        stats.by_source[sample.get("source") or "-"] += 1
        stats.by_task[sample.get("task") or "-"] += 1
        stats.by_qtype[sample.get("qtype") or "-"] += 1
        stats.turns.append(len(sample["messages"]))
        stats.images_per_sample[len(sample["images"])] += 1
        if not image_sizes:
            continue
        for ref in sample["images"]:
            try:
                width, height = image_size(ref, image_root)
            except ImageError:
                stats.unreadable_images += 1
                continue
            stats.widths.append(width)
            stats.heights.append(height)
    if pending:
        stats.tokens.extend(count_tokens(pending))
    return stats
