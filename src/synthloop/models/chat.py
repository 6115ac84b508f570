"""Chat messages with `<image>` placeholders, as backends send them."""

from __future__ import annotations

from synthloop.sample import IMAGE_TOKEN


def content_parts(content: str) -> list[str | None]:
    """Split a message into text pieces and `None` where each `<image>` goes (empty text dropped)."""
    parts: list[str | None] = []
    for k, text in enumerate(content.split(IMAGE_TOKEN)):
        if k > 0:
            parts.append(None)
        if text.strip():
            parts.append(text)
    return parts
