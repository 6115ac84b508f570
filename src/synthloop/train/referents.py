"""Supervised referent attention: at the start of each reply, one attention head of the last block must
look at the object the question names, or at `<bos>` when the scene holds no such object.

"Is there a red circle?" asks the model to search the image and then say whether the search found
anything. With a yes/no word as the only signal, a small model learns that search slowly and for some
seeds not at all: exist stayed at chance in runs where colour and shape were learnt. Samples whose
`meta["objects"]` give boxes and attribute words say where the answer is. When a question names at most
one colour and at most one shape of the scene's vocabulary, the objects with those attributes are its
referents, and the head's attention from the reply's first position must put its mass on their image
tokens (or on `<bos>`, the sink, when there are none). Yes or no is then one linear read of the head's
output. The loss is the head's own attention, recomputed from the block's weights: no extra parameters.
"""

from __future__ import annotations

import math
import re

import torch
import torch.nn.functional as F
from torch import nn

from synthloop.train.activations import KeptActivation
from synthloop.train.data import Batch, EncodedData
from synthloop.train.grounding import cell_objects
from synthloop.train.tinyvlm import TinyVLM
from synthloop.train.tokenizer import ASSISTANT, IMAGE

SINK = 0  # position of <bos>, and its slot in a reply's target row (cells follow at 1 + cell)


def attribute_vocabulary(samples: list[dict]) -> tuple[set[str], set[str]]:
    """The colour and shape words of all objects in the samples' scene annotations."""
    objects = [o for s in samples for o in (s.get("meta") or {}).get("objects") or []]
    return {o["color"] for o in objects if o.get("color")}, {o["shape"] for o in objects if o.get("shape")}


def named_attributes(question: str, colors: set[str], shapes: set[str]) -> tuple[set[str], set[str]]:
    """The colour words and the shape words (plurals too) a question names."""
    words = set(re.findall(r"[a-z]+", question.lower()))
    singulars = words | {word.removesuffix(end) for word in words for end in ("s", "es")}
    return colors & words, shapes & singulars


def referent_cells(question: str, objects: list[dict], grid: int, colors: set[str],
                   shapes: set[str]) -> list[int] | None:
    """The cells (row-major) covered by the objects a question names; [] when the scene holds none of
    them; None when the question names no attribute, more than one of a kind, or objects that own no cell."""
    named_colors, named_shapes = named_attributes(question, colors, shapes)
    if not (named_colors or named_shapes) or len(named_colors) > 1 or len(named_shapes) > 1:
        return None
    matches = {k for k, o in enumerate(objects) if (not named_colors or o.get("color") in named_colors)
               and (not named_shapes or o.get("shape") in named_shapes)}
    if not matches:
        return []
    cells = [cell for cell, owner in enumerate(cell_objects(objects, grid)) if owner in matches]
    return cells or None


def referent_targets(samples: list[dict], data: EncodedData, grid: int) -> torch.Tensor:
    """(len(data), max replies, 1 + grid*grid) bool: for each reply of each encoded single-image sample
    with `meta["objects"]`, the sink (slot 0) or the referent cells (slot 1 + cell) its question names;
    all False where there is no target."""
    by_id = {s["id"]: s for s in samples}
    colors, shapes = attribute_vocabulary(samples)
    replies = max((sum(m["role"] == "assistant" for m in by_id[i]["messages"]) for i in data.sample_ids), default=0)
    targets = torch.zeros((len(data), replies, 1 + grid * grid), dtype=torch.bool)
    for row, (sample_id, images) in enumerate(zip(data.sample_ids, data.image_index, strict=True)):
        sample = by_id[sample_id]
        objects = (sample.get("meta") or {}).get("objects")
        if len(images) != 1 or objects is None:  # [] is a scene annotated as empty: every referent is absent
            continue
        messages = sample["messages"]
        questions = [messages[i - 1]["content"] if i > 0 and messages[i - 1]["role"] == "user" else None
                     for i, m in enumerate(messages) if m["role"] == "assistant"]
        for reply, question in enumerate(questions):
            cells = None if question is None else referent_cells(question, objects, grid, colors, shapes)
            if cells is not None:
                targets[row, reply, [1 + c for c in cells] if cells else [SINK]] = True
    return targets


