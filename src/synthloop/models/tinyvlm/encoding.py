"""TinyVLM's input encoding: a conversation -> token ids and loss labels, PIL images -> pixels.

Sequence layout: `<bos>` then per turn its role token and content, each `<image>` expanded to its
image token count of IMAGE ids; an assistant turn ends with `<eos>`. Labels are the assistant contents
and their `<eos>`; every other position (bos, role tokens, user/system turns, images) is IGNORE.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image
from tokenizers import Tokenizer

from synthloop.models.tinyvlm.tokenizer import ASSISTANT, BOS, EOS, IMAGE, ROLE_TOKEN
from synthloop.sample import IMAGE_TOKEN

IGNORE = -100


def encode_messages(messages: list[dict], tokenizer: Tokenizer, image_tokens: int | Sequence[int],
                    add_generation_prompt: bool = False) -> tuple[list[int], list[int]]:
    """Token ids and labels for a conversation; with `add_generation_prompt`, end with `<|assistant|>`
    (unless the last turn is already the assistant's, whose content is then continued, without `<eos>`).

    Every `<image>` becomes `image_tokens` IMAGE ids, or, given one count per image, its own count.
    """
    counts = iter(image_tokens) if isinstance(image_tokens, Sequence) else itertools.repeat(image_tokens)
    ids, labels = [BOS], [IGNORE]
    for turn, message in enumerate(messages):
        role = message["role"]
        if role not in ROLE_TOKEN:
            raise ValueError(f"message {turn}: unknown role {role!r}")
        content: list[int] = []
        for part_index, part in enumerate(message["content"].split(IMAGE_TOKEN)):
            if part_index:
                count = next(counts, None)
                if count is None:
                    raise ValueError(f"message {turn}: more <image> placeholders than the {len(image_tokens)} "
                                     "image token counts given")
                content += [IMAGE] * count
            if part:
                content += tokenizer.encode(part, add_special_tokens=False).ids
        is_open_reply = add_generation_prompt and role == "assistant" and turn == len(messages) - 1
        if role == "assistant" and not is_open_reply:
            content.append(EOS)
        ids += [ROLE_TOKEN[role], *content]
        labels += [IGNORE, *(content if role == "assistant" else [IGNORE] * len(content))]
    if add_generation_prompt and messages[-1]["role"] != "assistant":
        ids.append(ASSISTANT)
        labels.append(IGNORE)
    return ids, labels


def pil_pixels(images: list[Image.Image], size: int) -> torch.Tensor:
    """PIL images -> uint8 (n, 3, size, size)."""
    if not images:
        return torch.zeros((0, 3, size, size), dtype=torch.uint8)
    arrays = [np.asarray(im.convert("RGB").resize((size, size), Image.Resampling.BILINEAR)) for im in images]
    return torch.from_numpy(np.stack(arrays).transpose(0, 3, 1, 2).copy())
