"""Every edge format by name, so the engine and the CLI can read and write any of them.

    for sample in read("llava", "mix665k.json"): ...
    write("parquet", samples, "out/", image_root="images/")

A bad record or sample raises `FormatError` naming the file, the line or sample id, and the problem;
pass `on_bad` to receive it as a `Rejected` instead (quarantine) and go on with the rest.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import pyarrow as pa
from PIL import Image

# every format module registers itself in the catalogue when imported
from synthloop.formats import (  # noqa: F401
    dataoptim,
    dj,
    hf,
    img2dataset,
    llava,
    messages,
    parquet,
    sharegpt,
    webdataset,
)
from synthloop.formats.boxes import pad_boxes_in_text
from synthloop.formats.catalog import FORMATS, Reader, Writer, in_detection_order, names
from synthloop.formats.common import FormatError, OnBad, Rejected, iter_json_records, raise_on_bad
from synthloop.formats.staged import OutputExists, staged_output
from synthloop.images import ImageError, image_bytes

READERS: dict[str, Reader] = {name: fmt.read for name, fmt in FORMATS.items() if fmt.read is not None}
WRITERS: dict[str, Writer] = {name: fmt.write for name, fmt in FORMATS.items() if fmt.write is not None}


def _known(fmt: str, table: dict[str, Any], action: str) -> None:
    if fmt not in table:
        raise FormatError(f"unknown format {fmt!r} to {action} (known: {', '.join(names(action))})")


def writable(fmt: str) -> str:
    """`fmt` when a registered format can write it; FormatError (a ValueError) naming the known ones."""
    _known(fmt, WRITERS, "write")
    return fmt


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
          on_bad: OnBad | None = None, pad_boxes: bool = False, overwrite: bool = False, **options: Any) -> int:
    """Write canonical samples to `path` in format `fmt`; returns how many were written. `options` go to
    the writer (`image_token` for `dj`).

    The output appears whole or not at all (`staged.staged_output`); an existing one is refused, or
    with `overwrite` replaced whole. With `pad_boxes`, boxes in the text of single-image samples are
    moved to LLaVA's padded square (`--image_aspect_ratio pad`); samples whose image cannot be read
    go to `on_bad`.
    """
    _known(fmt, WRITERS, "write")
    on_bad = on_bad or raise_on_bad
    if pad_boxes:
        samples = _padded(samples, Path(path), image_root, on_bad)
    try:
        with staged_output(path, overwrite) as staged:
            named = partial(_named_as, on_bad, str(staged), str(path))
            try:
                return WRITERS[fmt](samples, staged, named, image_root, **options)
            except FormatError as err:
                raise FormatError(str(err).replace(str(staged), str(path))) from None
    except OutputExists as err:
        raise FormatError(str(err)) from None
    except OSError as err:  # a full disk, a read-only folder
        raise FormatError(f"{path}: cannot write: {err.strerror or err}") from None


def _named_as(on_bad: OnBad, staged: str, path: str, rejected: Rejected) -> None:
    """Report a writer's rejection under the output's own name, not its staging name."""
    on_bad(replace(rejected, file=rejected.file.replace(staged, path)))


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
    """Guess a dataset's format from the formats' own checks: its name, its columns or its first record."""
    path = Path(path)
    first = next(iter(_first_record(path)), None) if _may_be_json(path) else None
    for fmt in in_detection_order():
        if fmt.detect(path, first):  # type: ignore[misc]
            return fmt.name
    raise FormatError(f"{path}: cannot tell the format{' of this folder' if path.is_dir() else ''}; pass --from")


def _may_be_json(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() not in (".parquet", ".arrow", ".tar")


def _first_record(path: Path) -> Iterator[Any]:
    for raw in iter_json_records(path):
        if not isinstance(raw, Rejected):
            yield raw.record
        return
