"""The catalogue of edge formats: each format module registers itself, so nothing else lists them.

    @register("dj", "Data-Juicer JSONL", read=read, write=write)
    def detect(path: Path, first: object) -> bool:  # `first`: the first JSON record, None if not JSON
        return isinstance(first, dict) and "text" in first

`formats.registry` imports every format module in detection order and reads, writes and detects
through `FORMATS`; the CLI's format choices and `synthloop formats` come from it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from synthloop.formats.common import Rejected

Reader = Callable[..., Iterator[dict | Rejected]]
Writer = Callable[..., int]
Detect = Callable[[Path, Any], bool]


@dataclass(frozen=True)
class Format:
    name: str
    summary: str
    read: Reader | None
    write: Writer | None
    detect: Detect | None
    priority: int = 50  # detection order: lower is tried first
    embeds_images: bool = False  # writes image bytes (else paths)


FORMATS: dict[str, Format] = {}


def register(name: str, summary: str, *, read: Reader | None = None, write: Writer | None = None,
             priority: int = 50, embeds_images: bool = False) -> Callable[[Detect], Detect]:
    """Register format `name`; the decorated function says whether a path (or its first record) is in it.
    Formats are tried in `priority` order, so a specific layout (LLaMA-Factory's) goes before a general one."""

    def decorate(detect: Detect) -> Detect:
        FORMATS[name] = Format(name, summary, read, write, detect, priority, embeds_images)
        return detect

    return decorate


def register_writer(name: str, summary: str, write: Writer) -> None:
    """A write-only format (nothing to detect)."""
    FORMATS[name] = Format(name, summary, None, write, None)


def in_detection_order() -> list[Format]:
    return sorted((fmt for fmt in FORMATS.values() if fmt.detect is not None), key=lambda fmt: fmt.priority)


def names(action: str) -> list[str]:
    """Sorted names of the formats that can `read` or `write`."""
    return sorted(name for name, fmt in FORMATS.items() if getattr(fmt, action) is not None)
