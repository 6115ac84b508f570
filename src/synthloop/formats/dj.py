"""Data-Juicer multimodal JSONL: `{id, text, images}`, `<__dj__image>` tokens, `<|__dj__eoc|>` chunk ends.

Our encoding makes each turn one chunk, role-tagged as Data-Juicer's LLaVA converter tags them:

    [[human]]: <__dj__image>\\nWhat is this?<|__dj__eoc|>\\n[[gpt]]: A cat.<|__dj__eoc|>

Image tokens stay where `<image>` stood, and a turn runs from its tag to its chunk end, so the
text decodes back to the exact turns (Data-Juicer's own converter moves image tokens to the front
and joins turns with newlines, which changes 113,501 of mix665k's 665,298 samples). What cannot be
encoded this way is rejected, never altered: a turn holding a Data-Juicer special token, and a
single-turn sample whose turn holds a line-start `[[human]]: ` tag (it would read as the converter's
layout, in which all turns share one chunk). Reading also accepts
Data-Juicer's converter output (tags at line starts, one chunk) and untagged text, read as a caption
(`<image>` tokens in the user turn, the text as the answer).
"""

from __future__ import annotations

import re
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
from synthloop.sample import IMAGE_TOKEN, new_sample

DJ_IMAGE = "<__dj__image>"
DJ_EOC = "<|__dj__eoc|>"
SEPARATOR = "\n"
TAGS = {"user": "[[human]]: ", "assistant": "[[gpt]]: ", "system": "[[system]]: "}
ROLE_OF_TAG = {tag: role for role, tag in TAGS.items()}
KNOWN = ("id", "text", "images", "task", "qtype", "source", "meta", "scores")
TAG_AT_LINE_START = re.compile(r"(?:^|\n)\[\[(human|gpt|system)\]\]: ")
ROLE_OF_NAME = {"human": "user", "gpt": "assistant", "system": "system"}


def encode_text(messages: list[dict]) -> str:
    """Turns -> Data-Juicer text; raises ValueError if a turn holds a Data-Juicer special token."""
    chunks = []
    for number, message in enumerate(messages, 1):
        content = message["content"]
        if DJ_IMAGE in content or DJ_EOC in content:
            raise ValueError(f"turn {number} contains a Data-Juicer special token")
        chunks.append(TAGS[message["role"]] + content.replace(IMAGE_TOKEN, DJ_IMAGE) + DJ_EOC)
    text = SEPARATOR.join(chunks)
    if len(messages) == 1 and _decode_exact(text) is None:
        raise ValueError("a single turn that holds a line-start role tag would read back as several turns")
    return text


def decode_text(text: str) -> list[dict]:
    """Data-Juicer text -> turns: our exact encoding, Data-Juicer's converter layout, or a caption."""
    exact = _decode_exact(text)
    if exact is not None:
        return exact
    text = text.replace(DJ_EOC, SEPARATOR)  # a chunk end also ends a turn
    if TAG_AT_LINE_START.search(text):
        return _decode_tagged_lines(text)
    images = text.count(DJ_IMAGE)
    caption = text.replace(DJ_IMAGE, "").strip()
    return [{"role": "user", "content": SEPARATOR.join([IMAGE_TOKEN] * images)},
            {"role": "assistant", "content": caption}]


def _decode_exact(text: str) -> list[dict] | None:
    """Our encoding, or None if `text` is not in it."""
    if not text.endswith(DJ_EOC):
        return None
    messages = []
    for number, chunk in enumerate(text[: -len(DJ_EOC)].split(DJ_EOC)):
        if number > 0:
            if not chunk.startswith(SEPARATOR):
                return None
            chunk = chunk[len(SEPARATOR):]
        tag = chunk[: chunk.find(" ") + 1]
        if tag not in ROLE_OF_TAG:
            return None
        messages.append({"role": ROLE_OF_TAG[tag], "content": chunk[len(tag):].replace(DJ_IMAGE, IMAGE_TOKEN)})
    if len(messages) == 1 and TAG_AT_LINE_START.search(messages[0]["content"]):
        return None  # one chunk of several tagged lines: Data-Juicer's converter layout
    return messages


def _decode_tagged_lines(text: str) -> list[dict]:
    """Data-Juicer converter layout: image tokens before the first tag go to the first user turn."""
    parts = TAG_AT_LINE_START.split(text)
    leading_images = parts[0].count(DJ_IMAGE)
    messages = [{"role": ROLE_OF_NAME[name], "content": content.replace(DJ_IMAGE, IMAGE_TOKEN).rstrip(SEPARATOR)}
                for name, content in zip(parts[1::2], parts[2::2], strict=True)]
    if leading_images:
        first_user = next((m for m in messages if m["role"] == "user"), messages[0])
        first_user["content"] = SEPARATOR.join([IMAGE_TOKEN] * leading_images + [first_user["content"]])
    return messages


def record_to_sample(record: object, fallback_id: str) -> dict:
    if not isinstance(record, dict) or not isinstance(record.get("text"), str) or not record["text"].strip():
        raise ValueError("expected a JSON object with a non-empty string 'text'")
    if not isinstance(record.get("meta") or {}, dict):
        raise ValueError("'meta' must be a JSON object")
    images = record.get("images") or []
    if not isinstance(images, list) or not all(isinstance(p, str) and p for p in images):
        raise ValueError("'images' must be a list of paths")
    meta = canonical_meta(record.get("meta"), split_extras(record, KNOWN))
    fields = {name: record.get(name) or "" for name in ("task", "qtype", "source")}
    return new_sample(sample_id(record, fallback_id), decode_text(record["text"]),
                      [{"bytes": None, "path": p} for p in images], meta=meta, scores=record.get("scores") or {},
                      **fields)


def sample_to_record(sample: dict, paths: list[str]) -> dict:
    record = {"id": sample["id"], "text": encode_text(sample["messages"]), "images": paths}
    record.update(optional_fields(sample))
    record.update(extra_fields(sample))
    return record


def read(path: str | Path, image_root: str | Path | None = None) -> Iterator[dict | Rejected]:
    del image_root  # paths stay relative; only formats that embed images load them
    return read_json_samples(path, record_to_sample)


def write(samples: Iterable[dict], path: str | Path, on_bad: OnBad, image_root: str | Path | None = None) -> int:
    del image_root
    path = Path(path)
    with JsonRecordWriter(path) as writer:
        for sample in samples:
            try:
                record = sample_to_record(sample, image_paths(sample, path))
            except ValueError as err:
                on_bad(Rejected(str(path), str(err), sample_id=sample["id"], record=sample))
                continue
            writer.write(record)
    return writer.count
