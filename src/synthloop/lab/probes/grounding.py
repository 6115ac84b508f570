"""Dense grounding probes: every image token must name the attributes of the object under it.

A question about one object ("What colour is the circle?") is two hops for the language model: find the
image token whose object the question names, then read the asked attribute from it. With a one-word
answer as the only signal, a small model may never find the first hop: colour, shape and exist stayed
at chance with some seeds. Samples whose `meta["objects"]` give boxes and attribute words (the world's
scene annotation, or a detection dataset's) supervise both hops' ingredients directly. A linear probe
per attribute reads each image token's hidden state after the first block and must name, through the
tied vocabulary head, that attribute's word (its first token) for the object that covers most of the
token's grid cell. The probes train beside the model and are not saved.
"""

from __future__ import annotations

import functools

import numpy as np
import torch
import torch.nn.functional as F
from tokenizers import Tokenizer
from torch import nn

from synthloop.lab.probes.activations import KeptActivation
from synthloop.models.tinyvlm.encoding import IGNORE
from synthloop.models.tinyvlm.network import TinyVLM
from synthloop.models.tinyvlm.tokenizer import IMAGE, first_word_token
from synthloop.train.data import Batch, EncodedData

MIN_CELL_COVER = 0.25  # an object names a cell when its box covers at least this share of the cell


def cell_objects(objects: list[dict], grid: int) -> list[int]:
    """For each cell of a `grid` x `grid` image (row-major), the index of the object whose normalised
    `box` [x1, y1, x2, y2] covers most of it (at least MIN_CELL_COVER of the cell; the later object on a
    tie), or -1."""
    if not objects:
        return [-1] * grid * grid
    boxes = np.array([o["box"] for o in objects], dtype=np.float64)  # (k, 4)
    cells = np.arange(grid * grid)
    x0, y0 = (cells % grid / grid)[:, None], (cells // grid / grid)[:, None]
    width = np.maximum(0.0, np.minimum(boxes[:, 2], x0 + 1 / grid) - np.maximum(boxes[:, 0], x0))
    height = np.maximum(0.0, np.minimum(boxes[:, 3], y0 + 1 / grid) - np.maximum(boxes[:, 1], y0))
    cover = width * height  # (cells, k)
    last_best = len(objects) - 1 - cover[:, ::-1].argmax(axis=1)
    return np.where(cover.max(axis=1) >= MIN_CELL_COVER / grid**2, last_best, -1).tolist()


def grounding_targets(samples: list[dict], data: EncodedData, tokenizer: Tokenizer, attributes: tuple[str, ...],
                      grid: int) -> torch.Tensor:
    """(n_images, grid*grid, len(attributes)) first token id of each attribute word of the object in each
    cell of each image in `data`'s table; IGNORE where no object covers the cell, the object lacks the
    attribute, or the image's sample has no `meta["objects"]` (only single-image samples have them)."""
    targets = torch.full((len(data.pixels), grid * grid, len(attributes)), IGNORE, dtype=torch.long)
    by_id = {s["id"]: s for s in samples}
    token = functools.cache(lambda word: first_word_token(tokenizer, word))  # a few words, many cells
    for sample_id, images in zip(data.sample_ids, data.image_index, strict=True):
        objects = by_id[sample_id].get("meta", {}).get("objects")
        if len(images) != 1 or not objects:
            continue
        for cell, owner in enumerate(cell_objects(objects, grid)):
            for k, attribute in enumerate(attributes):
                word = objects[owner].get(attribute) if owner >= 0 else None
                if word:
                    targets[images[0], cell, k] = token(word)
    return targets


class GroundingProbes(nn.Module):
    """One linear probe per attribute on the image tokens' hidden states after block `layer` (the first by
    default). Reads the activation that the model's forward pass leaves behind."""

    def __init__(self, model: TinyVLM, targets: torch.Tensor, cells: torch.Tensor, weight: float = 1.0,
                 layer: int = 0):
        super().__init__()
        if not -len(model.blocks) <= layer < len(model.blocks):
            raise ValueError(f"grounding_layer {layer}: the model has {len(model.blocks)} blocks")
        d = model.cfg.d_model
        self.heads = nn.ModuleList(nn.Linear(d, d) for _ in range(targets.shape[-1]))
        self.model, self.targets, self.cells, self.weight = [model], targets, cells, weight  # a list: not a submodule
        self.hidden = KeptActivation(model.blocks[layer])

    def close(self) -> None:
        self.hidden.close()

    def loss(self, batch: Batch) -> torch.Tensor:
        """Probe cross-entropy averaged over each sample's labelled image tokens and attributes, summed
        over the batch's samples, times `weight`; call right after the model's forward pass over `batch`."""
        images = batch.image_index
        targets = self.targets[images][self.cells[images]]  # (n_image_tokens, n_attributes), in token order
        if self.hidden.value is None or not bool((targets != IGNORE).any()):
            return torch.zeros(())
        slots = batch.input_ids == IMAGE
        keep = (targets != IGNORE).any(dim=1)
        hidden, targets, row = self.hidden.value[slots][keep], targets[keep], slots.nonzero()[keep, 0]
        model = self.model[0]
        losses = torch.stack([F.cross_entropy(model.logits(head(hidden)).float(), targets[:, k], reduction="none")
                              for k, head in enumerate(self.heads)], dim=1)  # IGNORE targets give 0
        labelled = (targets != IGNORE).float()
        per_row = torch.zeros(batch.input_ids.shape[0]).index_add_(0, row, losses.sum(1))
        counts = torch.zeros(batch.input_ids.shape[0]).index_add_(0, row, labelled.sum(1))
        return self.weight * (per_row / counts.clamp(min=1)).sum()


def build(model: TinyVLM, samples: list[dict], data: EncodedData, tokenizer: Tokenizer, weight: float = 1.0,
          attributes: tuple[str, ...] | list[str] = ("color", "shape"), layer: int = 0) -> GroundingProbes | None:
    """The `grounding` auxiliary loss: the probes, when some image's scene names the attributes."""
    if not attributes:
        return None
    targets = grounding_targets(samples, data, tokenizer, tuple(attributes), model.cfg.image_grid)
    if not bool((targets != IGNORE).any()):
        return None
    return GroundingProbes(model, targets, data.cells, weight, layer)
