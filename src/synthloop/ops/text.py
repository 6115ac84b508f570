"""Text helpers shared by the text filters and text dedups (not an op)."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from typing import Literal

from synthloop.sample import IMAGE_TOKEN

Role = Literal["all", "user", "assistant"]

_WORD = re.compile(r"\w+")
_SPACE = re.compile(r"\s+")


def sample_text(sample: dict, role: Role = "all") -> str:
    """The message contents of `role` (or all), joined by newlines, `<image>` removed, stripped."""
    parts = [m["content"].replace(IMAGE_TOKEN, "") for m in sample["messages"] if role in ("all", m["role"])]
    return "\n".join(parts).strip()


def normalize(text: str) -> str:
    """NFKC, lower case, runs of whitespace collapsed to one space, stripped."""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text).lower()).strip()


def words(text: str) -> list[str]:
    """Lower-case word tokens (Unicode letters, digits and `_`); punctuation is not a word."""
    return _WORD.findall(unicodedata.normalize("NFKC", text).lower())


def conversation_digest(sample: dict) -> bytes:
    """16-byte hash of the conversation: every turn's role and normalised content, in order."""
    text = "\0".join(f"{m['role']}\0{normalize(m['content'])}" for m in sample["messages"])
    return hashlib.blake2b(text.encode(), digest_size=16).digest()
