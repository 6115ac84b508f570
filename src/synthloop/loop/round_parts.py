"""What a loop round does, one function per step: curate with the engine, decontaminate, train, evaluate.

Each writes its outputs to the round's folder and reads nothing but files, so a step that a resumed
run skips and one that it redoes leave the same state behind (`loop.steps`).
"""

from __future__ import annotations

import contextlib
import io
import random
from dataclasses import dataclass
from pathlib import Path

import orjson

from synthloop.engine.rundir import write_json
from synthloop.formats.parquet import read_samples, write_samples
from synthloop.loop.decontaminate import BenchmarkIndex, decontaminate
from synthloop.loop.pool import Pool
from synthloop.engine.executors.base import ExecutorSpec
from synthloop.loop.recipe import EvaluateSpec, PoolSpec, TrainSpec
from synthloop.loop.sources import generated_pool


@dataclass
class Evaluation:
    overall: float
    per_qtype: dict[str, float]
    bad_cases: dict[str, list[dict]]

    @property
    def error_rates(self) -> dict[str, float]:
        return {q: 1.0 - acc for q, acc in self.per_qtype.items()}


def load_pool(spec: PoolSpec, seed: int, benchmark: bool = False) -> list[dict]:
    """The samples a pool spec names: read from Parquet, or generated (`loop.sources`)."""
    if spec.path is not None:
        return list(read_samples(spec.path))
    return generated_pool(spec, seed, benchmark)


def curate(source: Path, ops: list[dict], folder: Path, seed: int, executor: ExecutorSpec) -> dict:
    """Run `ops` over the Parquet at `source` with the engine in `folder`, resuming what a killed run left
    there; the engine's ledger. The kept samples are in `folder/output`."""
    from synthloop import engine
    from synthloop.engine.recipe import Recipe

    folder = folder.resolve()  # the engine's recipe.yaml then names folders the report finds from anywhere
    recipe = Recipe.model_validate({
        "inputs": [{"format": "parquet", "path": str(source.resolve())}], "ops": ops,
        "output": {"format": "parquet", "path": str(folder / "output")}, "run_dir": str(folder),
        "executor": executor.model_dump(mode="json"), "seed": seed})
    return dict(engine.run(recipe, resume=True, progress=False))


def decontaminate_into(source: Pool, index: BenchmarkIndex, kept: Path, removed: Path) -> dict[str, int]:
    """Write the clean samples of `source` to `kept` and the contaminated ones to `removed`; the counts
    of removed samples and of follow-up turns cut."""
    contaminated: list[dict] = []
    turns_cut = 0

    def clean():
        nonlocal turns_cut
        for sample in source:
            survivors, gone = decontaminate([sample], index)
            contaminated.extend(gone)
            turns_cut += sum(s["meta"].get("decontaminated_turns", 0) for s in survivors)
            yield from survivors

    write_samples(clean(), kept)
    write_samples(contaminated, removed)
    return {"removed": len(contaminated), "turns_cut": turns_cut}


def replay_pool(pool: Pool, new: Pool, replay: int | None, seed: int) -> list[dict]:
    """What a warm round trains on: the whole pool plus the new data, or `replay` samples of the pool drawn
    with `seed` (the same draw for both arms while their pools agree) plus the new data."""
    if replay is None:
        return [*pool, *new]
    return [*pool.take(random.Random(seed).sample(range(len(pool)), min(replay, len(pool)))), *new]


def train_round(samples: list[dict], out: Path, spec: TrainSpec, seed: int, init: Path | None = None) -> None:
    """Train on `samples` (from scratch, or continuing from checkpoint `init`) into `out` with the recipe's
    trainer; its side files and `trained.json` (the checkpoint's model URI and last loss) go to `out`'s
    sibling folder `train/`."""
    from synthloop.train.trainers import TrainJob, make_trainer

    work = out.parent / "train"
    work.mkdir(parents=True, exist_ok=True)
    job = TrainJob(samples, out, work, seed=seed, epochs=spec.epochs if init is None else spec.warm_start_epochs,
                   global_batch_size=spec.global_batch_size, max_samples=spec.max_samples, stage=spec.stage,
                   model=spec.model, init=init)
    trained = make_trainer(spec.trainer, spec.settings).train(job)
    write_json(work / "trained.json", {"model": trained.model, "train_loss": trained.train_loss})


def read_trained(folder: Path) -> dict:
    """A round's `train/trained.json`: the model URI of its checkpoint and its last training loss."""
    return orjson.loads((folder / "train" / "trained.json").read_bytes())


def evaluate_round(model: str, benchmark: list[dict], out: Path, spec: EvaluateSpec, checkpoint: str) -> Evaluation:
    """Evaluate `model` (a URI; an endpoint serving `checkpoint`, or the checkpoint itself) on `benchmark`
    into `out`, its predictions cached there so that a killed evaluation resumes (`prediction_cache`)."""
    from synthloop.evaluate.prediction_cache import PredictionCache, model_fingerprint
    from synthloop.evaluate.runner import evaluate
    from synthloop.models.uri import load_fresh

    options = {"concurrency": spec.concurrency} if model.startswith("openai:") else {}
    fingerprint = model_fingerprint(model) + ("" if model == checkpoint else " serving " + model_fingerprint(checkpoint))
    cache = PredictionCache(out, fingerprint)
    scorer = load_fresh(model, spec.device, **options)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            evaluate(scorer, benchmark, out, spec.batch_size, max_new_tokens=spec.max_new_tokens, cache=cache)
    finally:
        cache.close()
        if hasattr(scorer, "close"):
            scorer.close()
    return read_evaluation(out)


def read_evaluation(eval_dir: Path) -> Evaluation:
    """An evaluation folder's `results.json` and bad cases."""
    results = orjson.loads((eval_dir / "results.json").read_bytes())
    return Evaluation(float(results["overall"]), {q: float(a) for q, a in results["per_qtype"].items()},
                      read_bad_cases(eval_dir))


def read_bad_cases(eval_dir: Path) -> dict[str, list[dict]]:
    """`bad_case_<qtype>.json` files (each `{qtype: [case, ...]}`) of an evaluation folder, merged."""
    cases: dict[str, list[dict]] = {}
    for file in sorted(eval_dir.glob("bad_case_*.json")):
        cases.update(orjson.loads(file.read_bytes()))
    return cases


def train_and_evaluate(pool: list[dict], benchmark: list[dict], folder: Path, spec: TrainSpec, seed: int,
                       init: Path | None = None, evaluation: EvaluateSpec | None = None) -> Evaluation:
    """Train on `pool` into `folder/ckpt` and evaluate the checkpoint into `folder/eval` (both steps at once)."""
    train_round(pool, folder / "ckpt", spec, seed, init)
    trained = read_trained(folder)["model"]
    return evaluate_round(trained, benchmark, folder / "eval", evaluation or EvaluateSpec(), trained)
