"""Predictions in the layouts official servers and harnesses read, so a number can be checked with the
official tool. Written beside `results.json` by `evaluate`, one file per benchmark present:

- `vqav2_submission.json`, `textvqa_submission.json`: `[{"question_id", "answer"}]`, EvalAI's upload
  format. Answers are the raw predictions: vqaEval.py (or m4c_evaluator.py) on this file reproduces
  the score here, and EvalAI normalises answers itself. Failed samples get "" as LLaVA's
  scripts/convert_vqav2_for_submission.py gives missing ones (haotian-liu/LLaVA c121f04).
- `mmbench_submission.tsv` and `.xlsx`: MMBench's upload columns as LLaVA's
  scripts/convert_mmbench_for_submission.py writes them: `index`, `question`, the option letters,
  `prediction`, then `answer` and `split` where known; VLMEvalKit's evaluator reads them too.
- `aokvqa_submission.json`: `{question_id: {"multiple_choice": text, "direct_answer": text}}`, the
  layout of allenai/aokvqa evaluation/prepare_predictions.py (83786de).
- `scienceqa_answers.jsonl`: `{"question_id", "prompt", "text"}` lines, what LLaVA's
  llava/eval/eval_science_qa.py reads.
- `lmms_eval_samples.jsonl`: one line per scored sample with lmms-eval's per-sample log fields
  (`doc_id`, `input`, `target`, `filtered_resps`, and the metric's score under its name;
  EvolvingLMMs-Lab/lmms-eval lmms_eval/loggers/evaluation_tracker.py at 75571cf).
"""

from __future__ import annotations

import csv
import datetime
import io
import re
import zipfile
from collections import defaultdict
from pathlib import Path

import openpyxl
import orjson

from synthloop.evaluate.multiple_choice import aokvqa_choice, option_letters
from synthloop.evaluate.scoring import metric_of, prompt_messages

_MODIFIED = re.compile(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)")


class Submissions:
    """Collects what each scored or failed sample contributes, in benchmark order."""

    def __init__(self) -> None:
        self._entries: list[tuple[int, str, dict]] = []

    def add(self, position: int, sample: dict, row: dict) -> None:
        """Samples that lack the fields a benchmark reader writes (question_id, index, pid) go only
        into the lmms-eval log."""
        prediction, meta, source, metric = row.get("prediction"), sample["meta"], sample["source"], metric_of(sample)
        if source in ("vqav2", "textvqa") and "question_id" in meta:
            self._entries.append((position, source, {"question_id": meta["question_id"], "answer": prediction or ""}))
        elif source == "mmbench" and "index" in meta:
            self._entries.append((position, source, {"index": meta["index"], "question": meta.get("question", ""),
                                                      **option_letters(meta.get("options") or {}),
                                                      "prediction": prediction or "", "answer": meta.get("answer"),
                                                      "split": meta.get("split")}))
        elif source == "aokvqa" and prediction is not None and "question_id" in meta:
            entry = ({"multiple_choice": aokvqa_choice(prediction, meta.get("choices") or [])}
                     if metric == "aokvqa_mc" else {"direct_answer": prediction})
            self._entries.append((position, source, {"question_id": meta["question_id"], **entry}))
        elif source == "scienceqa" and prediction is not None and "pid" in meta:
            self._entries.append((position, source, {"question_id": meta["pid"], "prompt": _prompt(sample),
                                                      "text": prediction}))
        if "score" in row:
            self._entries.append((position, "lmms_eval", {"doc_id": position, "input": _prompt(sample),
                                                          "target": str(_target(row["gold"])),
                                                          "filtered_resps": prediction,
                                                          metric: row["score"]}))

    def write(self, out: Path) -> None:
        by_kind: dict[str, list[dict]] = defaultdict(list)
        for _, kind, entry in sorted(self._entries, key=lambda e: e[0]):
            by_kind[kind].append(entry)
        for stale in [*out.glob("*_submission.*"), out / "scienceqa_answers.jsonl", out / "lmms_eval_samples.jsonl"]:
            stale.unlink(missing_ok=True)
        for source in ("vqav2", "textvqa"):
            if by_kind[source]:
                (out / f"{source}_submission.json").write_bytes(orjson.dumps(by_kind[source]))
        if by_kind["mmbench"]:
            _write_mmbench(out, by_kind["mmbench"])
        if by_kind["aokvqa"]:
            merged: dict[str, dict] = defaultdict(dict)
            for entry in by_kind["aokvqa"]:
                merged[entry.pop("question_id")].update(entry)
            (out / "aokvqa_submission.json").write_bytes(orjson.dumps(merged))
        for name, kind in (("scienceqa_answers.jsonl", "scienceqa"), ("lmms_eval_samples.jsonl", "lmms_eval")):
            if by_kind[kind]:
                (out / name).write_bytes(b"".join(orjson.dumps(entry) + b"\n" for entry in by_kind[kind]))


def _prompt(sample: dict) -> str:
    return next((m["content"] for m in reversed(prompt_messages(sample)) if m["role"] == "user"), "")


def _target(gold: dict) -> object:
    for key in ("answer", "answers", "box", "captions", "expression"):
        if gold.get(key) is not None:
            return gold[key]
    return gold


def _write_mmbench(out: Path, rows: list[dict]) -> None:
    letters = sorted({key for row in rows for key in row if len(key) == 1 and key.isupper()})
    columns = ["index", "question", *letters, "prediction"]
    columns += [key for key in ("answer", "split") if any(row[key] is not None for row in rows)]
    table = [[row.get(column) for column in columns] for row in rows]
    text = io.StringIO()
    writer = csv.writer(text, delimiter="\t", lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([["" if cell is None else cell for cell in line] for line in table])
    (out / "mmbench_submission.tsv").write_text(text.getvalue(), encoding="utf-8")
    workbook = openpyxl.Workbook()
    workbook.properties.created = datetime.datetime(2000, 1, 1)
    sheet = workbook.active
    for line in [columns, *table]:
        sheet.append(line)
    buffer = io.BytesIO()
    workbook.save(buffer)
    (out / "mmbench_submission.xlsx").write_bytes(_reproducible_zip(buffer.getvalue()))


def _reproducible_zip(data: bytes) -> bytes:
    """The workbook with fixed entry times and no save time, so the same predictions give the same bytes."""
    source, target = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                content = _MODIFIED.sub(rb"\g<1>2000-01-01T00:00:00Z\g<2>", content)
            archive.writestr(zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0)), content,
                             compress_type=zipfile.ZIP_DEFLATED)
    return target.getvalue()
