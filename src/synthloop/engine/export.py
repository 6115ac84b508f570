"""A run's output in any registered format: the canonical shards, written out by `formats.registry`.

`output: {format: FMT, path: PATH, images: keep | copy | embed}`. With `parquet` and `keep` the shards
are the output itself (image paths absolute, as the inputs resolved them). Otherwise the shards stay
in `RUN_DIR/output/` and are exported to PATH at the end of the run:

- `keep`: image paths relative to PATH's folder (where Data-Juicer and LLaMA-Factory resolve them);
- `copy`: each image file copied to `<stem>_images/` beside PATH (named by its content hash), the
  paths pointing there, so the output moves as one folder;
- `embed`: path formats save the image bytes in `<stem>_images/` beside PATH, named by sample id.

Formats that embed images (`parquet`, `webdataset`) always carry the bytes.

A sample the target format cannot hold (a Data-Juicer token in a turn, turns LLaMA-Factory would skip)
goes to the quarantine folder's `export.jsonl` with its reason; the ledger's `export` entry counts
written + rejected = output.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

from synthloop.formats import registry
from synthloop.formats.catalog import FORMATS
from synthloop.formats.common import Rejected
from synthloop.formats.image_refs import image_extension
from synthloop.formats.parquet import read_samples
from synthloop.images import ImageError, image_bytes


def exports(output_format: str, images: str) -> bool:
    """Whether the run writes canonical shards to its run dir and exports them (else they are the output)."""
    return output_format != "parquet" or images != "keep"


def export(samples: Iterator[dict], output_format: str, path: Path, images: str, quarantine: Path) -> dict:
    """Write `samples` to `path` in `output_format`; the ledger's export entry."""
    quarantine.mkdir(parents=True, exist_ok=True)
    rejected_file = quarantine / "export.jsonl"
    rejected = 0
    with open(rejected_file, "wb") as sink:

        def reject(item: Rejected) -> None:
            nonlocal rejected
            rejected += 1
            sink.write(item.to_json() + b"\n")

        def placed() -> Iterator[dict]:
            for sample in samples:
                try:
                    yield sample if FORMATS[output_format].embeds_images else _place_images(sample, path, images)
                except ImageError as err:
                    reject(Rejected(str(path), str(err), sample_id=sample["id"], record=sample))

        written = registry.write(output_format, placed(), path, on_bad=reject)
    return {"format": output_format, "path": str(path), "images": images, "written": written, "rejected": rejected,
            "rejected_path": str(rejected_file)}


def export_shards(shards: Path, output_format: str, path: Path, images: str, quarantine: Path) -> dict:
    return export(read_samples(shards) if any(shards.rglob("*.parquet")) else iter(()), output_format, path,
                  images, quarantine)


def _place_images(sample: dict, path: Path, images: str) -> dict:
    folder = path.parent
    refs = []
    for ref in sample["images"]:
        if images == "embed":
            ref = {"bytes": image_bytes(ref), "path": None}
        elif images == "copy":
            data = image_bytes(ref)
            name = f"{hashlib.blake2b(data, digest_size=10).hexdigest()}.{image_extension(ref, data)}"
            file = path.parent / f"{path.stem}_images" / name
            if not file.exists():
                file.parent.mkdir(parents=True, exist_ok=True)
                file.write_bytes(data)
            ref = {"bytes": None, "path": file.relative_to(path.parent).as_posix()}
        elif ref.get("path") and os.path.isabs(ref["path"]):
            ref = {"bytes": ref.get("bytes"), "path": Path(os.path.relpath(ref["path"], folder)).as_posix()}
        refs.append(ref)
    return {**sample, "images": refs}
