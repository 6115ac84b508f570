"""Chat messages as TRL and transformers chat templates take them: `{messages, images: [paths]}`.

Written `content` is a list of parts, `{"type": "image"}` where `<image>` stood and `{"type": "text",
"text"}` between: trl 1.16.0 `trl/data_utils.py` `prepare_multimodal_messages` (what its vision
collator applies) fills image parts from `images` in order and, for string content, puts every image
at the start of the first user turn, so an `<image>` left in a string would be rendered twice. Its
collator reads `images` of every row, so it is always present (`[]` for text-only samples). The line break
LLaVA's format puts after `<image>` is the parts' layout, not text (`<image>\nQ` is `[image, text "Q"]`),
and every canonical text reads back byte for byte (`synthloop.chat_parts`).
Reading takes parts or strings with `<image>` placeholders (LLaMA-Factory's `mllm_demo.json`);
videos and audios (`videos`/`audios` lists, `{"type": "video"}` parts) are refused by name.
Canonical task/qtype/source/meta/scores are written when not empty; other fields are kept.
Bulky arrays in `meta` (embeddings) go to a side file (`formats.arrays`).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from synthloop.chat_parts import join_content, split_content, typed_parts
from synthloop.formats.arrays import ArraySideFile
from synthloop.formats.catalog import register
from synthloop.formats.common import (
    JsonRecordWriter,
    OnBad,
    canonical_meta,
    extra_fields,
    json_reader_with_source,
    optional_fields,
    sample_id,
    split_extras,
)
from synthloop.formats.image_refs import ImagePaths
from synthloop.sample import ROLES, new_sample

KNOWN = ("id", "messages", "images", "task", "qtype", "source", "meta", "scores")
MEDIA = ("videos", "audios")


def _content_text(content: object, number: int) -> str:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise ValueError(f"message {number}: content must be a string or a list of parts")
    pieces: list[str | None] = []
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "image":
            pieces.append(None)
        elif kind == "text" and isinstance(part.get("text"), str):
            pieces.append(part["text"])
        elif kind in ("video", "audio"):
            raise ValueError(f"message {number}: holds a {kind} part; synthloop carries images only")
        else:
            raise ValueError(f"message {number}: unknown content part {part!r}")
    return join_content(pieces)


def record_to_sample(record: object, fallback_id: str, source: str) -> dict:
    if not isinstance(record, dict) or not isinstance(record.get("messages"), list) or not record["messages"]:
        raise ValueError("expected a JSON object with a non-empty 'messages' list")
    for media in MEDIA:
        if record.get(media):
            raise ValueError(f"holds {media}; synthloop carries images only")
    messages = []
    for number, message in enumerate(record["messages"], 1):
        if not isinstance(message, dict) or message.get("role") not in ROLES:
            raise ValueError(f"message {number}: expected {{role: user|assistant|system, content}}")
        messages.append({"role": message["role"], "content": _content_text(message.get("content"), number)})
    images = record.get("images") or []
    if not isinstance(images, list) or not all(isinstance(p, str) and p for p in images):
        raise ValueError("'images' must be a list of paths")
    if not isinstance(record.get("meta") or {}, dict):
        raise ValueError("'meta' must be a JSON object")
    meta = canonical_meta(record.get("meta"), split_extras(record, KNOWN))
    return new_sample(sample_id(record, fallback_id), messages, [{"bytes": None, "path": p} for p in images],
                      task=record.get("task") or "", qtype=record.get("qtype") or "",
                      source=record.get("source") or source, meta=meta, scores=record.get("scores") or {})


def content_parts(content: str) -> list[dict]:
    """`"<image>\\nCompare it with <image>"` -> image and text parts in order (`chat_parts.split_content`)."""
    return typed_parts(split_content(content)) or [{"type": "text", "text": ""}]


def sample_to_record(sample: dict, paths: list[str]) -> dict:
    record: dict = {"id": sample["id"], "messages": [{"role": m["role"], "content": content_parts(m["content"])}
                                                     for m in sample["messages"]], "images": paths}
    record.update(optional_fields(sample))
    record.update(extra_fields(sample))
    return record


read = json_reader_with_source(record_to_sample)


def write(samples: Iterable[dict], path: str | Path, on_bad: OnBad, image_root: str | Path | None = None) -> int:
    del on_bad
    path = Path(path)
    paths_of = ImagePaths(path, image_root)
    arrays = ArraySideFile(path)
    with JsonRecordWriter(path) as writer:
        for sample in samples:
            writer.write(sample_to_record(arrays.without_arrays(sample), paths_of(sample)))
    arrays.close()
    return writer.count


@register("messages", "TRL JSONL: {messages: [{role, content: parts}], images}", read=read, write=write, priority=70)
def detect(path: Path, first: object) -> bool:
    del path
    return isinstance(first, dict) and "messages" in first
