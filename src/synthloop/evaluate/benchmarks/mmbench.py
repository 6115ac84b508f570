"""MMBench TSV: base64 images, option columns A-Z, CircularEval copies at `index + k * 1_000_000`.

Read as VLMEvalKit and LLaVA read it (`pandas.read_csv(path, sep="\\t")`, vlmeval/smp/file.py
`load_tsv` at e8e78f05f3080fe28154f2130321f17951c3be94): a cell pandas reads as missing ("", "NA",
"N/A", "None", "nan", "null", ...) is no option and no hint.
"""

from __future__ import annotations

import base64
import binascii
import string
from collections import defaultdict
from pathlib import Path

import pandas as pd

from synthloop.evaluate.benchmarks.common import OPTION_LETTER, BenchmarkError, options_block, question_sample
from synthloop.evaluate.multiple_choice import CIRCULAR_STRIDE
from synthloop.sample import IMAGE_TOKEN

_META_COLUMNS = ("category", "l2-category", "split", "source")


def _cell(value: object) -> object:
    return None if pd.isna(value) else value


def _read_tsv(path: Path) -> list[dict]:
    try:
        frame = pd.read_csv(path, sep="\t")
    except OSError as err:
        raise BenchmarkError(f"{path}: {err.strerror or err}") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise BenchmarkError(f"{path}: not a readable TSV: {err}") from None
    for column in ("index", "question", "image"):
        if column not in frame.columns:
            raise BenchmarkError(f"{path}: no {column!r} column (columns: {', '.join(map(str, frame.columns))})")
    return [{k: _cell(v) for k, v in row.items()} for row in frame.to_dict("records")]


def _index(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or not float(value).is_integer():
        raise BenchmarkError(f"{where}: index {value!r} is not an integer")
    return int(value)


def read_mmbench(path: str | Path) -> list[dict]:
    """One `mcvqa` sample per row, id `mmbench_<index>`, qtype = MMBench category.

    `meta` holds `index`, `question`, `answer` (letter; absent on the test split), `options`
    (`{letter: text}` for the option cells that are not missing), `hint`, `category`, `l2-category`,
    `split`, `source`, and `circular_index` (= `index`: the evaluation runner scores such rows by
    CircularEval). An image cell may instead hold the index of the row whose image it shares
    (VLMEvalKit's files do this for circular copies). Errors name the file and row (1 = first data row).
    """
    path = Path(path)
    rows = _read_tsv(path)
    letters = [c for c in string.ascii_uppercase if rows and c in rows[0]]
    images = {str(row["index"]): row["image"] for row in rows}
    samples = []
    for number, row in enumerate(rows, start=1):
        where = f"{path}: row {number}"
        index = _index(row["index"], where)
        encoded = "" if row["image"] is None else str(row["image"])
        if 0 < len(encoded) <= 64 and isinstance(images.get(encoded), str):
            encoded = images[encoded]
        try:
            image_bytes = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise BenchmarkError(f"{where}: image of index {index} is not base64") from None
        options = {letter: str(row[letter]) for letter in letters if row[letter] is not None}
        question = "" if row["question"] is None else str(row["question"])
        hint = None if row.get("hint") is None else str(row["hint"])
        meta = {"index": index, "circular_index": index, "question": question, "options": options,
                "hint": hint, **{key: row.get(key) for key in _META_COLUMNS if key in row}}
        prompt = f"{hint}\n{question}" if hint is not None else question
        answer = None if row.get("answer") is None else str(row["answer"])
        if answer:
            meta["answer"] = answer
        samples.append(question_sample(f"mmbench_{index}", f"{prompt}\n{options_block(options)}", answer,
                                       image={"bytes": image_bytes, "path": None}, task="mcvqa",
                                       qtype=row.get("category") or "mmbench", source="mmbench", meta=meta,
                                       instruction=OPTION_LETTER))
    return samples


def _no_circular(options: dict[str, str], answer: str | None) -> bool:
    """VLMEvalKit's abnormal entries, which get no copies: an option text that is a run of capital
    letters ("A", "BC") or names two option letters ("A and B"), no contiguous options A.. (its
    tool refuses gaps and single options outright), or an answer that is not one of the options."""
    n = len(options)
    if n < 2 or list(options) != list(string.ascii_uppercase[:n]):
        return True
    if answer is not None and (len(answer) > 1 or answer not in options):
        return True
    for text in options.values():
        words = "".join(ch if ch in string.ascii_letters or ch == " " else " " for ch in text).split()
        if len({word for word in words if word in options}) > 1 or text in string.ascii_uppercase:
            return True
    return False


def circular_copies(samples: list[dict]) -> list[dict]:
    """The samples with CircularEval copies added, as VLMEvalKit's `vlmutil circular` makes them
    (vlmeval/tools.py CIRCULAR at e8e78f05f3080fe28154f2130321f17951c3be94).

    Copy k = 1..n-1 of a question with n options moves option j to (j - k) % n (the answer with it)
    and has index `index + k * offset`, the offset 1_000_000 raised tenfold until it exceeds every
    index. Questions `_no_circular` rejects stay single. Order as VLMEvalKit writes the file: groups
    (rejected, or by option count) in order of first appearance, within each all copy-0 rows, then
    all copy-1 rows, ... A question without an answer (test split) is rotated too.
    """
    if not samples:
        return []
    offset = CIRCULAR_STRIDE
    while max(sample["meta"]["index"] for sample in samples) >= offset:
        offset *= 10
    groups: dict[int, list[dict]] = defaultdict(list)
    for sample in samples:
        meta = sample["meta"]
        groups[0 if _no_circular(meta["options"], meta.get("answer")) else len(meta["options"])].append(sample)
    out = []
    for n, members in groups.items():
        out += members
        for k in range(1, n):
            out += [_rotated(sample, k, offset) for sample in members]
    return out


def _rotated(sample: dict, k: int, offset: int) -> dict:
    meta = sample["meta"]
    letters, texts = list(meta["options"]), list(meta["options"].values())
    n = len(letters)
    options = {letters[j]: texts[(j + k) % n] for j in range(n)}
    index = meta["index"] + k * offset
    copy_meta = {**meta, "index": index, "circular_index": index, "options": options}
    answer = None
    if meta.get("answer") is not None:
        answer = copy_meta["answer"] = letters[(letters.index(meta["answer"]) - k) % n]
    question = sample["messages"][0]["content"].removeprefix(f"{IMAGE_TOKEN}\n")
    stem = question[: question.rindex(options_block(meta["options"]))].rstrip("\n")
    return question_sample(f"mmbench_{index}", f"{stem}\n{options_block(options)}", answer,
                           image=sample["images"][0], task="mcvqa", qtype=sample["qtype"], source=sample["source"],
                           meta=copy_meta, instruction=OPTION_LETTER)