class ReferentAttention(nn.Module):
    """The referent loss on head `head` of the model's last block, computed from the input of that block's
    attention, which the model's forward pass leaves behind."""

    def __init__(self, model: TinyVLM, targets: torch.Tensor, cells: torch.Tensor, weight: float = 1.0,
                 head: int = 0):
        super().__init__()
        if not 0 <= head < model.cfg.n_heads:
            raise ValueError(f"referent_head {head}: the model has {model.cfg.n_heads} heads")
        self.model = [model]  # a list: not a submodule (the loss has no parameters of its own)
        self.targets, self.cells, self.weight, self.head = targets, cells, weight, head
        self.attention_input = KeptActivation(model.blocks[-1].ln1)

    def close(self) -> None:
        self.attention_input.close()

    def _key_targets(self, batch: Batch, replies: torch.Tensor, reply_rows: torch.Tensor) -> torch.Tensor:
        """(n_replies, T) bool: the positions each reply's head should look at."""
        slots = batch.input_ids == IMAGE
        token_cell = torch.full(batch.input_ids.shape, -1, dtype=torch.long)
        token_cell[slots] = self.cells[batch.image_index].nonzero()[:, 1]  # image tokens fill slots in order
        slot_index = torch.where(token_cell >= 0, 1 + token_cell, torch.full_like(token_cell, SINK))
        keys = replies.gather(1, slot_index[reply_rows])
        keys[:, 1:] &= slots[reply_rows, 1:]  # only <bos> may stand for the sink
        return keys

    def loss(self, batch: Batch) -> torch.Tensor:
        """-log(attention mass on the targets) averaged over each sample's targeted replies, summed over the
        batch's samples, times `weight`; call right after the model's forward pass over `batch`."""
        starts = (batch.input_ids == ASSISTANT).nonzero()  # (row, position), row-major
        if self.attention_input.value is None or not len(starts) or not self.targets.shape[1]:
            return torch.zeros(())
        row, position = starts[:, 0], starts[:, 1]
        first = torch.searchsorted(row, row, side="left")
        reply = torch.arange(len(row)) - first  # which reply of its row
        keep = reply < self.targets.shape[1]  # more role tokens than replies: "<|assistant|>" typed in a turn
        row, position, reply = row[keep], position[keep], reply[keep]
        replies = self.targets[torch.from_numpy(batch.rows)[row], reply]
        has_target = replies.any(dim=1)
        if not bool(has_target.any()):
            return torch.zeros(())
        row, position, replies = row[has_target], position[has_target], replies[has_target]
        keys = self._key_targets(batch, replies, row)

        block = self.model[0].blocks[-1]
        d = block.qkv.in_features
        width = d // block.n_heads
        q_rows = slice(self.head * width, (self.head + 1) * width)
        k_rows = slice(d + self.head * width, d + (self.head + 1) * width)
        weight, bias, hidden = block.qkv.weight, block.qkv.bias, self.attention_input.value
        query = F.linear(hidden[row, position], weight[q_rows], bias[q_rows])  # (n, width)
        key = F.linear(hidden[row], weight[k_rows], bias[k_rows])  # (n, T, width)
        scores = torch.einsum("nw,ntw->nt", query, key) / math.sqrt(width)
        causal = torch.arange(batch.input_ids.shape[1])[None, :] <= position[:, None]
        log_attention = scores.masked_fill(~causal, float("-inf")).float().log_softmax(dim=1)
        losses = -log_attention.masked_fill(~keys, float("-inf")).logsumexp(dim=1)
        per_row = torch.zeros(batch.input_ids.shape[0]).index_add_(0, row, losses)
        counts = torch.zeros(batch.input_ids.shape[0]).index_add_(0, row, torch.ones_like(losses))
        return self.weight * (per_row / counts.clamp(min=1)).sum()
