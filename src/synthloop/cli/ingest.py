"""`synthloop ingest`: a public dataset's official annotation files -> a pool of canonical samples."""

from __future__ import annotations

from pathlib import Path

import typer

from synthloop.cli.app import app, fail
from synthloop.cli.data import WRITE_HELP, _Quarantine, sample_progress
from synthloop.formats import registry
from synthloop.formats.common import FormatError, Rejected
from synthloop.formats.ingest import DATASETS, ingest as ingest_dataset
from synthloop.formats.ingest.common import MissingImage


def dataset_lines() -> list[str]:
    """One line per dataset: its name, the annotation files it reads, where its images are."""
    lines = []
    for name in sorted(DATASETS):
        spec = DATASETS[name]
        files = " + ".join(spec.files) + (" (one or more)" if spec.variadic else "")
        split = f"; --split {spec.split} by default" if spec.split else ""
        lines.append(f"{name}: {files}; images in {spec.images}{split}")
    return lines


@app.command()
def ingest(
    dataset: str | None = typer.Argument(None, help="Dataset name (see --list)."),
    src: list[Path] | None = typer.Argument(None, help="Its official annotation file(s), in the listed order."),
    images: Path | None = typer.Option(None, help="Image folder in DataOptim's layout (coco/, flickr30k/, ...)."),
    out: Path | None = typer.Option(None, help="Output pool: a folder (parquet, webdataset) or a file."),
    to: str = typer.Option("parquet", "--to", help=f"Output format: {WRITE_HELP}."),
    split: str | None = typer.Option(None, help="Split to read where a dataset has several (see --list)."),
    seed: int = typer.Option(0, help="Seed of the per-sample prompt draws."),
    quarantine: Path | None = typer.Option(
        None, help="Quarantine bad records here (JSONL) and go on; without it a bad record stops the ingest. "
                   "Records whose image is missing are always quarantined (default: OUT.quarantine.jsonl)."),
    list_datasets: bool = typer.Option(False, "--list", help="List the datasets and the files each expects."),
    overwrite: bool = typer.Option(False, help="Replace an existing output whole (refused by default)."),
) -> None:
    """Convert a public dataset's annotation files to training samples with DataOptim's prompts and ids."""
    if list_datasets:
        typer.echo("\n".join(dataset_lines()))
        return
    if dataset is None or not src or images is None or out is None:
        fail("ingest needs DATASET SRC... --images DIR --out POOL (synthloop ingest --list names the datasets)")
    sink_path = quarantine or Path(f"{out}.quarantine.jsonl")
    sink = _Quarantine(sink_path)

    def on_bad(rejected: Rejected) -> None:
        if quarantine is None and not isinstance(rejected, MissingImage):
            raise FormatError(f"{rejected.message()} (pass --quarantine FILE to set such records aside)")
        sink.reader_rejected(rejected)

    read = [0]
    try:
        with sample_progress(f"{dataset} -> {to}", read) as counted:
            samples = ingest_dataset(dataset, src, images, seed=seed, split=split, on_bad=on_bad)
            written = registry.write(to, counted(samples), out, images,
                                     on_bad=sink.writer_rejected, overwrite=overwrite)
    except FormatError as err:
        fail(str(err))
    finally:
        sink.close()
    if sink.count == 0 and quarantine is None:
        sink_path.unlink()
    total = read[0] + sink.unread
    typer.echo(f"{dataset}: read {total}, written {written}, quarantined {sink.count}"
               f"{f' (to {sink_path})' if sink.count else ''}")
