"""The closed loop: round 0 on the curated seed pool, then targeted rounds beside a baseline arm.

Each round and arm: allocate the synthesis budget over qtypes (the loop arm by Adaptive Bad-case
Sampling on its latest evaluation, the baseline arm uniformly), synthesize, curate through the
recipe's ops with the engine (ledger and dropped samples kept for audit), decontaminate against
the benchmark, merge into the arm's pool, retrain with the same settings and seed (from scratch,
or with `warm_start` continuing from the arm's previous checkpoint, over the whole pool or, with
`replay`, over the new data plus a seeded draw from the arm's earlier pool), and re-evaluate.
Run directory layout:

    loop_recipe.yaml  loop.json  round_0/{curate/, ckpt/, eval/}
    <arm>/round_<r>/{synth/, curate/ (engine run: ledger.json, output/, dropped/), added/, ckpt/, eval/}
"""

from __future__ import annotations

import contextlib
import io
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import orjson
import yaml

from synthloop.formats.parquet import read_samples, write_samples
from synthloop.loop.allocate import adaptive_bad_case_allocation, uniform_allocation
from synthloop.loop.decontaminate import BenchmarkIndex, decontaminate
from synthloop.loop.recipe import LoopRecipe, PoolSpec, TrainSpec
from synthloop.loop.synthesize import Synthesizer, WorldSynthesizer

# Seed offsets keep the seed pool, each round's synthesis and the benchmark on separate streams.
SEED_POOL_OFFSET = 0
ROUND_OFFSET = 7_919


class LoopRunError(RuntimeError):
    """A loop that cannot start; the message says why."""


@dataclass
class Evaluation:
    overall: float
    per_qtype: dict[str, float]
    bad_cases: dict[str, list[dict]]

    @property
    def error_rates(self) -> dict[str, float]:
        return {q: 1.0 - acc for q, acc in self.per_qtype.items()}


def load_pool(spec: PoolSpec, seed: int, benchmark: bool = False) -> list[dict]:
    """The samples a pool spec names: read from Parquet, or generated (world + easy-vqa)."""
    if spec.path is not None:
        return list(read_samples(spec.path))
    from synthloop.lab import world

    if benchmark:
        return world.benchmark(spec.world, seed=seed, mix=spec.mix, image_size=spec.image_size)
    samples = []
    if spec.world:
        samples = world.generate(spec.world, mix=spec.mix, seed=seed, image_size=spec.image_size, turns=spec.turns)
    if spec.easy_vqa:
        samples += world.packaged.easy_vqa(n=spec.easy_vqa, seed=seed)
    return samples


def curate(samples: list[dict], ops: list[dict], folder: Path, seed: int, workers: int, batch_size: int) -> list[dict]:
    """Run `ops` over `samples` with the engine in `folder`; the kept samples (all when no ops)."""
    if not ops:
        return samples
    from synthloop import engine
    from synthloop.engine.recipe import Recipe

    folder = folder.resolve()  # the engine's recipe.yaml then names folders the report finds from anywhere
    write_samples(samples, folder / "input")
    recipe = Recipe.model_validate({
        "inputs": [{"format": "parquet", "path": str(folder / "input")}], "ops": ops,
        "output": {"format": "parquet", "path": str(folder / "output")}, "run_dir": str(folder),
        "executor": {"workers": workers, "batch_size": batch_size}, "seed": seed})
    engine.run(recipe, progress=False)
    return list(read_samples(folder / "output")) if (folder / "output").exists() else []


def read_bad_cases(eval_dir: Path) -> dict[str, list[dict]]:
    """`bad_case_<qtype>.json` files (each `{qtype: [case, ...]}`) of an evaluation folder, merged."""
    cases: dict[str, list[dict]] = {}
    for file in sorted(eval_dir.glob("bad_case_*.json")):
        cases.update(orjson.loads(file.read_bytes()))
    return cases


def train_and_evaluate(pool: list[dict], benchmark: list[dict], folder: Path, spec: TrainSpec, seed: int,
                       init: Path | None = None) -> Evaluation:
    """Train on `pool` (from scratch, or continuing from checkpoint `init`), evaluate on `benchmark`."""
    from synthloop.evaluate.runner import evaluate
    from synthloop.models.tinyvlm.checkpoint import load_checkpoint
    from synthloop.train.trainer import train

    epochs = spec.epochs if init is None else spec.warm_start_epochs
    # model loaders print progress lines on stdout; the training bars go to stderr (the demo trains for minutes)
    with contextlib.redirect_stdout(io.StringIO()):
        checkpoint = train(pool, folder / "ckpt", stage=spec.stage, epochs=epochs, max_samples=spec.max_samples,
                           global_batch_size=spec.global_batch_size, seed=seed, show_progress=True, init=init,
                           **spec.settings)
        results = evaluate(load_checkpoint(checkpoint), benchmark, folder / "eval")
    return Evaluation(float(results["overall"]), {q: float(a) for q, a in results["per_qtype"].items()},
                      read_bad_cases(folder / "eval"))


