"""`synthloop convert`, `synthloop subset`, `synthloop stats`: moving data between formats."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import orjson
import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from synthloop.cli.app import app, console, fail
from synthloop.formats import dataoptim, registry
from synthloop.formats.catalog import FORMATS, names
from synthloop.formats.common import FormatError, OnBad, Rejected, raise_on_bad
from synthloop.formats.image_copies import MODES, place_images
from synthloop.formats.stats import DatasetStats, compute_stats
from synthloop.images import ImageError, ImageRoot
from synthloop.models.protocols import ModelError
from synthloop.models.token_count import image_token_count, sample_lengths

PROGRESS_EVERY = 1000
READ_HELP = ", ".join(names("read"))
WRITE_HELP = ", ".join(names("write"))


def _default_image_root(src: Path, image_root: Path | None) -> Path:
    """Image paths are relative to --image-root, by default the folder the data is in."""
    if image_root is not None:
        return image_root
    return src if src.is_dir() else src.parent


class _Quarantine:
    """Collects rejected samples: counts them, and writes them with their reason to a JSONL file."""

    def __init__(self, file: Path):
        file.parent.mkdir(parents=True, exist_ok=True)
        self.handle = open(file, "wb")  # noqa: SIM115  (closed in close())
        self.count = 0
        self.unread = 0  # rejected by the reader, so never counted as a sample read

    def reader_rejected(self, rejected: Rejected) -> None:
        self.unread += 1
        self.writer_rejected(rejected)

    def writer_rejected(self, rejected: Rejected) -> None:
        self.handle.write(rejected.to_json() + b"\n")
        self.count += 1

    def close(self) -> None:
        self.handle.close()


def _placed(samples: Iterable[dict], dst: Path, mode: str, root: Path, on_bad: OnBad) -> Iterator[dict]:
    for sample in samples:
        try:
            yield place_images(sample, dst, mode, root)
        except ImageError as err:
            on_bad(Rejected(str(dst), str(err), sample_id=sample["id"], record=sample))


@contextmanager
def sample_progress(description: str, counter: list[int]) -> Iterator[Callable[[Iterable[dict]], Iterator[dict]]]:
    """A transient spinner (only on a terminal) over a stream of samples: yields `counted`, which passes
    samples through, adding each to `counter[0]` and to the spinner's count."""
    with Progress(SpinnerColumn(), TextColumn("{task.description} {task.completed} samples"),
                  TimeElapsedColumn(), console=console, transient=True,
                  disable=not console.is_terminal) as progress:
        task = progress.add_task(description, total=None)

        def counted(samples: Iterable[dict]) -> Iterator[dict]:
            for sample in samples:
                counter[0] += 1
                if counter[0] % PROGRESS_EVERY == 0:
                    progress.update(task, completed=counter[0])
                yield sample

        yield counted


@app.command()
def convert(
    src: Path = typer.Argument(..., help="Input file or folder."),
    dst: Path = typer.Argument(..., help="Output file (.json/.jsonl/.tar/.txt) or folder (parquet, tar shards)."),
    from_format: str = typer.Option(..., "--from", help=f"Input format: {READ_HELP} (see synthloop formats)."),
    to_format: str = typer.Option(..., "--to", help=f"Output format: {WRITE_HELP}."),
    image_root: Path | None = typer.Option(None, help="Folder image paths are relative to (default: SRC's folder)."),
    quarantine: Path | None = typer.Option(None, help="Write bad samples with their reason here (JSONL) and go on."),
    pad_boxes: bool = typer.Option(False, help="Move boxes to LLaVA's padded square (--image_aspect_ratio pad)."),
    columns: str | None = typer.Option(None, help="--from hf: map columns to a layout's fields, e.g. "
                                       "images=img,messages=chat."),
    image_token: str | None = typer.Option(None, help="--to dj: '<image>' as Data-Juicer's LLaVA recipe and "
                                           "dj_to_llava.py use it (default <__dj__image>)."),
    images: str = typer.Option("keep", help="keep: paths (relative to the output file for dj, messages, "
                               "sharegpt); copy: files copied beside the output; embed: image bytes."),
    allow_absolute_paths: bool = typer.Option(False, help="Read absolute image paths (refused by default)."),
    verify: bool = typer.Option(False, help="Decode every embedded image fully (default: its header only)."),
    overwrite: bool = typer.Option(False, help="Replace an existing output whole (refused by default)."),
) -> None:
    """Convert a dataset between formats, keeping every turn, role and id."""
    if dst.exists() and dst.resolve() == src.resolve():
        fail(f"{dst}: the output would overwrite the input")
    root = ImageRoot(_default_image_root(src, image_root), allow_absolute_paths, verify)
    if images not in MODES:
        fail(f"--images {images!r}: expected one of {', '.join(MODES)}")
    sink = _Quarantine(quarantine) if quarantine else None
    read = [0]
    try:
        with sample_progress(f"{from_format} -> {to_format}", read) as counted:
            samples = registry.read(from_format, src, root, on_bad=sink.reader_rejected if sink else None,
                                    **({"columns": columns} if columns else {}))
            if images != "keep":
                samples = _placed(samples, dst, images, root, sink.writer_rejected if sink else raise_on_bad)
            written = registry.write(to_format, counted(samples), dst,
                                     root if images == "keep" else dst.parent,  # placed images are under dst's folder
                                     on_bad=sink.writer_rejected if sink else None, pad_boxes=pad_boxes,
                                     overwrite=overwrite,
                                     **({"image_token": image_token} if image_token else {}))
    except FormatError as err:
        fail(str(err))
    finally:
        if sink is not None:
            sink.close()
    quarantined = sink.count if sink else 0
    total = read[0] + (sink.unread if sink else 0)
    typer.echo(f"read {total}, written {written}, quarantined {quarantined}"
               f"{f' (to {quarantine})' if quarantined else ''}")


