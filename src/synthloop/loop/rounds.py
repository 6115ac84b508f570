"""The closed loop: round 0 on the curated seed pool, then targeted rounds beside a baseline arm.

Each round and arm: allocate the synthesis budget over qtypes (the loop arm by Adaptive Bad-case
Sampling on its latest evaluation, the baseline arm uniformly), write the synthesizer's input, run
the synthesizer's ops and the recipe's synthesis ops as one engine run (so every generated sample
ends in its ledger), decontaminate against the benchmark, add the rest to the arm's pool, retrain
with the same settings and seed (from scratch, or with `warm_start` continuing from the arm's
previous checkpoint, over the whole pool or, with `replay`, over the new data plus a seeded draw
from the arm's earlier pool), and re-evaluate. Pools stay in Parquet (`loop.pool`); every step is
resumable (`loop.steps`), and `loop.json` holds each round's accuracy and funnel (`loop.funnel`).
Run directory layout:

    loop_recipe.yaml  loop.json  steps/
    round_0/{seed/, curate/, pool/, decontaminated/, decontamination.json, train/, ckpt/, eval/}
    <arm>/round_<r>/{synth/, curate/ (engine run: ledger.json, output/, dropped/, quarantine/),
                     added/, decontaminated/, decontamination.json, train/ (trained.json, logs), ckpt/, eval/}
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from functools import partial
from pathlib import Path

import yaml

from synthloop.engine.rundir import read_json, write_atomic, write_json
from synthloop.formats.parquet import write_samples
from synthloop.loop.allocate import adaptive_bad_case_allocation, uniform_allocation
from synthloop.loop.decontaminate import BenchmarkIndex
from synthloop.loop.funnel import funnel, passthrough_ledger
from synthloop.loop.pool import Pool
from synthloop.loop.recipe import LoopRecipe
from synthloop.loop.round_parts import (
    Evaluation,
    curate,
    decontaminate_into,
    evaluate_round,
    load_pool,
    read_evaluation,
    read_trained,
    replay_pool,
    train_round,
)
from synthloop.loop.serving import served
from synthloop.loop.steps import Steps
from synthloop.loop.sources import synthesizer_of_kind
from synthloop.loop.synthesize import ModelSynthesizer, Synthesizer

# Seed offsets keep the seed pool, each round's synthesis and the benchmark on separate streams.
SEED_POOL_OFFSET = 0
ROUND_OFFSET = 7_919
RECIPE_FILE = "loop_recipe.yaml"


class LoopRunError(RuntimeError):
    """A loop that cannot start or resume; the message says why."""


def make_synthesizer(recipe: LoopRecipe, pool: Pool) -> Synthesizer:
    """The recipe's synthesizer; a model generator draws its parent images from the seed `pool`."""
    spec = recipe.synthesis.synthesizer
    if spec.kind == "model":
        return ModelSynthesizer(pool, spec.generator, spec.judge)
    return synthesizer_of_kind(spec)


class _Run:
    """One loop run in `recipe.run_dir`; each method is a step that a resumed run skips once finished."""

    def __init__(self, recipe: LoopRecipe):
        self.recipe = recipe
        self.root = Path(recipe.run_dir)
        self.steps = Steps(self.root)
        self.benchmark = load_pool(recipe.benchmark, recipe.seed, benchmark=True)
        self.index = BenchmarkIndex(self.benchmark)

    def seed_pool(self) -> Pool:
        """Round 0's pool: the seed pool (generated here, or read from its path), curated, decontaminated."""
        recipe, folder = self.recipe, self.root / "round_0"
        source = Path(recipe.seed_pool.path) if recipe.seed_pool.path is not None else folder / "seed"
        if recipe.seed_pool.path is None:
            self.steps.run("round_0/seed", [source], lambda: write_samples(
                load_pool(recipe.seed_pool, recipe.seed + SEED_POOL_OFFSET), source))
        if recipe.curate:
            self.steps.run("round_0/curate", [], lambda: curate(source, recipe.curate, folder / "curate", recipe.seed,
                                                               recipe.executor), keep=True)
            source = folder / "curate" / "output"
        self.decontaminate("round_0", Pool([source]), folder / "pool", folder)
        return Pool([folder / "pool"])

    def decontaminate(self, name: str, source: Pool, kept: Path, folder: Path) -> dict[str, int]:
        outputs = [kept, folder / "decontaminated", folder / "decontamination.json"]

        def make() -> None:
            write_json(folder / "decontamination.json",
                       decontaminate_into(source, self.index, kept, folder / "decontaminated"))

        self.steps.run(f"{name}/decontaminate", outputs, make)
        return read_json(folder / "decontamination.json")

    def train_and_evaluate(self, name: str, training: Callable[[], list[dict]], folder: Path,
                           init: Path | None) -> Evaluation:
        spec, seed = self.recipe.train, self.recipe.seed
        self.steps.run(f"{name}/train", [folder / "ckpt", folder / "train"],
                       lambda: train_round(training(), folder / "ckpt", spec, seed, init))
        self.steps.run(f"{name}/eval", [folder / "eval"], lambda: self.evaluate(folder), keep=True)
        return read_evaluation(folder / "eval")

    def evaluate(self, folder: Path) -> None:
        """Evaluate the round's checkpoint, or the endpoint the recipe names (brought up serving it)."""
        spec, trained = self.recipe.evaluate, read_trained(folder)["model"]
        model = trained if spec.model == "trained" else spec.model
        with served(spec.serve, model, trained, folder / "eval" / "serve.log", spec.serve_timeout_s):
            evaluate_round(model, self.benchmark, folder / "eval", spec, trained)

    def synthesize(self, name: str, synthesizer: Synthesizer, counts: dict[str, int], seed: int,
                   bad_cases: dict[str, list[dict]], folder: Path) -> tuple[dict, Path]:
        """Write the synthesizer's input and run its ops and the recipe's over it; the curation's ledger and
        the folder of the samples it kept."""
        self.steps.run(f"{name}/synth", [folder / "synth"],
                       lambda: synthesizer.write_input(counts, seed, folder / "synth"))
        ops = [*synthesizer.ops(counts, bad_cases), *self.recipe.synthesis.ops]
        written = len(Pool([folder / "synth"]))
        if not ops or not written:
            return passthrough_ledger(written), folder / "synth"
        self.steps.run(f"{name}/curate", [], lambda: curate(folder / "synth", ops, folder / "curate", seed,
                                                            self.recipe.executor), keep=True)
        return read_json(folder / "curate" / "ledger.json"), folder / "curate" / "output"


