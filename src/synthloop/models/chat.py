"""Chat messages with `<image>` placeholders, as backends send them and chat templates take them.

A chat template places the line break LLaVA's format puts after `<image>` itself (`synthloop.chat_parts`),
so LLaVA-1.5 is prompted `USER: <image>\nQ ASSISTANT:` as LLaVA prompts it (haotian-liu/LLaVA
`llava/conversation.py` `get_prompt` @ 053c284), not `<image>\n\nQ`.
"""

from __future__ import annotations

from synthloop.chat_parts import split_content, typed_parts


def content_parts(content: str) -> list[str | None]:
    """Split a message into text pieces and `None` where each `<image>` goes, without the line break after an
    image and without blank text."""
    return [part for part in split_content(content) if part is None or part.strip()]


def chat_structure(messages: list[dict]) -> list[dict]:
    """Canonical messages -> the structured content processors' chat templates take: `{type: image}` and
    `{type: text, text}` parts in order."""
    return [{"role": message["role"], "content": typed_parts(content_parts(message["content"]))}
            for message in messages]
