"""Everything the report shows, gathered from a run directory's files.

The report reads what runs leave behind and nothing else: `ledger.json` files (engine runs),
`loop.json`, `curation.json`, resolved recipes, and the Parquet of kept, dropped and quarantined
samples of each engine run (found through the output paths in the run's `recipe.yaml`). Each part is optional, so the report works for a plain `synthloop run` as well as for a
loop or the demo. It reads through `synthloop.storage`, so the run directory may be a local or shared
folder or an object store URI, as the run's own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import orjson
import pyarrow.parquet as pq
import yaml

from synthloop.ops import op_class
from synthloop.storage import Location

MAX_SCORE_ROWS = 50_000  # per score key, roughly: enough for a histogram
GALLERY_SIZE = 12
JUDGE_SCORE = "judge_p"  # the `judge` op's P(Yes): the report shows its band and what it kept and dropped
RECIPE_NAMES = ("recipe.yaml", "recipe.yml", "recipe.json", "loop_recipe.yaml", "resolved_recipe.yaml")


@dataclass
class Ledger:
    name: str
    data: dict


@dataclass(frozen=True)
class Threshold:
    score_key: str
    param: str
    value: float


@dataclass
class Example:
    id: str
    status: str  # kept | dropped | quarantined
    question: str
    answer: str
    reason: str
    image: bytes | None


@dataclass
class RunFiles:
    ledgers: list[Ledger] = field(default_factory=list)
    loop: dict | None = None
    curation: dict | None = None
    recipes: dict[str, str] = field(default_factory=dict)
    scores: dict[str, list[float]] = field(default_factory=dict)
    thresholds: list[Threshold] = field(default_factory=list)
    examples: list[Example] = field(default_factory=list)
    judged: list[Example] = field(default_factory=list)  # kept with a judge score, or dropped by the judge


def _relative(file: Location, root: Location) -> str:
    return file.path[len(root.path) + 1:] or "."


def _files(folder: Location, name: str) -> list[Location]:
    """The files under `folder` called `name` (or, for a name starting with ".", ending with it), in the
    order of their paths' parts (as sorted `pathlib` paths)."""
    found = folder.files(name) if folder.is_dir() else []
    return sorted((f for f in found if name.startswith(".") or f.name == name), key=lambda f: f.path.split("/"))


def _engine_folders(root: Location, status: str) -> list[Location]:
    """The output (kept), dropped or quarantine folder of every engine run under `root`, from its recipe."""
    folders = []
    for recipe_file in _files(root, "recipe.yaml"):
        if not (recipe_file.parent / "ledger.json").exists():
            continue
        output = (yaml.safe_load(recipe_file.read_text()) or {}).get("output") or {}
        if "path" not in output:
            continue
        default = recipe_file.parent / ("dropped" if status == "dropped" else "quarantine")
        folder = {"kept": output["path"], "dropped": output.get("dropped"),
                  "quarantined": output.get("quarantine")}[status]
        folders.append(Location.of(folder) if folder else default)
    return folders


def _score_key(op: str, params: dict) -> str:
    """The score an op writes (a filter's `score_key`, by default its name)."""
    try:
        return op_class(op).model_validate(params).score_key
    except (KeyError, ValueError, AttributeError):
        return op


def _thresholds(recipe: dict) -> list[Threshold]:
    """Numeric bound parameters of each op (`min_side: 32`, `low: 0.5`) and the score each bounds."""
    found = []
    for entry in recipe.get("ops") or []:
        if not isinstance(entry, dict) or len(entry) != 1:
            continue
        ((op, params),) = entry.items()
        for key, value in (params or {}).items():
            bound = key.startswith(("min", "max")) or key in ("low", "high", "threshold")
            if bound and isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
                found.append(Threshold(_score_key(op, params or {}), key, float(value)))
    return found


def thresholds_for(score: str, thresholds: list[Threshold]) -> dict[str, float]:
    """Bounds drawn on a score's histogram: those of the op writing it, or named in it (`image_min_side`)."""
    return {t.param: t.value for t in thresholds if t.score_key == score or t.param in score}