def replay_pool(pool: list[dict], new: list[dict], replay: int | None, seed: int) -> list[dict]:
    """What a warm round trains on: the whole pool plus the new data, or `replay` samples of the pool drawn
    with `seed` (the same draw for both arms while their pools agree) plus the new data."""
    if replay is None:
        return pool + new
    return random.Random(seed).sample(pool, min(replay, len(pool))) + new


def make_synthesizer(recipe: LoopRecipe, pool: list[dict]) -> Synthesizer:
    """The recipe's synthesizer; a model generator draws its parent images from the seed `pool`."""
    spec = recipe.synthesis.synthesizer
    if spec.kind == "world":
        return WorldSynthesizer(image_size=spec.image_size, difficulty=spec.difficulty, turns=spec.turns)
    from synthloop.models.synthesizer import ModelSynthesizer
    from synthloop.ops import op_class

    ((name, params),) = spec.generator.items()
    judge = op_class("judge").model_validate(spec.judge) if spec.judge is not None else None
    return ModelSynthesizer(pool, op_class(name).model_validate(params), judge)


def _entry(round_index: int, arm: str, evaluation: Evaluation, added: dict[str, int]) -> dict:
    return {"round": round_index, "arm": arm, "overall": round(evaluation.overall, 4),
            "per_qtype": {q: round(a, 4) for q, a in sorted(evaluation.per_qtype.items())},
            "added": dict(sorted(added.items()))}


def _write_json(path: Path, data: object) -> None:
    path.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))


def run_loop(recipe: LoopRecipe, log: Callable[[str], None] = print) -> dict:
    """Run every round of both arms; writes and returns the content of `loop.json`."""
    run_dir = Path(recipe.run_dir)
    if (run_dir / "loop_recipe.yaml").exists():
        raise LoopRunError(f"{run_dir} already holds a loop run; choose a new run_dir or remove it")
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "loop_recipe.yaml").write_text(yaml.safe_dump(recipe.model_dump(mode="json"), sort_keys=False))
    ex = recipe.executor
    benchmark = load_pool(recipe.benchmark, recipe.seed, benchmark=True)
    index = BenchmarkIndex(benchmark)
    pool = curate(load_pool(recipe.seed_pool, recipe.seed + SEED_POOL_OFFSET), recipe.curate,
                  run_dir / "round_0" / "curate", recipe.seed, ex.workers, ex.batch_size)
    pool, removed = decontaminate(pool, index)
    cut = sum(s["meta"].get("decontaminated_turns", 0) for s in pool)
    log(f"round 0: training on {len(pool)} curated seed samples ({len(removed)} removed as benchmark contamination, "
        f"{cut} follow-up turns cut)")
    first = train_and_evaluate(pool, benchmark, run_dir / "round_0", recipe.train, recipe.seed)
    log(f"round 0: overall accuracy {first.overall:.3f}")
    arms = ["loop", "baseline"] if recipe.baseline else ["loop"]
    state = {arm: (pool, first) for arm in arms}
    rounds = [_entry(0, arm, first, {}) for arm in arms]
    weak = sorted(first.error_rates, key=lambda q: (-first.error_rates[q], q))[:3]
    synthesizer = make_synthesizer(recipe, pool)
    qtypes = sorted(q for q in first.per_qtype if q in synthesizer.qtypes)
    for r in range(1, recipe.rounds + 1):
        for arm in arms:
            arm_pool, last = state[arm]
            if arm == "loop":
                error_rates = {q: e for q, e in last.error_rates.items() if q in qtypes}
                bad_case_counts = {q: len(c) for q, c in last.bad_cases.items()}
                counts = adaptive_bad_case_allocation(error_rates, bad_case_counts, recipe.synthesis.budget,
                                                      seed=recipe.seed * 1_000 + r,
                                                      min_bad_cases=recipe.synthesis.min_bad_cases)
            else:
                counts = uniform_allocation(qtypes, recipe.synthesis.budget)
            folder = run_dir / arm / f"round_{r}"
            round_seed = recipe.seed + ROUND_OFFSET * r
            new = synthesizer.synthesize(counts, seed=round_seed, bad_cases=last.bad_cases)
            write_samples(new, folder / "synth")
            new = curate(new, recipe.synthesis.ops, folder / "curate", round_seed, ex.workers, ex.batch_size)
            new, removed = decontaminate(new, index)
            write_samples(new, folder / "added")
            if removed:
                write_samples(removed, folder / "decontaminated")
            added = dict(Counter(s["qtype"] for s in new))
            previous = run_dir / "round_0" if r == 1 else run_dir / arm / f"round_{r - 1}"
            init = previous / "ckpt" if recipe.train.warm_start else None
            training = replay_pool(arm_pool, new, recipe.train.replay, round_seed)
            evaluation = train_and_evaluate(training, benchmark, folder, recipe.train, recipe.seed, init)
            state[arm] = (arm_pool + new, evaluation)
            rounds.append(_entry(r, arm, evaluation, added))
            log(f"round {r} {arm}: asked {sum(counts.values())}, added {len(new)}, trained on {len(training)}, "
                f"overall accuracy {evaluation.overall:.3f}")
    result = {"rounds": rounds, "weak_qtypes": weak}
    _write_json(run_dir / "loop.json", result)
    return result
