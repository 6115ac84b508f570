"""Every edge format by name, so the engine and the CLI can read and write any of them.

    for sample in read("llava", "mix665k.json"): ...
    write("parquet", samples, "out/", image_root="images/")

A bad record or sample raises `FormatError` naming the file, the line or sample id, and the problem;
pass `on_bad` to receive it as a `Rejected` instead (quarantine) and go on with the rest.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

from synthloop.formats import dataoptim, dj, hf, img2dataset, llava, messages, sharegpt, webdataset
from synthloop.formats import parquet as parquet_shards
from synthloop.formats.boxes import pad_boxes_in_text
from synthloop.formats.common import FormatError, OnBad, Rejected, iter_json_records, raise_on_bad
from synthloop.formats.image_refs import with_image_bytes
from synthloop.images import ImageError, image_bytes
from synthloop.sample import SampleError, validate_sample

Reader = Callable[..., Iterator[dict | Rejected]]
Writer = Callable[..., int]


def _read_parquet(path: str | Path, image_root: str | Path | None = None) -> Iterator[dict | Rejected]:
    del image_root
    files = parquet_shards.parquet_files(path)
    if not files:
        raise FormatError(f"{path}: no Parquet files")
    for file in files:
        schema = pq.read_schema(file)
        if not hf.is_canonical(schema):
            raise FormatError(f"{file}: not synthloop's canonical Parquet (columns: {', '.join(schema.names)}); "
                              "read it with --from hf")
    for index, sample in enumerate(parquet_shards.read_samples(path), 1):
        try:
            yield validate_sample(sample)
        except SampleError as err:
            yield Rejected(str(path), str(err).split(": ", 1)[-1], index=index, sample_id=sample.get("id"),
                           record=sample)


def _write_parquet(samples: Iterable[dict], path: str | Path, on_bad: OnBad,
                   image_root: str | Path | None = None) -> int:
    """Parquet shards embed image bytes (HF `Image` layout), loaded from `image_root` when needed."""
    with parquet_shards.ShardWriter(path) as writer:
        for sample in samples:
            try:
                writer.write([with_image_bytes(sample, image_root)])
            except ImageError as err:
                on_bad(Rejected(str(path), str(err), sample_id=sample["id"], record=sample))
    return writer.count


READERS: dict[str, Reader] = {"llava": llava.read, "dj": dj.read, "messages": messages.read,
                              "parquet": _read_parquet, "webdataset": webdataset.read, "hf": hf.read,
                              "img2dataset": img2dataset.read, "sharegpt": sharegpt.read}
WRITERS: dict[str, Writer] = {"llava": llava.write, "dj": dj.write, "messages": messages.write,
                              "parquet": _write_parquet, "webdataset": webdataset.write, "ids": dataoptim.write,
                              "sharegpt": sharegpt.write}


def _known(fmt: str, table: dict[str, Any], action: str) -> None:
    if fmt not in table:
        raise FormatError(f"unknown format {fmt!r} to {action} (known: {', '.join(sorted(table))})")


def read(fmt: str, path: str | Path, image_root: str | Path | None = None,
         on_bad: OnBad | None = None, **options: Any) -> Iterator[dict]:
    """Canonical samples from `path` in format `fmt`; bad records go to `on_bad` (default: raise).
    `options` go to the reader (`columns` for `hf`).

    An unknown format or a missing path raises at once, before any output is started.
    """
    _known(fmt, READERS, "read")
    path = Path(path)
    if not path.exists():
        raise FormatError(f"{path}: no such file or folder")
    return _stream(fmt, path, image_root, on_bad or raise_on_bad, options)


def _stream(fmt: str, path: Path, image_root: str | Path | None, on_bad: OnBad,
            options: dict[str, Any]) -> Iterator[dict]:
    try:
        for item in READERS[fmt](path, image_root, **options):
            if isinstance(item, Rejected):
                on_bad(item)
            else:
                yield item
    except (OSError, ValueError, pa.ArrowException) as err:
        if isinstance(err, FormatError):
            raise
        raise FormatError(f"{path}: cannot read as {fmt}: {err}") from None


def write(fmt: str, samples: Iterable[dict], path: str | Path, image_root: str | Path | None = None,
          on_bad: OnBad | None = None, pad_boxes: bool = False) -> int:
    """Write canonical samples to `path` in format `fmt`; returns how many were written.

    With `pad_boxes`, boxes in the text of single-image samples are moved to LLaVA's padded square
    (`--image_aspect_ratio pad`); samples whose image cannot be read go to `on_bad`.
    """
    _known(fmt, WRITERS, "write")
    on_bad = on_bad or raise_on_bad
    if pad_boxes:
        samples = _padded(samples, Path(path), image_root, on_bad)
    return WRITERS[fmt](samples, path, on_bad, image_root)


def _padded(samples: Iterable[dict], path: Path, image_root: str | Path | None, on_bad: OnBad) -> Iterator[dict]:
    for sample in samples:
        if len(sample["images"]) != 1:
            yield sample  # boxes of a multi-image sample do not say which image they are on
            continue
        try:
            with Image.open(io.BytesIO(image_bytes(sample["images"][0], image_root))) as img:
                width, height = img.size
        except (ImageError, OSError) as err:
            on_bad(Rejected(str(path), f"cannot pad boxes: {err}", sample_id=sample["id"], record=sample))
            continue
        turns = [{**m, "content": pad_boxes_in_text(m["content"], width, height)} for m in sample["messages"]]
        yield {**sample, "messages": turns}


def detect(path: str | Path) -> str:
    """Guess a dataset's format from its name and, for JSON, its first record."""
    path = Path(path)
    if path.is_dir():
        if img2dataset.is_output(path):
            return "img2dataset"
        parquet = next(path.rglob("*.parquet"), None)
        if parquet is not None:
            return "parquet" if hf.is_canonical(pq.read_schema(parquet)) else "hf"
        if any(path.rglob("*.arrow")):
            return "hf"
        if any(path.rglob("*.tar")):
            return "webdataset"
        raise FormatError(f"{path}: cannot tell the format of this folder; pass --from")
    if path.suffix == ".parquet":
        return "parquet" if hf.is_canonical(pq.read_schema(path)) else "hf"
    if path.suffix == ".arrow":
        return "hf"
    if path.suffix == ".tar":
        return "img2dataset" if webdataset.has_caption_files(path) else "webdataset"
    first = next(iter(_first_record(path)), None)
    if isinstance(first, dict):
        if "conversations" in first and "images" in first and "image" not in first:
            return "sharegpt"
        for key, fmt in (("conversations", "llava"), ("messages", "messages"), ("text", "dj")):
            if key in first:
                return fmt
    raise FormatError(f"{path}: cannot tell the format; pass --from")


def _first_record(path: Path) -> Iterator[Any]:
    for raw in iter_json_records(path):
        if not isinstance(raw, Rejected):
            yield raw.record
        return