def _example(row: dict, status: str) -> Example:
    messages = row.get("messages") or []
    question = next((m["content"] for m in messages if m["role"] == "user"), "")
    answer = next((m["content"] for m in messages if m["role"] == "assistant"), "")
    reason = " ".join(str(row[k]) for k in ("op", "reason", "value", "error") if row.get(k) not in (None, ""))
    images = row.get("images") or []
    return Example(row["id"], status, question.replace("<image>", "").strip(), answer, reason,
                   images[0].get("bytes") if images else None)


def _judged_examples(parquet: pq.ParquetFile, status: str, run: RunFiles) -> None:
    """Up to GALLERY_SIZE samples of `status` that the judge scored and kept (or, dropped, that it dropped),
    every turn of the conversation shown, with its score."""
    columns = parquet.schema_arrow.names
    wanted = GALLERY_SIZE - sum(e.status == status for e in run.judged)
    if wanted <= 0 or status not in ("kept", "dropped") or "messages" not in columns:
        return
    for batch in parquet.iter_batches(batch_size=512):
        for row in batch.to_pylist():
            score = orjson.loads(row["scores"] or "{}").get(JUDGE_SCORE)
            if score is None or (status == "dropped" and row.get("op") != "judge"):
                continue
            turns = row.get("messages") or []
            images = row.get("images") or []
            run.judged.append(Example(
                row["id"], status, " | ".join(m["content"].replace("<image>", "").strip() for m in turns if m["role"] == "user"),
                " | ".join(m["content"] for m in turns if m["role"] == "assistant"), f"{JUDGE_SCORE} {score:.3f}",
                images[0].get("bytes") if images else None))
            wanted -= 1
            if not wanted:
                return


def _read_parquet(file: Location, status: str, run: RunFiles, seen_examples: dict[str, int]) -> None:
    parquet = file.parquet()
    columns = parquet.schema_arrow.names
    if "scores" not in columns or "id" not in columns:
        return
    for batch in parquet.iter_batches(batch_size=8192, columns=["scores"]):
        for text in batch.column(0).to_pylist():
            for key, value in (orjson.loads(text) if text else {}).items():
                if isinstance(value, (int, float)) and math.isfinite(value):
                    run.scores.setdefault(key, []).append(float(value))
        if sum(len(v) for v in run.scores.values()) > MAX_SCORE_ROWS * 10:
            break
    if JUDGE_SCORE in run.scores:
        _judged_examples(parquet, status, run)
    wanted = GALLERY_SIZE - seen_examples.get(status, 0)
    if wanted > 0 and "messages" in columns:
        rows = next(parquet.iter_batches(batch_size=wanted), None)
        for row in rows.to_pylist() if rows is not None else []:
            run.examples.append(_example(row, status))
            seen_examples[status] = seen_examples.get(status, 0) + 1


def collect(run_dir: str | Location) -> RunFiles:
    root = Location.of(run_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such run directory")
    run = RunFiles()
    for file in _files(root, "ledger.json"):
        run.ledgers.append(Ledger(_relative(file.parent, root), orjson.loads(file.read_bytes())))
    loops = _files(root, "loop.json")
    if loops:
        run.loop = orjson.loads(loops[0].read_bytes())
    if (root / "curation.json").exists():
        run.curation = orjson.loads((root / "curation.json").read_bytes())
    for name in RECIPE_NAMES:
        for file in _files(root, name):
            text = file.read_text()
            run.recipes[_relative(file, root)] = text
            loaded = yaml.safe_load(text)
            for threshold in _thresholds(loaded if isinstance(loaded, dict) else {}):
                if threshold not in run.thresholds:
                    run.thresholds.append(threshold)
    seen: dict[str, int] = {}
    for status in ("kept", "dropped", "quarantined"):
        for folder in _engine_folders(root, status):
            for file in _files(folder, ".parquet"):
                _read_parquet(file, status, run, seen)
    return run
