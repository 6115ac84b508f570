"""DataOptim submissions: a text file of sample ids, one per line, resolved against a pool.

The pool is a folder of LLaVA JSON/JSONL files (DataOptim ships one per source) or our Parquet.
`subset` writes the selected samples as LLaVA training JSON in the order of the ids file; an id
listed twice is written twice (repeating a sample is a legitimate selection). A BYOD submission is
full LLaVA JSON: write it with the `llava` format.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from synthloop.formats import llava
from synthloop.formats.catalog import register_writer
from synthloop.formats.common import FormatError, JsonRecordWriter, OnBad, Rejected, iter_json_records
from synthloop.formats.parquet import parquet_files, read_samples
from synthloop.formats.staged import OutputExists, refuse_existing, staged_output

SHOWN_UNKNOWN = 20


def read_ids(path: str | Path) -> list[str]:
    """Ids of an id list file (blank lines skipped, surrounding whitespace stripped)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise FormatError(f"{path}: {err.strerror or err}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise FormatError(f"{path}: line {line}: not valid UTF-8 (byte {err.start})") from None
    return [line.strip() for line in text.splitlines() if line.strip()]


def write(samples: Iterable[dict], path: str | Path, on_bad: OnBad, image_root: str | Path | None = None) -> int:
    """Write the ids of `samples`, one per line (a standard DataOptim submission)."""
    del on_bad, image_root
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with open(path, "w", encoding="utf-8") as file:
        for sample in samples:
            file.write(sample["id"] + "\n")
            count += 1
    return count


def _pool_records(pool: Path) -> Iterator[tuple[str, dict]]:
    """(id, LLaVA record) for every sample of the pool, streamed."""
    if pool.suffix == ".parquet" or (pool.is_dir() and parquet_files(pool)):
        for sample in read_samples(pool):
            yield sample["id"], llava.sample_to_record(sample, [ref["path"] for ref in sample["images"]])
        return
    files = [pool] if pool.is_file() else sorted(p for p in pool.rglob("*") if p.suffix in (".json", ".jsonl"))
    if not files:
        raise FormatError(f"{pool}: no LLaVA JSON/JSONL or Parquet files in the pool")
    for file in files:
        for raw in iter_json_records(file):
            if isinstance(raw, Rejected):
                raise FormatError(raw.message())
            if isinstance(raw.record, dict) and "id" in raw.record:
                yield str(raw.record["id"]), raw.record


def subset(pool: str | Path, ids_file: str | Path, out: str | Path, overwrite: bool = False) -> int:
    """Write the pool samples named in `ids_file` to `out` (LLaVA JSON) in ids-file order; returns the count.

    Unknown ids are a FormatError that lists them. Only the wanted records are held in memory. The
    output appears whole or not at all; an existing one is replaced only with `overwrite`.
    """
    try:
        refuse_existing(out, overwrite)
    except OutputExists as err:
        raise FormatError(str(err)) from None
    pool = Path(pool)
    if not pool.exists():
        raise FormatError(f"{pool}: no such pool file or folder")
    ids = read_ids(ids_file)
    wanted = set(ids)
    found: dict[str, dict] = {}
    for sample_id, record in _pool_records(pool):
        if sample_id in wanted and sample_id not in found:
            found[sample_id] = record
    unknown = [i for i in dict.fromkeys(ids) if i not in found]
    if unknown:
        shown = ", ".join(unknown[:SHOWN_UNKNOWN]) + (" ..." if len(unknown) > SHOWN_UNKNOWN else "")
        raise FormatError(f"{ids_file}: {len(unknown)} id(s) not in pool {pool}: {shown}")
    with staged_output(out, overwrite) as staged, JsonRecordWriter(staged) as writer:
        for sample_id in ids:
            writer.write(found[sample_id])
    return writer.count


register_writer("ids", "a DataOptim submission, one id per line", write)
