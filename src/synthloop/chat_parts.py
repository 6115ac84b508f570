"""Canonical text with `<image>` placeholders <-> chat content parts, the line break after an image held by
the parts' layout.

LLaVA's text format puts a line break right after `<image>` (haotian-liu/LLaVA `preprocess_multimodal` in
`llava/train/train.py` @ 0034661: `"<image>\\n" + text`), and chat templates place it themselves:
llava-hf/llava-1.5-7b-hf's renders every image part as `"<image>\\n"`, and TRL's vision SFT example applies
the template to the stored messages as they are (trl `examples/scripts/sft_vlm.py` @ 0420a0b, `collate_fn`),
so a text part that keeps the break trains LLaVA-1.5 on `<image>\\n\\nQ`. Parts therefore leave it out:
`<image>\\nQ` is `[image, text "Q"]`, as TRL documents vision datasets (trl `docs/source/dataset_formats.md`
@ c723297, "Vision datasets") and builds trl-lib/llava-instruct-mix (`examples/datasets/llava_instruct_mix.py`
@ 0ed5e80 strips `<image>` and the break; `prepare_multimodal_messages` puts image parts before the text).

Reading, an image part is `<image>\\n` (as the template renders it) unless what follows it is nothing, text
that begins with whitespace, or an empty text part. So rows that kept LLaVA's breaks read as LLaVA wrote
them too (HuggingFaceH4/llava-instruct-mix-vsft: `[image, text "\\nWhat may be ...?"]`,
`[text "Who wrote this book?\\n", image]`). Splitting is its exact inverse: where canonical text has no break
after an image that reading would add (`<image>Q`, `<image><image>`), an empty text part stands between
them, so every canonical text round-trips byte for byte.
"""

from __future__ import annotations

from synthloop.sample import IMAGE_TOKEN


def _breaks_after_image(text: str, image_next: bool) -> bool:
    """Whether an image followed by `text` (then by another image if `image_next`) reads with a break."""
    return not text[:1].isspace() if text else image_next


def split_content(content: str) -> list[str | None]:
    """`"<image>\\nQ"` -> `[None, "Q"]`: text pieces and `None` where each `<image>` goes (`join_content`'s
    inverse)."""
    texts = content.split(IMAGE_TOKEN)
    parts: list[str | None] = [texts[0]] if texts[0] else []
    for k, text in enumerate(texts[1:], 2):
        image_next = k < len(texts)
        parts.append(None)
        if text.startswith("\n") and _breaks_after_image(text[1:], image_next):
            text = text[1:]
        elif _breaks_after_image(text, image_next):
            parts.append("")
        if text:
            parts.append(text)
    return parts


def join_content(parts: list[str | None]) -> str:
    """Text pieces and `None` for images -> canonical text, `<image>\\n` where the layout holds the break."""
    pieces = []
    for k, part in enumerate(parts):
        if part is None:
            following = parts[k + 1] if k + 1 < len(parts) else ""
            pieces.append(IMAGE_TOKEN + "\n" * _breaks_after_image(following or "", following is None))
        else:
            pieces.append(part)
    return "".join(pieces)


def typed_parts(parts: list[str | None]) -> list[dict]:
    """Text pieces and `None` for images -> chat content parts: `{type: image}` and `{type: text, text}`."""
    return [{"type": "image"} if part is None else {"type": "text", "text": part} for part in parts]
