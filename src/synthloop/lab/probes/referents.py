"""Supervised referent attention: at the start of each reply, one attention head of the last block must
look at the object the question names, or at `<bos>` when the scene holds no such object.

"Is there a red circle?" asks the model to search the image and then say whether the search found
anything. With a yes/no word as the only signal, a small model learns that search slowly and for some
seeds not at all: exist stayed at chance in runs where colour and shape were learnt. Samples whose
`meta["objects"]` give boxes and attribute words say where the answer is. When a question names at most
one colour and at most one shape of the scene's vocabulary, the objects with those attributes are its
referents, and the head's attention from the reply's first position must put its mass on their image
tokens (or on `<bos>`, the sink, when there are none). Yes or no is then one linear read of the head's
output. With two mentions allowed (`referent_mentions`), a question that names two objects, each by a
"colour shape" phrase ("Is the red circle left of the blue square?", "Which is bigger, ...?"), gets one
head per object: head `referent_head` looks at the first, the next head at the second, and comparing
them is left to the layers above. The loss is the
heads' own attention, recomputed from the block's weights: no extra parameters.
"""

from __future__ import annotations

import itertools
import math
import re

import torch
import torch.nn.functional as F
from tokenizers import Tokenizer
from torch import nn

from synthloop.lab.probes.activations import KeptActivation
from synthloop.lab.probes.grounding import cell_objects
from synthloop.models.tinyvlm.network import TinyVLM
from synthloop.models.tinyvlm.tokenizer import ASSISTANT, IMAGE
from synthloop.train.data import Batch, EncodedData

SINK = 0  # position of <bos>, and its slot in a reply's target row (cells follow at 1 + cell)


def attribute_vocabulary(samples: list[dict]) -> tuple[set[str], set[str]]:
    """The colour and shape words of all objects in the samples' scene annotations."""
    objects = [o for s in samples for o in (s.get("meta") or {}).get("objects") or []]
    return {o["color"] for o in objects if o.get("color")}, {o["shape"] for o in objects if o.get("shape")}


def _singular(word: str, shapes: set[str]) -> str | None:
    """The shape a word names, plural or not; None if none."""
    return next((form for form in (word, word.removesuffix("s"), word.removesuffix("es")) if form in shapes), None)


def mentions(question: str, colors: set[str], shapes: set[str], most: int = 2) -> list[tuple[set[str], set[str]]]:
    """The objects a question names, as (colours, shapes) each must have: its two "colour shape" phrases
    in order when it has exactly two, else its colour and shape words together when there is at most
    one of each; [] when it names none or more than that."""
    words = re.findall(r"[a-z]+", question.lower())
    phrases = [({color}, {shape}) for color, word in itertools.pairwise(words)
               if color in colors and (shape := _singular(word, shapes))]
    if most >= 2 and len(phrases) == 2:
        return phrases
    named_colors = colors & set(words)
    named_shapes = {shape for word in words if (shape := _singular(word, shapes))}
    if not (named_colors or named_shapes) or len(named_colors) > 1 or len(named_shapes) > 1:
        return []
    return [(named_colors, named_shapes)]


def referent_cells(question: str, objects: list[dict], grid: int, colors: set[str], shapes: set[str],
                   owners: list[int] | None = None, most: int = 2) -> list[list[int] | None]:
    """For each object the question names (`mentions`), the cells (row-major) covered by the scene's
    objects that fit it: [] when the scene holds none of them, None when they own no cell. `owners` is
    `cell_objects(objects, grid)` when the caller has it already."""
    mentioned = mentions(question, colors, shapes, most)
    if mentioned and owners is None:
        owners = cell_objects(objects, grid)
    found: list[list[int] | None] = []
    for named_colors, named_shapes in mentioned:
        matches = {k for k, o in enumerate(objects) if (not named_colors or o.get("color") in named_colors)
                   and (not named_shapes or o.get("shape") in named_shapes)}
        cells = [cell for cell, owner in enumerate(owners) if owner in matches]
        found.append(cells if cells or not matches else None)
    return found


def referent_targets(samples: list[dict], data: EncodedData, grid: int, most: int = 2) -> torch.Tensor:
    """(len(data), max replies, `most` (1 or 2), 1 + grid*grid) bool: for each reply of each encoded
    single-image sample with `meta["objects"]` and each object its question names, the sink (slot 0) or the referent
    cells (slot 1 + cell); all False where there is no target."""
    if most not in (1, 2):
        raise ValueError(f"referent_mentions must be 1 or 2, not {most}")
    by_id = {s["id"]: s for s in samples}
    colors, shapes = attribute_vocabulary(samples)
    replies = max((sum(m["role"] == "assistant" for m in by_id[i]["messages"]) for i in data.sample_ids), default=0)
    targets = torch.zeros((len(data), replies, most, 1 + grid * grid), dtype=torch.bool)
    for row, (sample_id, images) in enumerate(zip(data.sample_ids, data.image_index, strict=True)):
        sample = by_id[sample_id]
        objects = (sample.get("meta") or {}).get("objects")
        if len(images) != 1 or objects is None:  # [] is a scene annotated as empty: every referent is absent
            continue
        messages = sample["messages"]
        questions = [messages[i - 1]["content"] if i > 0 and messages[i - 1]["role"] == "user" else None
                     for i, m in enumerate(messages) if m["role"] == "assistant"]
        owners = cell_objects(objects, grid)  # once per scene, not per question
        for reply, question in enumerate(questions):
            found = [] if question is None else referent_cells(question, objects, grid, colors, shapes, owners, most)
            for mention, cells in enumerate(found):
                if cells is not None:
                    targets[row, reply, mention, [1 + c for c in cells] if cells else [SINK]] = True
    return targets


