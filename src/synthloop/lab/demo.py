"""`synthloop demo`: from a noisy pool to a better model, with proof, on the embedded default.

1. Seed pool: rendered world samples + real easy-vqa samples, with labelled noise injected.
2. Curation with the engine: pure-compute filters, the scene judge on every turn of every sample
   (`lab/scene_judge/`: learned perception and the world's grammar, and its held-out threshold), exact and near-duplicate
   removal, then a stratified selection under a budget. The filters' precision and recall on the noise labels go to
   `curation.json`; the curated pool is also written as DataOptim submissions (id list and BYOD JSON).
3. The closed loop on the curated pool: round 0 trains TinyVLM and evaluates on the world benchmark,
   then 2 rounds of targeted synthesis beside a uniform baseline arm with the same budget.
4. `report.html` over the whole run directory.

The sizes below are chosen so the whole demo runs in at most 10 minutes on 2 CPU cores.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import orjson
import pyarrow.parquet as pq

import synthloop.lab.loop_world  # noqa: F401  (registers the world pools and synthesizer the loop recipe names)
import synthloop.lab.probes  # noqa: F401  (registers the auxiliary losses TRAIN names)
from synthloop.formats.parquet import parquet_files, read_samples, write_samples
from synthloop.loop.recipe import LoopRecipe
from synthloop.loop.rounds import run_loop
from synthloop.ops import op_class
from synthloop.ops.base import Selector

QTYPES = ("exist", "count", "color", "shape", "position", "size", "relation", "ocr")
WORLD_SAMPLES = 8000
EASY_VQA_SAMPLES = 300
NOISE_RATE = 0.15
CURATED_BUDGET = 6000
BENCHMARK_SAMPLES = 1200
SYNTHESIS_BUDGET = 600
ROUNDS = 2
# Seed-pool scenes come with 3 follow-up questions each, from every family that can be asked of a built
# scene: with position, relation and size among them (not only exist, count, colour and shape), position
# went from 0.58 to 0.93 at round 0. Synthesized samples ask only their targeted question, so the
# loop's allocation is all that differs between arms.
WORLD_TURNS = 4
WORLD_FOLLOW_UPS = ("exist", "count", "color", "shape", "position", "relation", "size")
SYNTHESIS_TURNS = 1
# The model of benchmarks/tinyvlm_world.py at width 128 (frozen EfficientNet-Lite0 features, image tokens
# for non-background cells only, the grounding probes and referent attention on the scenes' objects) with
# its cells' positions given from the start (position, relation and size need them). Round 0 trains from
# scratch on the curated pool; each later round continues from its arm's previous checkpoint, so both
# arms build on round 0 instead of relearning it, over the round's new data plus a replayed draw of the
# arm's pool (4 times its size), which keeps what round 0 learnt while a fifth of what the round trains
# on is the arm's own new data.
TRAIN = {"stage": "2", "epochs": 12, "global_batch_size": 32, "warm_start": True, "warm_start_epochs": 3,
         "replay": 4 * SYNTHESIS_BUDGET,
         "settings": {"vision": "efficientnet-lite0", "drop_background": True, "image_pos_scale": 1.0,
                      "aux_losses": {"grounding": {"weight": 1.0}, "referents": {"weight": 1.0, "mentions": 2}}}}

OUTPUTS = ("pool", "curate", "dataoptim", "loop", "curation.json", "report.html")
FILTERS = [
    {"image_decodable": {}},
    {"image_token_match": {}},
    {"answer_nonempty": {}},
    {"image_size": {"min_side": 32}},
    {"exact_dedup": {"on": "both"}},
    # a duplicate is a near-same image with the same conversation: distinct rendered scenes collide in pHash
    # above 1 bit, re-encoded and cropped copies move up to 12 (docs/experiments.md)
    {"image_near_dedup": {"max_hamming": 12}},
]


def build_seed_pool(folder: Path, seed: int) -> list[dict]:
    """World + easy-vqa samples with labelled noise (each noisy sample says in `meta` what was done)."""
    from synthloop.lab import world

    samples = world.generate(WORLD_SAMPLES, mix={q: 1.0 for q in QTYPES}, seed=seed, turns=WORLD_TURNS,
                             follow_up_qtypes=WORLD_FOLLOW_UPS)
    samples += world.packaged.easy_vqa(n=EASY_VQA_SAMPLES, seed=seed)
    noisy = world.noise.inject(samples, rate=NOISE_RATE, seed=seed)
    write_samples(noisy, folder)
    return noisy


def curation_ops() -> list[dict]:
    """The curation's filters: FILTERS with the packaged scene judge after the pure-compute checks,
    keeping samples whose least likely turn scores at least the judge's held-out threshold."""
    from synthloop.lab.scene_judge import judge as scene_judge

    judge = {"judge": {"model": scene_judge.URI, "turns": "all", "low": scene_judge.threshold(), "high": 1.0}}
    return [*FILTERS[:4], judge, *FILTERS[4:], {"stratified": {"by": "qtype", "budget": CURATED_BUDGET}}]


