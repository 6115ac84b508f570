"""LLaMA-Factory's sharegpt layout: a list of turns plus an `images` list, tags named in `dataset_info.json`.

Facts from hiyouga/LLaMA-Factory@ff6d4d1: `data/README.md` (multimodal image dataset: `conversations`
of `{from, value}`, `human`/`gpt`, `<image>` tokens matching `images`), `data/mllm_demo.json` with its
`dataset_info.json` entry (`messages` of `{role, content}`, `user`/`assistant`), and
`src/llamafactory/data/parser.py` (defaults: column `conversations`, tags `from`/`value`/`human`/`gpt`/
`system`/`observation`/`function_call`). `converter.py` takes a system turn only first, then user and
assistant turns alternating, and resolves image paths against `media_dir` (default: the dataset folder).

Reading uses the file's entry in a `dataset_info.json` beside it when there is one, else either layout
as found. Tool turns (`observation`, `function_call`) and videos/audios are refused by name. Writing
gives the README's layout (`conversations`, `from`/`value`, `human`/`gpt`, `images` always, paths
relative to the file's folder) and adds the file's entry to `dataset_info.json` in that folder.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import orjson

from synthloop.formats.catalog import register
from synthloop.formats.common import (
    FormatError,
    JsonRecordWriter,
    OnBad,
    Rejected,
    canonical_meta,
    extra_fields,
    read_json_samples,
    sample_id,
    split_extras,
)
from synthloop.formats.image_refs import ImagePaths
from synthloop.sample import new_sample

DEFAULT_TAGS = {"role_tag": "from", "content_tag": "value", "user_tag": "human", "assistant_tag": "gpt",
                "system_tag": "system", "observation_tag": "observation", "function_tag": "function_call"}
MEDIA = ("videos", "audios")
FROM_ROLE = {"user": "human", "assistant": "gpt", "system": "system"}


def dataset_entry(path: Path) -> dict | None:
    """This file's entry in `dataset_info.json` beside it, if any."""
    info = path.parent / "dataset_info.json"
    if not info.is_file():
        return None
    try:
        entries = orjson.loads(info.read_bytes())
    except orjson.JSONDecodeError:
        return None
    return next((e for e in entries.values() if isinstance(e, dict) and e.get("file_name") == path.name), None)


class Layout:
    """Column and tag names: from the dataset entry, or found in each record."""

    def __init__(self, entry: dict | None):
        self.columns = (entry or {}).get("columns") or {}
        self.tags = {**DEFAULT_TAGS, **((entry or {}).get("tags") or {})} if entry else None

    def turns(self, record: dict) -> tuple[str, list]:
        key = self.columns.get("messages") or ("conversations" if "conversations" in record else "messages")
        turns = record.get(key)
        if not isinstance(turns, list) or not turns:
            raise ValueError(f"{key!r} must be a non-empty list of turns")
        return key, turns

    def roles(self, first: dict) -> dict:
        if self.tags is not None:
            return self.tags
        if isinstance(first, dict) and "role" in first:
            return {**DEFAULT_TAGS, "role_tag": "role", "content_tag": "content", "user_tag": "user",
                    "assistant_tag": "assistant"}
        return DEFAULT_TAGS


def record_to_sample(record: object, fallback_id: str, layout: Layout, source: str) -> dict:
    if not isinstance(record, dict):
        raise ValueError(f"expected a JSON object, got {type(record).__name__}")
    for media in MEDIA:
        if record.get(layout.columns.get(media, media)):
            raise ValueError(f"holds {media}; synthloop carries images only")
    key, turns = layout.turns(record)
    tags = layout.roles(turns[0])
    role_of = {tags["user_tag"]: "user", tags["assistant_tag"]: "assistant", tags["system_tag"]: "system"}
    messages = []
    system_key = layout.columns.get("system", "system")
    if isinstance(record.get(system_key), str) and record[system_key]:
        messages.append({"role": "system", "content": record[system_key]})
    for number, turn in enumerate(turns, 1):
        role = turn.get(tags["role_tag"]) if isinstance(turn, dict) else None
        content = turn.get(tags["content_tag"]) if isinstance(turn, dict) else None
        if role not in role_of or not isinstance(content, str):
            raise ValueError(f"turn {number}: expected {{{tags['role_tag']}, {tags['content_tag']}}} with "
                             f"{tags['role_tag']} in {', '.join(role_of)} (got {role!r})")
        messages.append({"role": role_of[role], "content": content})
    images_key = layout.columns.get("images", "images")
    images = record.get(images_key) or []
    images = [images] if isinstance(images, str) else images
    if not isinstance(images, list) or not all(isinstance(p, str) and p for p in images):
        raise ValueError(f"{images_key!r} must be a list of paths")
    extras = split_extras(record, (key, images_key, system_key))
    return new_sample(sample_id(record, fallback_id), messages, [{"bytes": None, "path": p} for p in images],
                      source=source, meta=canonical_meta(None, extras))


def sample_to_record(sample: dict, paths: list[str]) -> dict:
    """Canonical sample -> LLaMA-Factory record; ValueError for turns its converter would skip."""
    turns = sample["messages"]
    start = 1 if turns[0]["role"] == "system" else 0
    for number, turn in enumerate(turns[start:], start + 1):
        expected = "user" if (number - start) % 2 == 1 else "assistant"
        if turn["role"] != expected:
            raise ValueError(f"turn {number}: LLaMA-Factory needs user and assistant turns alternating after an "
                             f"optional first system turn (got {turn['role']})")
    record = {"id": sample["id"], "conversations": [{"from": FROM_ROLE[m["role"]], "value": m["content"]}
                                                    for m in turns], "images": paths}
    record.update(extra_fields(sample))
    return record


def read(path: str | Path, image_root: str | Path | None = None) -> Iterator[dict | Rejected]:
    del image_root
    path = Path(path)
    layout = Layout(dataset_entry(path))
    return read_json_samples(path, lambda record, fallback: record_to_sample(record, fallback, layout, path.stem))


def write(samples: Iterable[dict], path: str | Path, on_bad: OnBad, image_root: str | Path | None = None) -> int:
    path = Path(path)
    paths_of = ImagePaths(path, image_root)
    with JsonRecordWriter(path) as writer:
        for sample in samples:
            try:
                record = sample_to_record(sample, paths_of(sample))
            except ValueError as err:
                on_bad(Rejected(str(path), str(err), sample_id=sample["id"], record=sample))
                continue
            writer.write(record)
    _add_dataset_entry(path)
    return writer.count


def _add_dataset_entry(path: Path) -> None:
    info = path.parent / "dataset_info.json"
    try:
        entries = orjson.loads(info.read_bytes()) if info.is_file() else {}
    except orjson.JSONDecodeError as err:
        raise FormatError(f"{info}: not JSON ({err}); cannot add {path.name}'s entry") from None
    entries[path.stem] = {"file_name": path.name, "formatting": "sharegpt",
                          "columns": {"messages": "conversations", "images": "images"}}
    info.write_bytes(orjson.dumps(entries, option=orjson.OPT_INDENT_2))


@register("sharegpt", "LLaMA-Factory sharegpt: conversations + images, tags from dataset_info.json", read=read,
          write=write, priority=55)
def detect(path: Path, first: object) -> bool:
    if not isinstance(first, dict):
        return False
    return dataset_entry(path) is not None or ("conversations" in first and "images" in first
                                               and "image" not in first)
