"""A run's output in any registered format: the canonical shards, written out by `formats.registry`.

`output: {format: FMT, path: PATH, images: keep | copy | embed}`. With `parquet` and `keep` the shards
are the output itself (image paths absolute, as the inputs resolved them). Otherwise the shards stay
in `RUN_DIR/output/` and are exported to PATH at the end of the run:

`images` places them as `formats.image_copies` says (keep: paths relative to PATH's folder; copy: files
beside PATH; embed: their bytes).

Formats that embed images (`parquet`, `webdataset`, `img2dataset`) always carry the bytes.

A sample the target format cannot hold (a Data-Juicer token in a turn, turns LLaMA-Factory would skip)
goes to the quarantine folder's `export.jsonl` with its reason; the ledger's `export` entry counts
written + rejected = output.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from synthloop.formats import registry
from synthloop.formats.catalog import FORMATS
from synthloop.formats.common import Rejected
from synthloop.formats.image_copies import place_images
from synthloop.images import ImageError
from synthloop.sample import from_table
from synthloop.storage import Location


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
                    yield sample if FORMATS[output_format].embeds_images else place_images(sample, path, images)
                except ImageError as err:
                    reject(Rejected(str(path), str(err), sample_id=sample["id"], record=sample))

        # the run owns its output path (checked when it started): a resumed run replaces it whole
        written = registry.write(output_format, placed(), path, on_bad=reject, overwrite=True)
    return {"format": output_format, "path": str(path), "images": images, "written": written, "rejected": rejected,
            "rejected_path": str(rejected_file)}


def export_shards(shards: Location, output_format: str, path: Path, images: str, quarantine: Path) -> dict:
    """Export the canonical shards (on any filesystem) to the local `path`."""
    samples = (sample for part in shards.files(".parquet") for batch in part.parquet().iter_batches(1024)
               for sample in from_table(batch))
    return export(samples, output_format, path, images, quarantine)