def _removed_by_filters(run_dir: Path, ops: list[dict]) -> list[str]:
    """Ids the filters and dedups removed (dropped or quarantined), not those the selector left out."""
    selectors = {name for entry in ops for name in entry if issubclass(op_class(name), Selector)}
    removed = []
    for folder in (run_dir / "dropped", run_dir / "quarantine"):
        for file in parquet_files(folder) if folder.is_dir() else []:
            table = pq.read_table(file, columns=["id", "op"])
            removed += [i for i, op in zip(table["id"].to_pylist(), table["op"].to_pylist()) if op not in selectors]
    return removed


def curate_pool(pool_dir: Path, run_dir: Path, seed: int) -> tuple[Path, dict]:
    """Run the curation recipe with the engine; (curated output folder, filter precision/recall)."""
    from synthloop import engine
    from synthloop.lab import world
    from synthloop.engine.recipe import Recipe

    ops = curation_ops()
    output = run_dir / "output"
    recipe = Recipe.model_validate({
        "inputs": [{"format": "parquet", "path": str(pool_dir.resolve())}], "ops": ops,
        "output": {"format": "parquet", "path": str(output.resolve())}, "run_dir": str(run_dir.resolve()),
        "executor": {"workers": 1, "batch_size": 256}, "seed": seed})
    ledger = engine.run(recipe, progress=False)
    samples = list(read_samples(pool_dir))
    removed = _removed_by_filters(run_dir, ops)
    removed_set = set(removed)
    kept_by_filters = [s["id"] for s in samples if s["id"] not in removed_set]
    scores = world.noise.score_filter(samples, kept_by_filters, removed)
    # `removed` counts what the filters and dedups removed; `curated` is what the selector then kept.
    curation = {**scores, "curated": ledger["output"]}
    return output, curation


def write_dataoptim(curated: Path, folder: Path) -> None:
    """The curated pool as DataOptim submissions: the standard id list and BYOD (full LLaVA JSON)."""
    from synthloop.formats import dataoptim, llava
    from synthloop.formats.common import raise_on_bad

    samples = list(read_samples(curated))
    dataoptim.write(samples, folder / "ids.txt", raise_on_bad)
    # Images with bytes are written beside the JSON (not referred to by their source path): self-contained.
    for sample in samples:
        sample["images"] = [{**im, "path": None} if im.get("bytes") else im for im in sample["images"]]
    llava.write(samples, folder / "byod.json", raise_on_bad)


def loop_recipe(curated: Path, run_dir: Path, seed: int) -> LoopRecipe:
    return LoopRecipe.model_validate({
        "run_dir": str(run_dir), "seed": seed, "seed_pool": {"path": str(curated)},
        "benchmark": {"world": BENCHMARK_SAMPLES, "mix": {q: 1.0 for q in QTYPES}},
        "synthesis": {"synthesizer": {"turns": SYNTHESIS_TURNS}, "budget": SYNTHESIS_BUDGET, "ops": FILTERS},
        "rounds": ROUNDS, "baseline": True,
        "train": TRAIN})


def run_demo(out: Path, seed: int = 0, log: Callable[[str], None] = print) -> dict:
    """Run every step into `out`; returns the summary that is printed."""
    from synthloop.report import write_report

    for owned in OUTPUTS:  # the demo owns these paths of its run directory: a rerun starts afresh
        path = out / owned
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    out.mkdir(parents=True, exist_ok=True)
    log(f"1/4 building a noisy seed pool ({WORLD_SAMPLES} world + {EASY_VQA_SAMPLES} easy-vqa, "
        f"{NOISE_RATE:.0%} labelled noise)")
    build_seed_pool(out / "pool", seed)
    log("2/4 curating it: filters, dedup, stratified selection under a budget")
    curated, curation = curate_pool(out / "pool", out / "curate", seed)
    (out / "curation.json").write_bytes(orjson.dumps(curation, option=orjson.OPT_INDENT_2))
    write_dataoptim(curated, out / "dataoptim")
    log("3/4 training TinyVLM and running the loop (2 rounds) beside the baseline arm")
    result = run_loop(loop_recipe(curated, out / "loop", seed), log=log)
    log("4/4 writing the report")
    report = write_report(out)
    return {"curation": curation, "rounds": result["rounds"], "weak_qtypes": result["weak_qtypes"],
            "report": str(report)}