def start(recipe: LoopRecipe, resume: bool) -> None:
    """Prepare `run_dir` for a new run, or check that a resumed one runs the same recipe."""
    root = Path(recipe.run_dir)
    stored = root / RECIPE_FILE
    text = yaml.safe_dump(recipe.model_dump(mode="json", exclude_none=True), sort_keys=False)
    if stored.exists() and not resume:
        raise LoopRunError(f"{root} already holds a loop run; resume it with --resume or choose a new run_dir")
    if stored.exists() and stored.read_text() != text:
        raise LoopRunError(f"{stored}: the recipe changed since the run started; restore it or use a new run_dir")
    write_atomic(stored, text.encode())


def run_loop(recipe: LoopRecipe, log: Callable[[str], None] = print, resume: bool = False) -> dict:
    """Run (or with `resume`, continue) every round of both arms; writes and returns `loop.json`'s content."""
    start(recipe, resume)
    run = _Run(recipe)
    pool = run.seed_pool()
    removed = read_json(run.root / "round_0" / "decontamination.json")
    log(f"round 0: training on {len(pool)} curated seed samples ({removed['removed']} removed as benchmark "
        f"contamination, {removed['turns_cut']} follow-up turns cut)")
    first = run.train_and_evaluate("round_0", lambda: list(pool), run.root / "round_0", None)
    log(f"round 0: overall accuracy {first.overall:.3f}")
    arms = ["loop", "baseline"] if recipe.baseline else ["loop"]
    state = {arm: (pool, first) for arm in arms}
    rounds = [_entry(0, arm, first, run.root / "round_0", {}, None) for arm in arms]
    weak = sorted(first.error_rates, key=lambda q: (-first.error_rates[q], q))[:3]
    synthesizer = make_synthesizer(recipe, pool)
    qtypes = sorted(q for q in first.per_qtype if q in synthesizer.qtypes)
    for r in range(1, recipe.rounds + 1):
        for arm in arms:
            arm_pool, last = state[arm]
            counts = _allocation(recipe, arm, r, last, qtypes)
            name, folder = f"{arm}/round_{r}", run.root / arm / f"round_{r}"
            round_seed = recipe.seed + ROUND_OFFSET * r
            ledger, kept = run.synthesize(name, synthesizer, counts, round_seed, last.bad_cases, folder)
            removed = run.decontaminate(name, Pool([kept]), folder / "added", folder)
            added_pool = Pool([folder / "added"])
            previous = run.root / "round_0" if r == 1 else run.root / arm / f"round_{r - 1}"
            init = previous / "ckpt" if recipe.train.warm_start else None
            training = partial(replay_pool, arm_pool, added_pool, recipe.train.replay, round_seed)
            evaluation = run.train_and_evaluate(name, training, folder, init)
            state[arm] = (arm_pool.plus(folder / "added"), evaluation)
            added = Counter(added_pool.column("qtype"))
            rounds.append(_entry(r, arm, evaluation, folder, added,
                                 funnel(sum(counts.values()), ledger, removed["removed"], len(added_pool))))
            log(f"round {r} {arm}: asked {sum(counts.values())}, added {len(added_pool)}, overall accuracy "
                f"{evaluation.overall:.3f}")
    result = {"rounds": rounds, "weak_qtypes": weak}
    write_json(run.root / "loop.json", result)
    return result


def _allocation(recipe: LoopRecipe, arm: str, r: int, last: Evaluation, qtypes: list[str]) -> dict[str, int]:
    if arm != "loop":
        return uniform_allocation(qtypes, recipe.synthesis.budget)
    error_rates = {q: e for q, e in last.error_rates.items() if q in qtypes}
    bad_case_counts = {q: len(c) for q, c in last.bad_cases.items()}
    return adaptive_bad_case_allocation(error_rates, bad_case_counts, recipe.synthesis.budget,
                                        seed=recipe.seed * 1_000 + r, min_bad_cases=recipe.synthesis.min_bad_cases)


def _entry(round_index: int, arm: str, evaluation: Evaluation, folder: Path, added: dict[str, int],
           counts: dict[str, int] | None) -> dict:
    """A round of an arm in `loop.json`; `train_loss` is the last logged loss of its training (None when
    its trainer logs none)."""
    entry = {"round": round_index, "arm": arm, "overall": round(evaluation.overall, 4),
             "per_qtype": {q: round(a, 4) for q, a in sorted(evaluation.per_qtype.items())},
             "added": dict(sorted(added.items())), "train_loss": read_trained(folder)["train_loss"]}
    return entry if counts is None else {**entry, "funnel": counts}
