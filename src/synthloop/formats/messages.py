"""messages JSONL as LLaMA-Factory and TRL use: `{messages: [{role, content}], images: [paths]}`.

`content` is a string with `<image>` placeholders (LLaMA-Factory) or, on reading, a list of parts
`{"type": "text", "text"}` / `{"type": "image"}` (TRL), joined in order with `<image>` for each image
part. Canonical task/qtype/source/meta/scores are written when not empty; other fields are kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from synthloop.formats.common import (
    JsonRecordWriter,
    OnBad,
    Rejected,
    canonical_meta,
    extra_fields,
    optional_fields,
    read_json_samples,
    sample_id,
    split_extras,
)
from synthloop.formats.image_refs import image_paths
from synthloop.sample import IMAGE_TOKEN, ROLES, new_sample

KNOWN = ("id", "messages", "images", "task", "qtype", "source", "meta", "scores")


def _content_text(content: object, number: int) -> str:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise ValueError(f"message {number}: content must be a string or a list of parts")
    pieces = []
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "image":
            pieces.append(IMAGE_TOKEN)
        elif kind == "text" and isinstance(part.get("text"), str):
            pieces.append(part["text"])
        else:
            raise ValueError(f"message {number}: unknown content part {part!r}")
    return "".join(pieces)


def record_to_sample(record: object, fallback_id: str, source: str) -> dict:
    if not isinstance(record, dict) or not isinstance(record.get("messages"), list) or not record["messages"]:
        raise ValueError("expected a JSON object with a non-empty 'messages' list")
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


def sample_to_record(sample: dict, paths: list[str]) -> dict:
    record: dict = {"id": sample["id"], "messages": [{"role": m["role"], "content": m["content"]}
                                                     for m in sample["messages"]]}
    if paths:
        record["images"] = paths
    record.update(optional_fields(sample))
    record.update(extra_fields(sample))
    return record


def read(path: str | Path, image_root: str | Path | None = None) -> Iterator[dict | Rejected]:
    del image_root  # paths stay relative; only formats that embed images load them
    source = Path(path).stem
    return read_json_samples(path, lambda record, fallback: record_to_sample(record, fallback, source))


def write(samples: Iterable[dict], path: str | Path, on_bad: OnBad, image_root: str | Path | None = None) -> int:
    del on_bad
    path = Path(path)
    with JsonRecordWriter(path) as writer:
        for sample in samples:
            writer.write(sample_to_record(sample, image_paths(sample, path, image_root)))
    return writer.count
