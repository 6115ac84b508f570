"""URL tables (LAION, COYO, CC3M layouts): one image URL and its caption per row, as records to download.

The conventions are img2dataset's (rom1504/img2dataset@95523bc, img2dataset/reader.py and main.py
`download`): a Parquet, JSONL, CSV or TSV file, or a folder of them, with the URL in `url_column`
(default `url`), the caption in `text_column` (`caption`; COYO calls it `text`, CC3M's TSV has
none by name) and optionally a hash to verify in `hash_column` (`sha256` or `md5`). Parquet and CSV are
read batch by batch and only the named columns, so memory stays flat however long the table.

A row becomes a pending record (`{"id", "layout": "caption", "urls": [url], "hashes": [...], "caption",
"meta", "scores"}`) that the engine downloads and turns into a sample with `caption_sample`; a row
without a usable URL or caption is a `Rejected` naming the file and row. Ids are `<file stem>_<row>`;
`meta` keeps the URL, the file (`input_shard`, which per-shard selection groups by) and the row;
`score_columns` (COYO's `clip_similarity_vitb32`, ...) are copied into `scores`.
"""

from __future__ import annotations

import gzip
import math
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from synthloop.formats.common import FormatError, Rejected
from synthloop.formats.ingest.common import dataoptim, draw
from synthloop.formats.staged import is_hidden
from synthloop.sample import IMAGE_TOKEN, new_sample

TABLE_SUFFIXES = (".parquet", ".jsonl", ".csv", ".tsv", ".jsonl.gz", ".csv.gz", ".tsv.gz")
INPUT_SHARD = "input_shard"  # meta key: the file a record came from
BATCH_ROWS = 8192


def table_files(path: Path, suffixes: tuple[str, ...] = TABLE_SUFFIXES) -> list[Path]:
    """The file itself, or the folder's files with one of `suffixes` (sorted; hidden ones skipped)."""
    if path.is_file():
        return [path]
    files = sorted(f for f in path.rglob("*") if f.is_file() and f.name.endswith(suffixes) and not is_hidden(f, path))
    if not files:
        raise FormatError(f"{path}: no {', '.join(suffixes)} files")
    return files


def read_url_table(path: str | Path, url_column: str = "url", text_column: str | None = "caption",
                   hash_column: str | None = None, score_columns: tuple[str, ...] = ()) -> Iterator[dict | Rejected]:
    """Pending caption records (or Rejected rows) of every table under `path`, in file and row order."""
    wanted = [c for c in (url_column, text_column, hash_column, *score_columns) if c is not None]
    for file in table_files(Path(path)):
        strings = [c for c in (url_column, text_column, hash_column) if c is not None]
        for row, values in enumerate(_rows(file, list(dict.fromkeys(wanted)), strings)):
            if isinstance(values, Rejected):
                yield values
                continue
            yield _record(file, row, values, url_column, text_column, hash_column, score_columns)


def _record(file: Path, row: int, values: dict, url_column: str, text_column: str | None, hash_column: str | None,
            score_columns: tuple[str, ...]) -> dict | Rejected:
    sample_id = f"{_stem(file)}_{row}"
    url = values.get(url_column)
    caption = values.get(text_column) if text_column is not None else ""
    problem = (f"{url_column!r} is not a URL: {url!r}" if not isinstance(url, str) or not url.strip() else
               f"{text_column!r} is not a caption: {caption!r}" if not isinstance(caption, str) or (
                   text_column is not None and not caption.strip()) else None)
    scores = {}
    for column in score_columns:
        value = values.get(column)
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
            problem = problem or f"score column {column!r} is not a number: {value!r}"
        else:
            scores[column] = float(value)
    if problem:
        return Rejected(str(file), problem, index=row + 1, sample_id=sample_id, record=values)
    expected = values.get(hash_column) if hash_column is not None else None
    meta = {"url": url.strip(), INPUT_SHARD: file.name, "row": row}
    if expected is not None:
        meta[hash_column] = expected
    return {"id": sample_id, "layout": "caption", "urls": [url.strip()], "hashes": [expected],
            "caption": caption.strip(), "meta": meta, "scores": scores}


