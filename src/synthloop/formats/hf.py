"""Hugging Face datasets in Parquet or Arrow that are not ours: their column layout is detected or mapped.

    synthloop convert the_cauldron/vqav2/ out/ --from hf --to parquet
    synthloop convert data.parquet out.jsonl --from hf --to messages --columns images=img,messages=chat

Layouts, found by column names (`--columns field=column,...` renames columns first):

- `images` + `messages` (TRL, trl-lib/llava-instruct-mix and the datasets its VLM SFT docs use):
  `content` a string or a list of parts `{type: image}` / `{type: text, text}`; a string with no
  `<image>` gets the images at the start of the first user turn, where TRL's
  `prepare_multimodal_messages` puts them.
- `images` + `texts` (HuggingFaceM4/the_cauldron): turns `{user, assistant, source}`; the images
  precede the first question, as Idefics2 was trained on them.
- `image` + `conversations` (lmms-lab/LLaVA-OneVision-Data, `id` and `data_source` beside): LLaVA turns,
  `<image>` in place; a null `image` is a text-only sample.
- `text` + `image_bytes` (+ `images` paths), Data-Juicer's `demos/data/demo-dataset-images-bytes.parquet`
  (modelscope/data-juicer@c07c2d79): Data-Juicer text, decoded by `formats.dj`.

An image column holds the `Image` feature's `{bytes, path}` structs, paths or bytes. A file in our
canonical schema is read as canonical; any other layout is refused naming its columns. Parquet is a
file or a folder of `*.parquet`; Arrow is `save_to_disk` output (`data-*.arrow` streams) or `.arrow`
files. Columns no layout takes go to `meta["extra_fields"]` (bytes left out).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from synthloop.chat_parts import join_content
from synthloop.formats import dj, llava, messages
from synthloop.formats.catalog import register
from synthloop.formats.parquet import is_canonical
from synthloop.formats.common import EXTRA_FIELDS, FormatError, Rejected
from synthloop.sample import IMAGE_TOKEN, SampleError, from_table, new_sample, validate_sample

BATCH_ROWS = 256
Convert = Callable[[dict, str], dict]


def parse_columns(spec: str | None) -> dict[str, str]:
    """`images=img,messages=chat` -> {"img": "images", "chat": "messages"} (source column -> layout field)."""
    mapping = {}
    for pair in (spec or "").split(","):
        if not pair.strip():
            continue
        field, sep, column = pair.partition("=")
        if not sep or not field.strip() or not column.strip():
            raise FormatError(f"--columns: expected field=column pairs, got {pair!r}")
        mapping[column.strip()] = field.strip()
    return mapping


def files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    found = sorted(path.rglob("*.parquet")) or sorted(path.rglob("*.arrow"))
    if not found:
        raise FormatError(f"{path}: no Parquet or Arrow files")
    return found


def batches(file: Path) -> Iterator[pa.RecordBatch]:
    if file.suffix == ".parquet":
        yield from pq.ParquetFile(file).iter_batches(batch_size=BATCH_ROWS)
        return
    with pa.memory_map(str(file)) as source:
        try:
            reader = pa.ipc.open_stream(source)
        except pa.ArrowInvalid:
            reader = pa.ipc.open_file(source)
            yield from (reader.get_batch(i) for i in range(reader.num_record_batches))
            return
        yield from reader


def schema_of(file: Path) -> pa.Schema:
    if file.suffix == ".parquet":
        return pq.read_schema(file)
    with pa.memory_map(str(file)) as source:
        try:
            return pa.ipc.open_stream(source).schema
        except pa.ArrowInvalid:
            return pa.ipc.open_file(source).schema


def read(path: str | Path, image_root: str | Path | None = None,
         columns: str | None = None) -> Iterator[dict | Rejected]:
    del image_root  # images are in the rows, or paths that stay relative
    path = Path(path)
    rename = parse_columns(columns)
    index = 0
    for file in files(path):
        schema = schema_of(file)
        names = [rename.get(name, name) for name in schema.names]
        convert = None if is_canonical(schema) and not rename else layout(names, file)
        for batch in batches(file):
            if convert is None:
                for sample in from_table(batch):
                    index += 1
                    yield _validated(sample, str(file), index)
                continue
            for row in batch.rename_columns(names).to_pylist():
                index += 1
                yield _converted(convert, row, file, index, f"{path.stem}_{index}")


def layout(names: list[str], file: Path) -> Convert:
    """The converter for a row with these column names; FormatError naming them if none fits."""
    have = set(names)
    for needed, convert in LAYOUTS:
        if needed <= have:
            return convert
    raise FormatError(f"{file}: no known column layout in {', '.join(names)} (known: "
                      f"{'; '.join('+'.join(sorted(n)) for n, _ in LAYOUTS)}); map yours with --columns")


def _converted(convert: Convert, row: dict, file: Path, index: int, fallback: str) -> dict | Rejected:
    try:
        sample = convert(row, fallback)
    except (ValueError, TypeError, KeyError) as err:
        return Rejected(str(file), str(err), index=index, sample_id=_id(row, fallback), record=row)
    return _validated(sample, str(file), index)


def _validated(sample: dict, file: str, index: int) -> dict | Rejected:
    try:
        return validate_sample(sample)
    except SampleError as err:
        return Rejected(file, str(err).split(": ", 1)[-1], index=index, sample_id=sample.get("id"), record=sample)


def _id(row: dict, fallback: str) -> str:
    value = row.get("id")
    return str(value) if isinstance(value, int | str) and not isinstance(value, bool) and str(value) else fallback


def image_ref(value: Any) -> dict:
    """An image cell (`Image` struct, path or bytes) -> `{bytes, path}`."""
    if isinstance(value, dict) and (value.get("bytes") is not None or value.get("path")):
        return {"bytes": value.get("bytes"), "path": value.get("path") or None}
    if isinstance(value, str) and value:
        return {"bytes": None, "path": value}
    if isinstance(value, bytes) and value:
        return {"bytes": value, "path": None}
    raise ValueError(f"not an image: {type(value).__name__}")


def _extras(row: dict, known: tuple[str, ...]) -> dict:
    extras = {k: v for k, v in row.items() if k not in known and not isinstance(v, bytes)}
    return {EXTRA_FIELDS: extras} if extras else {}


def _images_first(turns: list[dict], count: int) -> list[dict]:
    """`count` placeholders at the start of the first user turn (where TRL and Idefics2 put images), each with
    the line break a template renders after an image part (`chat_parts`)."""
    if count == 0 or any(IMAGE_TOKEN in t["content"] for t in turns):
        return turns
    first = next(i for i, t in enumerate(turns) if t["role"] == "user")
    turns[first] = {**turns[first], "content": join_content([None] * count + [turns[first]["content"]])}
    return turns


def from_trl(row: dict, fallback: str) -> dict:
    images = [image_ref(v) for v in row.get("images") or []]
    record = messages.record_to_sample({"messages": row["messages"], "images": []}, fallback, "")
    turns = _images_first(record["messages"], len(images))
    return new_sample(_id(row, fallback), turns, images, meta=_extras(row, ("id", "images", "messages")))


def from_cauldron(row: dict, fallback: str) -> dict:
    images = [image_ref(v) for v in row.get("images") or []]
    turns: list[dict] = []
    for number, text in enumerate(row["texts"] or [], 1):
        if not isinstance(text, dict) or not isinstance(text.get("user"), str) or not isinstance(
                text.get("assistant"), str):
            raise ValueError(f"texts[{number}]: expected {{user, assistant}} strings")
        turns += [{"role": "user", "content": text["user"]}, {"role": "assistant", "content": text["assistant"]}]
    if not turns:
        raise ValueError("'texts' is empty")
    source = next((t.get("source") for t in row["texts"] if t.get("source")), "") or ""
    return new_sample(_id(row, fallback), _images_first(turns, len(images)), images, source=source,
                      meta=_extras(row, ("id", "images", "texts")))


def from_llava(row: dict, fallback: str) -> dict:
    record = {"id": row.get("id"), "conversations": row["conversations"]}
    sample = llava.record_to_sample(record, fallback, str(row.get("data_source") or ""))
    sample["images"] = [] if row.get("image") is None else [image_ref(row["image"])]
    sample["meta"] = _extras(row, ("id", "image", "conversations", "data_source"))
    return sample


def from_dj_bytes(row: dict, fallback: str) -> dict:
    data = row.get("image_bytes") or []
    paths = row.get("images") or [None] * len(data)
    if len(paths) != len(data):
        raise ValueError(f"{len(paths)} image path(s) but {len(data)} image_bytes")
    sample = dj.record_to_sample({"id": row.get("id"), "text": row["text"]}, fallback)
    sample["images"] = [{"bytes": b, "path": p} for b, p in zip(data, paths, strict=True)]
    sample["meta"] = _extras(row, ("id", "text", "images", "image_bytes"))
    return sample


LAYOUTS: list[tuple[set[str], Convert]] = [
    ({"images", "messages"}, from_trl), ({"images", "texts"}, from_cauldron),
    ({"image", "conversations"}, from_llava), ({"text", "image_bytes"}, from_dj_bytes)]


@register("hf", "Hugging Face Parquet/Arrow (TRL, the_cauldron, LLaVA-OneVision, Data-Juicer bytes)",
          read=read, priority=30)
def detect(path: Path, first: object) -> bool:
    del first
    if path.is_dir():
        return any(path.rglob("*.parquet")) or any(path.rglob("*.arrow"))
    return path.suffix in (".parquet", ".arrow")
