"""LLaVA conversation JSON (a list) and JSONL: `{id, image, conversations: [{from, value}]}`.

Layout from haotian-liu/LLaVA@c121f04 `docs/Finetune_Custom_Data.md`; `llava/train/train.py` joins
`image` to `--image_folder`. `image` is absent (text-only), a path, or a list of paths, relative to the
image root (DataOptim's files are written that way). Every
`value` is kept exactly, `<image>` wherever it stands (start, end of the first turn, inline).
Fields other than `id`, `image` and `conversations` go to `meta["extra_fields"]` and are written
back, so LLaVA -> canonical -> LLaVA gives the same records. The canonical `source` is the file
name (DataOptim ships one file per source); LLaVA output carries no task/qtype/source fields.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from synthloop.formats.catalog import register
from synthloop.formats.common import (
    JsonRecordWriter,
    OnBad,
    canonical_meta,
    extra_fields,
    json_reader_with_source,
    sample_id,
    split_extras,
)
from synthloop.formats.image_refs import ImagePaths
from synthloop.sample import new_sample

TO_ROLE = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant", "system": "system"}
FROM_ROLE = {"user": "human", "assistant": "gpt", "system": "system"}
KNOWN = ("id", "image", "conversations")
# meta flag: a single image was given as a one-element list, so write it back as one
IMAGE_LIST = "image_list"


def record_to_sample(record: object, fallback_id: str, source: str) -> dict:
    """One LLaVA record -> canonical sample (not validated); raises ValueError on a bad shape."""
    if not isinstance(record, dict):
        raise ValueError(f"expected a JSON object, got {type(record).__name__}")
    turns = record.get("conversations")
    if not isinstance(turns, list) or not turns:
        raise ValueError("'conversations' must be a non-empty list")
    try:  # the common case fast; a bad turn is then found and named below
        messages = [{"role": TO_ROLE[turn["from"]], "content": turn["value"]} for turn in turns]
    except (KeyError, TypeError):
        raise ValueError(_turn_problem(turns)) from None
    image = record.get("image")
    if image is None or len(record) > 3:  # not the common {id, image, conversations}
        if record.get("video") or record.get("audio"):
            raise ValueError("holds a video or audio; synthloop carries images only")
        if image is None and "images" in record:
            raise ValueError("has 'images', not 'image': LLaMA-Factory's sharegpt layout; read it with --from "
                             "sharegpt")
    paths = [] if image is None else [image] if isinstance(image, str) else image
    if not isinstance(paths, list) or not all(isinstance(p, str) and p for p in paths):
        raise ValueError("'image' must be a path or a list of paths")
    meta = canonical_meta(None, split_extras(record, KNOWN))
    if isinstance(image, list) and len(image) == 1:
        meta[IMAGE_LIST] = True
    return new_sample(sample_id(record, fallback_id), messages, [{"bytes": None, "path": p} for p in paths],
                      source=source, meta=meta)


def _turn_problem(turns: list) -> str:
    for number, turn in enumerate(turns, 1):
        if not isinstance(turn, dict) or "value" not in turn:
            return f"turn {number}: expected {{from, value}}"
        speaker = turn.get("from")
        if not isinstance(speaker, str) or speaker not in TO_ROLE:
            return f"turn {number}: unknown speaker {speaker!r} (expected human, gpt or system)"
    return "malformed turns"


def sample_to_record(sample: dict, paths: list[str]) -> dict:
    """Canonical sample (its image paths given) -> LLaVA record."""
    record: dict = {"id": sample["id"]}
    if len(paths) == 1 and not sample["meta"].get(IMAGE_LIST):
        record["image"] = paths[0]
    elif paths:
        record["image"] = paths
    record["conversations"] = [{"from": FROM_ROLE[m["role"]], "value": m["content"]} for m in sample["messages"]]
    extras = extra_fields(sample)
    if extras:
        record.update(extras)
    return record


read = json_reader_with_source(record_to_sample)


def write(samples: Iterable[dict], path: str | Path, on_bad: OnBad, image_root: str | Path | None = None) -> int:
    """Write a JSON list (`.json`) or JSONL; images with bytes but no path are saved beside the file."""
    del on_bad, image_root  # every valid sample has a LLaVA form; paths stay relative to the image root
    path = Path(path)
    paths_of = ImagePaths(path)
    with JsonRecordWriter(path) as writer:
        for sample in samples:
            writer.write(sample_to_record(sample, paths_of(sample)))
    return writer.count


@register("llava", "LLaVA JSON list or JSONL: {id, image, conversations: [{from, value}]}", read=read, write=write,
          priority=60)
def detect(path: Path, first: object) -> bool:
    del path
    return isinstance(first, dict) and "conversations" in first
