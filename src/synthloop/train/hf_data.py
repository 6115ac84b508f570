"""Canonical samples as TRL's vision SFT trains on them, and the chat template it masks labels with.

TRL 1.16.0's `DataCollatorForVisionLanguageModeling` (`trl/trainer/sft_trainer.py`) takes rows of
`messages` and `images`; `trl/data_utils.py` `prepare_multimodal_messages` fills `{"type": "image"}`
content parts from `images` in order, so each `<image>` of a canonical message becomes such a part where
it stood, as the `hf:` backend prompts the trained model (`models.chat.chat_structure`). With
`assistant_only_loss=True` the collator keeps the labels inside the template's `{% generation %}`
blocks only (`trl/chat_template_utils.py`: `get_training_chat_template` has marked versions of the
templates of LLaVA-Next, Qwen2-VL/2.5-VL, SmolVLM, Idefics3 and others). LLaVA-1.5's own template
(llava-hf/llava-1.5-7b-hf) marks the assistant's text but not the `</s>` LLaVA's training appends to
every reply, which `reply_end` puts back.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from synthloop.images import ImageError, decode, image_bytes
from synthloop.models.chat import chat_structure
from synthloop.sample import IMAGE_TOKEN


def chat_rows(samples: list[dict], image_root: str | None,
              end: str = "") -> tuple[list[dict], list[tuple[str, str]]]:
    """Canonical samples -> TRL's vision rows `{messages: [content parts], images: [bytes]}`, `end` added to
    every reply; and the (id, reason) of each sample that cannot train: images that do not match its
    `<image>` placeholders or do not decode, or no assistant turn."""
    rows, skipped = [], []
    for sample in samples:
        placeholders = sum(m["content"].count(IMAGE_TOKEN) for m in sample["messages"])
        reason = None
        if placeholders != len(sample["images"]):
            reason = f"{placeholders} <image> placeholder(s) but {len(sample['images'])} image(s)"
        elif not any(m["role"] == "assistant" for m in sample["messages"]):
            reason = "no assistant turn to learn from"
        images = []
        for k, ref in enumerate(sample["images"] if reason is None else []):
            try:
                data = image_bytes(ref, image_root)
                decode(data)
            except ImageError as err:
                reason = f"image {k}: {err}"
                break
            images.append({"bytes": data, "path": None})
        if reason is not None:
            skipped.append((sample["id"], reason))
            continue
        messages = [{**m, "content": m["content"] + end * (m["role"] == "assistant")} for m in sample["messages"]]
        rows.append({"messages": chat_structure(messages), "images": images})
    return rows, skipped


def vision_dataset(rows: list[dict]) -> Any:
    """A `datasets.Dataset` whose images decode to PIL on access, as TRL's vision collator takes them."""
    import datasets

    part = {"type": datasets.Value("string"), "text": datasets.Value("string")}
    features = datasets.Features({"messages": [{"role": datasets.Value("string"), "content": [part]}],
                                  "images": datasets.Sequence(datasets.Image())})
    return datasets.Dataset.from_list(rows, features=features)


def training_template(processor: Any, template_file: Path | None) -> str | None:
    """The chat template TRL masks with: `template_file`'s, None for the processor's own when it has
    `{% generation %}` blocks, else TRL's training version of it (ValueError when TRL has none)."""
    from trl.chat_template_utils import get_training_chat_template, has_generation_markers

    if template_file is not None:
        return template_file.read_text(encoding="utf-8")
    if processor.chat_template and has_generation_markers(processor.chat_template):
        return None
    try:
        return get_training_chat_template(processor)
    except ValueError:
        raise ValueError("its chat template has no {% generation %} blocks to mark the assistant's text and TRL has "
                         "no training version of it: give one with the chat_template setting") from None


def reply_end(processor: Any, template: str | None) -> str:
    """The end-of-sequence token to add to each reply when the template leaves the end of the assistant's
    turn out of its `{% generation %}` block (LLaVA-1.5's: "ASSISTANT: red " and no `</s>`), so the model
    learns to stop as LLaVA's own training teaches it ("ASSISTANT: red</s>"); else ""."""
    from trl.chat_template_utils import is_chat_template_stop_token_trained

    if is_chat_template_stop_token_trained(processor, chat_template=template):
        return ""
    return processor.tokenizer.eos_token or ""
