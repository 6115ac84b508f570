"""Canonical samples -> token ids, loss labels and a table of preprocessed images; length-bucketed batches.

Each conversation is encoded as TinyVLM reads it (`synthloop.models.tinyvlm.encoding`). Each distinct image (by bytes or path) is decoded and resized once into a shared uint8 table, beside
the grid cells of each that become image tokens (all of them unless the model drops background).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tokenizers import Tokenizer

from synthloop.images import ImageError, content_hash, decode, image_bytes
from synthloop.models.tinyvlm.encoding import IGNORE, encode_messages
from synthloop.models.tinyvlm.tokenizer import PAD
from synthloop.sample import IMAGE_TOKEN


def load_pixels(ref: dict, size: int, image_root: str | Path | None = None) -> np.ndarray:
    """An image reference -> uint8 (3, size, size), squashed to a square."""
    image = decode(image_bytes(ref, image_root)).resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(image, dtype=np.uint8).transpose(2, 0, 1)


@dataclass
class EncodedData:
    """Encoded training samples: per-sample token ids, labels and indices into `pixels`."""

    ids: list[np.ndarray] = field(default_factory=list)
    labels: list[np.ndarray] = field(default_factory=list)
    image_index: list[list[int]] = field(default_factory=list)
    sample_ids: list[str] = field(default_factory=list)
    pixels: torch.Tensor | None = None  # uint8 (n_distinct_images, 3, S, S)
    cells: torch.Tensor | None = None  # bool (n_distinct_images, grid*grid): the cells that are tokens
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (sample id, reason)

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def lengths(self) -> np.ndarray:
        return np.fromiter((len(x) for x in self.ids), dtype=np.int64, count=len(self.ids))


def _load_images(sample: dict, table: dict[str, int], images: list[np.ndarray], image_size: int,
                 image_root: str | Path | None) -> list[int] | str:
    """Rows of the image table for a sample's images (each distinct image decoded once), or why not."""
    placeholders = sum(m["content"].count(IMAGE_TOKEN) for m in sample["messages"])
    if placeholders != len(sample["images"]):
        return f"{placeholders} <image> placeholder(s) but {len(sample['images'])} image(s)"
    indices = []
    for ref in sample["images"]:
        key = content_hash(ref["bytes"]) if ref.get("bytes") is not None else f"path:{ref.get('path')}"
        if key not in table:
            try:
                images.append(load_pixels(ref, image_size, image_root))
            except ImageError as err:
                return f"image {len(indices)}: {err}"
            table[key] = len(images) - 1
        indices.append(table[key])
    return indices


def encode_samples(samples: list[dict], tokenizer: Tokenizer, image_tokens: int, image_size: int,
                   max_seq_len: int, image_root: str | Path | None = None,
                   image_cells: Callable[[torch.Tensor], torch.Tensor] | None = None) -> EncodedData:
    """Encode every sample; one that cannot be used (bad image, too long, no reply) is skipped with its reason.

    `image_cells` maps the uint8 image table to the (n, image_tokens) bool cells that become tokens
    (`TinyVLM.image_cells`); without it, every image gets `image_tokens` tokens.
    """
    data = EncodedData()
    table: dict[str, int] = {}
    images: list[np.ndarray] = []
    loaded = [(sample, _load_images(sample, table, images, image_size, image_root)) for sample in samples]
    shape = (0, 3, image_size, image_size)
    data.pixels = torch.from_numpy(np.stack(images)) if images else torch.zeros(shape, dtype=torch.uint8)
    data.cells = image_cells(data.pixels) if image_cells else torch.ones((len(images), image_tokens), dtype=torch.bool)
    counts = data.cells.sum(dim=1).tolist()
    for sample, indices in loaded:
        reason = indices if isinstance(indices, str) else None
        if reason is None:
            ids, labels = encode_messages(sample["messages"], tokenizer, [counts[i] for i in indices])
            if len(ids) > max_seq_len:
                reason = f"{len(ids)} tokens exceed max_seq_len {max_seq_len}"
            elif all(label == IGNORE for label in labels):
                reason = "no assistant turn to learn from"
        if reason is not None:
            data.skipped.append((sample["id"], reason))
            continue
        data.ids.append(np.asarray(ids, dtype=np.int64))
        data.labels.append(np.asarray(labels, dtype=np.int64))
        data.image_index.append(indices)
        data.sample_ids.append(sample["id"])
    return data


@dataclass
class Batch:
    input_ids: torch.Tensor  # (B, T), right-padded with PAD
    labels: torch.Tensor  # (B, T), IGNORE on padding
    image_index: torch.Tensor  # (n_images,) rows of the pixel table, in placeholder order
    rows: np.ndarray  # which samples of the EncodedData

    @property
    def size(self) -> int:
        return len(self.rows)


def collate(data: EncodedData, rows: np.ndarray) -> Batch:
    length = max(len(data.ids[r]) for r in rows)
    input_ids = torch.full((len(rows), length), PAD, dtype=torch.long)
    labels = torch.full((len(rows), length), IGNORE, dtype=torch.long)
    for i, r in enumerate(rows):
        input_ids[i, : len(data.ids[r])] = torch.from_numpy(data.ids[r])
        labels[i, : len(data.labels[r])] = torch.from_numpy(data.labels[r])
    image_index = torch.tensor([j for r in rows for j in data.image_index[r]], dtype=torch.long)
    return Batch(input_ids, labels, image_index, rows)


def global_batches(data: EncodedData, global_batch_size: int, micro_batch_size: int,
                   rng: np.random.Generator, pool_batches: int = 32) -> Iterator[list[Batch]]:
    """One epoch of optimiser steps, each a list of micro-batches.

    Samples are shuffled, then sorted by length inside pools of `pool_batches` global batches so each
    step pads little; the order of steps is shuffled again so lengths do not drift through the epoch.
    """
    order = rng.permutation(len(data))
    lengths = data.lengths
    pool = pool_batches * global_batch_size
    steps: list[np.ndarray] = []
    for start in range(0, len(order), pool):
        chunk = order[start: start + pool]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        steps += [chunk[i: i + global_batch_size] for i in range(0, len(chunk), global_batch_size)]
    for step in rng.permutation(len(steps)):
        rows = steps[step]
        yield [collate(data, rows[i: i + micro_batch_size]) for i in range(0, len(rows), micro_batch_size)]