@app.command()
def formats() -> None:
    """The formats convert, stats and recipes read and write, from the format registry."""
    table = Table()
    for column in ("name", "read", "write", "layout"):
        table.add_column(column)
    for name in sorted(FORMATS):
        fmt = FORMATS[name]
        table.add_row(name, "yes" if fmt.read else "", "yes" if fmt.write else "", fmt.summary)
    Console(width=160).print(table)


@app.command()
def subset(
    pool: Path = typer.Argument(..., help="Folder of LLaVA JSON/JSONL files, or our Parquet."),
    ids: Path = typer.Argument(..., help="Text file of sample ids, one per line (DataOptim submission)."),
    out: Path = typer.Argument(..., help="Output LLaVA training JSON."),
    overwrite: bool = typer.Option(False, help="Replace an existing output (refused by default)."),
) -> None:
    """Resolve an id list against a pool into LLaVA training JSON, in the order of the ids."""
    try:
        count = dataoptim.subset(pool, ids, out, overwrite)
    except FormatError as err:
        fail(str(err))
    typer.echo(f"wrote {count} samples to {out}")


def _counter_table(title: str, column: str, counts: dict, total: int) -> Table:
    table = Table(title=title)
    table.add_column(column)
    table.add_column("samples", justify="right")
    table.add_column("share", justify="right")
    for name, count in sorted(counts.items(), key=lambda item: (-item[1], str(item[0]))):
        table.add_row(str(name), str(count), f"{count / total:.1%}")
    return table


def print_stats(stats: DatasetStats, out: Console) -> None:
    out.print(f"[bold]{stats.samples}[/bold] samples")
    if not stats.samples:
        return
    for title, column, counts in (("by source", "source", stats.by_source), ("by task", "task", stats.by_task),
                                  ("by qtype", "qtype", stats.by_qtype),
                                  ("images per sample", "images", stats.images_per_sample)):
        out.print(_counter_table(title, column, counts, stats.samples))
    summary = Table(title="turns, tokens and image sizes")
    columns = ("count", "min", "mean", "median", "p90", "p95", "p99", "max")
    for column in ("", *columns):
        summary.add_column(column, justify="right")
    rows = {"turns": stats.turn_summary(), "tokens": stats.token_summary(),
            **{f"image {k}": v for k, v in stats.size_summary().items()}}
    for name, values in rows.items():
        summary.add_row(name, *(str(values.get(key, "-")) for key in columns))
    out.print(summary)
    if stats.unreadable_images:
        out.print(f"[yellow]{stats.unreadable_images} image(s) could not be read[/yellow]")


@app.command()
def stats(
    data: Path = typer.Argument(..., help="Dataset file or folder."),
    from_format: str | None = typer.Option(None, "--from", help=f"Format (default: guessed): {READ_HELP}."),
    image_root: Path | None = typer.Option(None, help="Folder image paths are relative to (default: DATA's folder)."),
    image_sizes: bool = typer.Option(True, help="Read image headers for sizes."),
    tokenizer: str | None = typer.Option(None, help="Count tokens with this tokenizer (folder or 'smollm2'); "
                                         "default: whitespace words."),
    image_tokens: str = typer.Option("0", help="Tokens per image added to each sample's length (576: LLaVA-1.5), "
                                     "or a LLaVA processor/model folder to read it from."),
    as_json: bool = typer.Option(False, "--json", help="Print the statistics as JSON."),
) -> None:
    """Counts by source, task and qtype; turns; tokens (percentiles); images per sample; image sizes."""
    if not data.exists():
        fail(f"{data}: no such file or folder")
    try:
        fmt = from_format or registry.detect(data)
        per_image = image_token_count(int(image_tokens) if image_tokens.isdigit() else image_tokens)
        lengths = partial(sample_lengths, tokenizer=tokenizer, image_tokens=per_image)
        result = compute_stats(registry.read(fmt, data, _default_image_root(data, image_root)),
                               _default_image_root(data, image_root), image_sizes, lengths)
    except (FormatError, ModelError) as err:
        fail(str(err))
    if as_json:
        typer.echo(orjson.dumps(result.as_dict(), option=orjson.OPT_INDENT_2).decode())
    else:
        print_stats(result, Console())