def caption_sample(record: dict, image: bytes) -> dict:
    """The sample of a downloaded caption record: a DataOptim captioning prompt, the caption as the answer
    (as `formats.img2dataset` reads img2dataset's own output)."""
    prompt = draw(dataoptim("captioning"), 0, record["id"])
    messages = [{"role": "user", "content": f"{IMAGE_TOKEN}\n{prompt}"},
                {"role": "assistant", "content": record["caption"]}]
    return new_sample(record["id"], messages, [{"bytes": image, "path": None}], task="caption", qtype="caption",
                      source="urls", meta=record["meta"], scores=record["scores"])


def _stem(file: Path) -> str:
    name = file.name
    for suffix in TABLE_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return file.stem


def _rows(file: Path, columns: list[str], strings: list[str]) -> Iterator[dict | Rejected]:
    name = file.name
    try:
        if name.endswith(".parquet"):
            yield from _parquet_rows(file, columns)
        elif name.endswith((".csv", ".tsv", ".csv.gz", ".tsv.gz")):
            yield from _csv_rows(file, columns, strings, "\t" if ".tsv" in name else ",")
        else:
            yield from jsonl_rows(file)
    except (OSError, pa.ArrowException) as err:
        raise FormatError(f"{file}: cannot read: {' '.join(str(err).split())}") from None


def _parquet_rows(file: Path, columns: list[str]) -> Iterator[dict]:
    parquet = pq.ParquetFile(file)
    _check_columns(file, columns, parquet.schema_arrow.names)
    for batch in parquet.iter_batches(batch_size=BATCH_ROWS, columns=columns):
        yield from batch.to_pylist()


def _csv_rows(file: Path, columns: list[str], strings: list[str], delimiter: str) -> Iterator[dict]:
    source = pa.input_stream(str(file), compression="detect")
    reader = pa_csv.open_csv(source, parse_options=pa_csv.ParseOptions(delimiter=delimiter),
                             convert_options=pa_csv.ConvertOptions(column_types={c: pa.string() for c in strings}))
    _check_columns(file, columns, reader.schema.names)
    for batch in reader:
        yield from batch.select(columns).to_pylist()


def _check_columns(file: Path, columns: list[str], names: list[str]) -> None:
    missing = [c for c in columns if c not in names]
    if missing:
        raise FormatError(f"{file}: no column {missing[0]!r} (columns: {', '.join(names)})")


def jsonl_rows(file: Path) -> Iterator[dict | Rejected]:
    """The JSON objects of a JSONL file (plain, gzip, or a zip archive: every `.jsonl` member in the
    archive's order, each named `ARCHIVE/MEMBER` as `zipfile.Path` names it), a bad line as a Rejected
    naming it."""
    if file.name.endswith(".zip"):
        yield from _zip_rows(file)
        return
    opener: Any = gzip.open if file.name.endswith(".gz") else open
    with opener(file, "rb") as handle:
        yield from _json_lines(handle, str(file))


def _zip_rows(file: Path) -> Iterator[dict | Rejected]:
    try:
        archive = zipfile.ZipFile(file)
    except zipfile.BadZipFile as err:
        raise FormatError(f"{file}: not a zip archive: {err}") from None
    with archive:
        members = [m for m in archive.infolist() if not m.is_dir() and m.filename.endswith(".jsonl")]
        if not members:
            raise FormatError(f"{file}: no .jsonl member in the archive")
        for member in members:
            with archive.open(member) as handle:
                yield from _json_lines(handle, f"{file}/{member.filename}")


def _json_lines(handle: Iterable[bytes], name: str) -> Iterator[dict | Rejected]:
    for line_number, line in enumerate(handle, 1):
        if not line.strip():
            continue
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError as err:
            yield Rejected(name, f"not JSON: {err}", line=line_number)
            continue
        if not isinstance(value, dict):
            yield Rejected(name, f"not a JSON object: {type(value).__name__}", line=line_number)
            continue
        yield value
