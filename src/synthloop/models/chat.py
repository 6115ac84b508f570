"""Chat messages with `<image>` placeholders, as backends send them and chat templates take them.

LLaVA's text format puts a line break right after each `<image>` (haotian-liu/LLaVA: `"<image>\\n" + text` in
`llava/train/train.py` `preprocess_multimodal` @ 0034661 and `llava/conversation.py` `get_prompt` @ 053c284,
so LLaVA-1.5 is prompted `USER: <image>\\nQ ASSISTANT:`). That break is the format's separator, not the
user's text: a chat template places its own (llava-hf/llava-1.5-7b-hf's renders each image part as
`"<image>\\n"`), so it is left out of the text that follows an image.
"""

from __future__ import annotations

from synthloop.sample import IMAGE_TOKEN


def content_parts(content: str) -> list[str | None]:
    """Split a message into text pieces and `None` where each `<image>` goes (empty text dropped, and the
    line break right after an image)."""
    parts: list[str | None] = []
    for k, text in enumerate(content.split(IMAGE_TOKEN)):
        if k > 0:
            parts.append(None)
            text = text.removeprefix("\n")
        if text.strip():
            parts.append(text)
    return parts


def chat_structure(messages: list[dict]) -> list[dict]:
    """Canonical messages -> the structured content processors' chat templates take: `{type: image}` and
    `{type: text, text}` parts in order."""
    return [{"role": message["role"],
             "content": [{"type": "image"} if part is None else {"type": "text", "text": part}
                         for part in content_parts(message["content"])]}
            for message in messages]