class ReferentAttention(nn.Module):
    """The referent loss on heads `head`, `head` + 1, ... (one per mention the targets allow) of the model's
    last block, computed from the input of that block's attention, which the forward pass leaves behind."""

    def __init__(self, model: TinyVLM, targets: torch.Tensor, cells: torch.Tensor, weight: float = 1.0,
                 head: int = 0):
        super().__init__()
        n_mentions = targets.shape[2]  # objects a question may name, one head each
        if not 0 <= head <= model.cfg.n_heads - n_mentions:
            raise ValueError(f"referent_head {head}: the referent heads are {head} to {head + n_mentions - 1}, "
                             f"the model has {model.cfg.n_heads} heads")
        self.model = [model]  # a list: not a submodule (the loss has no parameters of its own)
        self.targets, self.cells, self.weight, self.head = targets, cells, weight, head
        self.attention_input = KeptActivation(model.blocks[-1].ln1)

    def close(self) -> None:
        self.attention_input.close()

    def _target_slots(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, T) long, the slot of each position in a reply's target row (1 + its cell for an image token,
        SINK elsewhere), and (B, T) bool, which positions are image tokens."""
        is_image = batch.input_ids == IMAGE
        token_cell = torch.full(batch.input_ids.shape, -1, dtype=torch.long)
        token_cell[is_image] = self.cells[batch.image_index].nonzero()[:, 1]  # image tokens fill slots in order
        return torch.where(is_image, 1 + token_cell, torch.full_like(token_cell, SINK)), is_image

    def loss(self, batch: Batch) -> torch.Tensor:
        """-log(attention mass on the targets) averaged over each sample's targets (a reply's mentions),
        summed over the batch's samples, times `weight`; call right after the model's forward pass."""
        starts = (batch.input_ids == ASSISTANT).nonzero()  # (row, position), row-major
        if self.attention_input.value is None or not len(starts) or not self.targets.shape[1]:
            return torch.zeros(())
        row, position = starts[:, 0], starts[:, 1]
        first = torch.searchsorted(row, row, side="left")
        reply = torch.arange(len(row)) - first  # which reply of its row
        keep = reply < self.targets.shape[1]  # more role tokens than replies: "<|assistant|>" typed in a turn
        row, position, reply = row[keep], position[keep], reply[keep]
        replies = self.targets[torch.from_numpy(batch.rows)[row], reply]  # (n, mentions, 1 + cells)
        if not bool(replies.any()):
            return torch.zeros(())
        target_slots, is_image = self._target_slots(batch)
        block = self.model[0].blocks[-1]
        d, hidden = block.qkv.in_features, self.attention_input.value
        width = d // block.n_heads
        n_mentions = replies.shape[1]
        heads = slice(self.head * width, (self.head + n_mentions) * width)
        k_rows = slice(d + heads.start, d + heads.stop)  # keys of all referent heads, once for the batch
        keys = rows_of(block.qkv, k_rows, hidden).unflatten(-1, (n_mentions, width))
        per_row = torch.zeros(batch.input_ids.shape[0])
        counts = torch.zeros(batch.input_ids.shape[0])
        for mention in range(n_mentions):
            has_target = replies[:, mention].any(dim=1)
            if not bool(has_target.any()):
                continue
            at, where = row[has_target], position[has_target]
            q_rows = slice(heads.start + mention * width, heads.start + (mention + 1) * width)
            query = rows_of(block.qkv, q_rows, hidden[at, where])  # (n, width)
            scores = torch.einsum("nw,ntw->nt", query, keys[at, :, mention]) / math.sqrt(width)
            causal = torch.arange(hidden.shape[1])[None, :] <= where[:, None]
            log_attention = scores.masked_fill(~causal, float("-inf")).float().log_softmax(dim=1)
            wanted = replies[has_target, mention].gather(1, target_slots[at])  # positions the head should see
            wanted[:, 1:] &= is_image[at, 1:]  # only <bos> may stand for the sink
            losses = -log_attention.masked_fill(~wanted, float("-inf")).logsumexp(dim=1)
            per_row.index_add_(0, at, losses)
            counts.index_add_(0, at, torch.ones_like(losses))
        return self.weight * (per_row / counts.clamp(min=1)).sum()


def rows_of(linear: torch.nn.Linear, rows: slice, x: torch.Tensor) -> torch.Tensor:
    """The outputs `rows` of `linear` on `x`, computing only those."""
    return F.linear(x, linear.weight[rows], None if linear.bias is None else linear.bias[rows])


def build(model: TinyVLM, samples: list[dict], data: EncodedData, tokenizer: Tokenizer, weight: float = 1.0,
          head: int = 0, mentions: int = 1) -> ReferentAttention | None:
    """The `referents` auxiliary loss, when some reply's question names objects of its scene."""
    targets = referent_targets(samples, data, model.cfg.image_grid, mentions)
    if not bool(targets.any()):
        return None
    return ReferentAttention(model, targets, data.cells, weight, head)
