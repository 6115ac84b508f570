"""Data-Juicer multimodal JSONL: `{id, text, images}`, `<__dj__image>` tokens, `<|__dj__eoc|>` chunk ends.

Our encoding makes each turn one chunk, role-tagged as Data-Juicer's LLaVA converter tags them:

    [[human]]: <__dj__image>\\nWhat is this?<|__dj__eoc|>\\n[[gpt]]: A cat.<|__dj__eoc|>

Image tokens stay where `<image>` stood, and a turn runs from its tag to its chunk end, so the
text decodes back to the exact turns. What cannot be encoded this way is rejected, never altered:
a turn holding a Data-Juicer special token, and a sample in which every turn holds a line-start
`[[human]]: ` tag (it would read as the converter's layout below). Image paths are written relative
to the output file's folder, which is where Data-Juicer resolves them (`dataset_path`'s folder).

Reading also accepts what Data-Juicer's own converter writes (modelscope/data-juicer@c07c2d79,
`tools/fmt_conversion/multimodal/source_format_to_data_juicer_format/llava_to_dj.py`): each round is
`[[human]]: Q\\n[[gpt]]: A` with `<image>` left as it was; rounds are joined by `\\n`, or by
` <|__dj__eoc|>\\n` with `--split_chunk True`, and ` <|__dj__eoc|>` ends the text (`add_eoc_at_last`);
`--image_broadcast` adds `<image>` to later rounds and repeats the path, which reads as that many
images. Those separators are removed exactly, so each turn reads back as the LLaVA value it was
(`dj_to_llava.py` strips every turn instead). Untagged text reads as a caption (`<image>` tokens in
the user turn, the text as the answer). Videos and audios (`videos`/`audios`, `<__dj__video>`,
`<__dj__audio>`) are refused by name: the canonical sample carries images only.
Bulky arrays in `meta` (embeddings) go to a side file (`formats.arrays`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from synthloop.formats.arrays import ArraySideFile
from synthloop.formats.catalog import register
from synthloop.formats.common import (
    FormatError,
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
from synthloop.formats.image_refs import ImagePaths
from synthloop.sample import IMAGE_TOKEN, new_sample

DJ_IMAGE = "<__dj__image>"
DJ_EOC = "<|__dj__eoc|>"
OTHER_MEDIA = {"videos": "<__dj__video>", "audios": "<__dj__audio>"}
SEPARATOR = "\n"
TAGS = {"user": "[[human]]: ", "assistant": "[[gpt]]: ", "system": "[[system]]: "}
ROLE_OF_TAG = {tag: role for role, tag in TAGS.items()}
KNOWN = ("id", "text", "images", "task", "qtype", "source", "meta", "scores")
ROLE_OF_NAME = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant", "system": "system"}
TAG_AT_LINE_START = re.compile(r"(?:^|\n)\[\[(human|user|gpt|assistant|system)\]\]: ")
# the converter's chunk ends: " <|__dj__eoc|>" at the end of the text, and between rounds before the separator
CONVERTER_LAST_EOC = re.compile(" ?" + re.escape(DJ_EOC) + "$")
CONVERTER_EOC = re.compile(" ?" + re.escape(DJ_EOC) + "\n")


def encode_text(messages: list[dict], image_token: str = DJ_IMAGE) -> str:
    """Turns -> Data-Juicer text with `image_token` for each image (`<__dj__image>`, Data-Juicer's default,
    or `<image>`, its LLaVA recipe's); raises ValueError for what would not read back as these turns."""
    chunks = []
    every_turn_tagged = True
    for number, message in enumerate(messages, 1):
        content = message["content"]
        if DJ_IMAGE in content or DJ_EOC in content:
            raise ValueError(f"turn {number} contains a Data-Juicer special token")
        chunks.append(TAGS[message["role"]] + content.replace(IMAGE_TOKEN, image_token) + DJ_EOC)
        every_turn_tagged = every_turn_tagged and "]]: " in content and bool(TAG_AT_LINE_START.search(content))
    if every_turn_tagged:
        raise ValueError("every turn holds a line-start role tag, so the text would read back as "
                         "Data-Juicer's converter layout (several turns per chunk)")
    return SEPARATOR.join(chunks)


def decode_text(text: str) -> list[dict]:
    """Data-Juicer text -> turns: our exact encoding, Data-Juicer's converter layout, or a caption."""
    exact = _decode_exact(text)
    if exact is not None:
        return exact
    text = CONVERTER_EOC.sub(SEPARATOR, CONVERTER_LAST_EOC.sub("", text)).replace(DJ_EOC, SEPARATOR)
    if TAG_AT_LINE_START.search(text):
        return _decode_tagged_lines(text)
    images = text.count(DJ_IMAGE) + text.count(IMAGE_TOKEN)
    caption = text.replace(DJ_IMAGE, "").replace(IMAGE_TOKEN, "").strip()
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
    if all(TAG_AT_LINE_START.search(m["content"]) for m in messages):
        return None  # every chunk holds a whole round: Data-Juicer's converter layout
    return messages


def _decode_tagged_lines(text: str) -> list[dict]:
    """Converter layout (chunk ends removed): a turn runs from its line-start tag to the next one's
    line break; image tokens before the first tag go to the first user turn."""
    parts = TAG_AT_LINE_START.split(text)
    leading_images = parts[0].count(DJ_IMAGE) + parts[0].count(IMAGE_TOKEN)
    messages = [{"role": ROLE_OF_NAME[name], "content": content.replace(DJ_IMAGE, IMAGE_TOKEN)}
                for name, content in zip(parts[1::2], parts[2::2], strict=True)]
    if leading_images:
        first_user = next((m for m in messages if m["role"] == "user"), messages[0])
        first_user["content"] = SEPARATOR.join([IMAGE_TOKEN] * leading_images + [first_user["content"]])
    return messages


def _refuse_other_media(record: dict) -> None:
    for key, token in OTHER_MEDIA.items():
        if record.get(key) or token in record["text"]:
            raise ValueError(f"holds {key} ({key!r} or {token}); synthloop carries images only")


def record_to_sample(record: object, fallback_id: str) -> dict:
    if not isinstance(record, dict) or not isinstance(record.get("text"), str) or not record["text"].strip():
        raise ValueError("expected a JSON object with a non-empty string 'text'")
    _refuse_other_media(record)
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


def sample_to_record(sample: dict, paths: list[str], image_token: str = DJ_IMAGE) -> dict:
    record = {"id": sample["id"], "text": encode_text(sample["messages"], image_token), "images": paths}
    record.update(optional_fields(sample))
    record.update(extra_fields(sample))
    return record


def read(path: str | Path, image_root: str | Path | None = None) -> Iterator[dict | Rejected]:
    del image_root  # paths stay relative; only formats that embed images load them
    return read_json_samples(path, record_to_sample)


def write(samples: Iterable[dict], path: str | Path, on_bad: OnBad, image_root: str | Path | None = None,
          image_token: str = DJ_IMAGE) -> int:
    """`image_token`: `<image>` for Data-Juicer's LLaVA recipe (`image_special_token`) and `dj_to_llava.py`."""
    if image_token not in (DJ_IMAGE, IMAGE_TOKEN):
        raise FormatError(f"image token {image_token!r}: Data-Juicer's are {DJ_IMAGE} and {IMAGE_TOKEN}")
    path = Path(path)
    paths_of = ImagePaths(path, image_root)
    arrays = ArraySideFile(path)
    with JsonRecordWriter(path) as writer:
        for sample in samples:
            try:
                record = sample_to_record(arrays.without_arrays(sample), paths_of(sample),
                                          image_token)
            except ValueError as err:
                on_bad(Rejected(str(path), str(err), sample_id=sample["id"], record=sample))
                continue
            writer.write(record)
    arrays.close()
    return writer.count


@register("dj", "Data-Juicer JSONL: text with <__dj__image> and <|__dj__eoc|> chunks, images", read=read, write=write,
          priority=80)
def detect(path: Path, first: object) -> bool:
    del path
    return isinstance(first, dict) and "text" in first
