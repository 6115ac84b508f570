"""MMBench TSV: base64 images, option columns A-D, CircularEval copies at `index + k * 1_000_000`."""

from __future__ import annotations

import base64
import binascii
import csv
import string
from pathlib import Path

from synthloop.evaluate.benchmarks.common import OPTION_LETTER, BenchmarkError, options_block, question_sample
from synthloop.evaluate.metrics import CIRCULAR_STRIDE
from synthloop.sample import IMAGE_TOKEN


def _read_tsv(path: Path) -> list[tuple[int, dict]]:
    """(line number, row) pairs; empty cells become None (pandas writes missing options as empty)."""
    csv.field_size_limit(1 << 30)  # base64 images are far longer than the 128 KiB default
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle, delimiter="\t")
            rows = [(reader.line_num, {k: (v if v != "" else None) for k, v in row.items()}) for row in reader]
            columns = reader.fieldnames or []
    except OSError as err:
        raise BenchmarkError(f"{path}: {err.strerror or err}") from None
    except (csv.Error, UnicodeDecodeError) as err:
        raise BenchmarkError(f"{path}: not a readable TSV: {err}") from None
    for column in ("index", "question", "image"):
        if column not in columns:
            raise BenchmarkError(f"{path}: no {column!r} column (columns: {', '.join(columns)})")
    return rows


def read_mmbench(path: str | Path) -> list[dict]:
    """One `mcvqa` sample per row, id `mmbench_<index>`, qtype = MMBench category.

    `meta` holds `index`, `answer` (letter; absent on the test split), `options` (`{letter: text}`),
    `hint`, `category`, `l2-category`, `split`. An image cell may instead hold the index of the row
    whose image it shares (VLMEvalKit's files do this for circular copies).
    """
    path = Path(path)
    rows = _read_tsv(path)
    letters = [c for c in string.ascii_uppercase if rows and c in rows[0][1]]
    images = {row["index"]: row["image"] for _, row in rows}
    samples = []
    for line, row in rows:
        where = f"{path}:{line}"
        index = row["index"] or ""
        if not index.isdigit():
            raise BenchmarkError(f"{where}: index {index!r} is not an integer")
        encoded = row["image"] or ""
        if len(encoded) <= 64 and encoded in images:
            encoded = images[encoded]
        try:
            image_bytes = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise BenchmarkError(f"{where}: image of index {index} is not base64") from None
        options = {letter: str(row[letter]) for letter in letters if row[letter] is not None}
        question = row["question"] or ""
        if row.get("hint"):
            question = f"{row['hint']}\n{question}"
        meta = {"index": int(index), "options": options, "hint": row.get("hint"),
                **{key: row.get(key) for key in ("category", "l2-category", "split", "source") if key in row}}
        answer = row.get("answer")
        if answer:
            meta["answer"] = answer
        samples.append(question_sample(f"mmbench_{index}", f"{question}\n{options_block(options)}", answer,
                                       image={"bytes": image_bytes, "path": None}, task="mcvqa",
                                       qtype=row.get("category") or "mmbench", source="mmbench", meta=meta,
                                       instruction=OPTION_LETTER))
    return samples


def circular_copies(samples: list[dict]) -> list[dict]:
    """Add CircularEval rotations for files that lack them: for a question with n options, copies
    k = 1..n-1 move option j to position (j + k) % n, with index `index + k * 1_000_000`."""
    out = list(samples)
    for sample in samples:
        meta = sample["meta"]
        if meta["index"] >= CIRCULAR_STRIDE:
            continue
        letters, texts = list(meta["options"]), list(meta["options"].values())
        n = len(texts)
        question = sample["messages"][0]["content"].removeprefix(f"{IMAGE_TOKEN}\n")
        stem = question[: question.rindex(options_block(meta["options"]))].rstrip("\n")
        for k in range(1, n):
            rotated = {letters[(j + k) % n]: texts[j] for j in range(n)}
            rotated = {letter: rotated[letter] for letter in letters}
            answer = letters[(letters.index(meta["answer"]) + k) % n] if meta.get("answer") else None
            index = meta["index"] + k * CIRCULAR_STRIDE
            copy_meta = {**meta, "index": index, "options": rotated}
            if answer:
                copy_meta["answer"] = answer
            out.append(question_sample(f"mmbench_{index}", f"{stem}\n{options_block(rotated)}", answer,
                                       image=sample["images"][0], task="mcvqa", qtype=sample["qtype"],
                                       source=sample["source"], meta=copy_meta, instruction=OPTION_LETTER))
    return out
