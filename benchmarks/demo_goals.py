"""Does curation pay? TinyVLM trained on the curated pool vs on the raw noisy pool, same number of steps.

Builds the demo's noisy seed pool and curates it exactly as `synthloop demo` does (or reuses
`--out DIR` from an earlier demo run), then trains two models with identical settings, seed and
step count: one on the curated pool, one on a seeded random subset of the raw noisy pool of the
same size (what you get without curation under the same budget). Both pools are decontaminated
against the benchmark first, as the loop does, so the curated model is the demo's round 0: with
`--out` of a demo run, its evaluation is read from `loop/round_0` instead of trained again. Both are
evaluated on the world benchmark; prints overall and per-qtype accuracy and the gain.

    .venv/bin/python benchmarks/demo_goals.py [--out runs/demo]
"""

from __future__ import annotations

import argparse
import os
import random
import time
from pathlib import Path

import orjson

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from synthloop.formats.parquet import read_samples  # noqa: E402
from synthloop.lab import demo  # noqa: E402
from synthloop.loop.decontaminate import BenchmarkIndex, decontaminate  # noqa: E402
from synthloop.loop.recipe import TrainSpec  # noqa: E402
from synthloop.loop.round_parts import Evaluation, load_pool, read_bad_cases, train_and_evaluate  # noqa: E402
from synthloop.sample import SampleError, validate_sample  # noqa: E402


def _valid(sample: dict) -> bool:
    try:
        validate_sample(sample)
    except SampleError:
        return False
    return True


def demo_round_0(folder: Path) -> Evaluation:
    """The evaluation of a demo's round 0: the model trained on the same curated pool, settings and seed."""
    results = orjson.loads((folder / "eval" / "results.json").read_bytes())
    print(f"curated: the demo's round 0 in {folder}")
    return Evaluation(results["overall"], results["per_qtype"], read_bad_cases(folder / "eval"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/demo_goals"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    started = time.perf_counter()
    if not (args.out / "curate" / "output").is_dir():
        demo.build_seed_pool(args.out / "pool", args.seed)
        demo.curate_pool(args.out / "pool", args.out / "curate", args.seed)
    recipe = demo.loop_recipe(args.out / "curate" / "output", args.out / "goals", args.seed)
    benchmark = load_pool(recipe.benchmark, args.seed, benchmark=True)
    index = BenchmarkIndex(benchmark)
    curated, _ = decontaminate(list(read_samples(args.out / "curate" / "output")), index)
    # "Raw" is every sample that meets the canonical contract (what any loader accepts): the trainer
    # cannot take a sample whose <image> count differs from its images.
    raw, _ = decontaminate([s for s in read_samples(args.out / "pool") if _valid(s)], index)
    raw_subset = random.Random(args.seed).sample(raw, len(curated))
    spec = TrainSpec.model_validate(demo.TRAIN)
    noisy_in_raw = sum(1 for s in raw_subset if s["meta"].get("noise"))
    print(f"pool {len(raw)} samples; curated {len(curated)}; raw subset {len(raw_subset)} "
          f"({noisy_in_raw} of them labelled noisy); benchmark {len(benchmark)}")
    results = {}
    round_0 = args.out / "loop" / "round_0"
    for name, pool in (("curated", curated), ("raw", raw_subset)):
        if name == "curated" and (round_0 / "eval" / "results.json").is_file():
            results[name] = demo_round_0(round_0)
        else:
            results[name] = train_and_evaluate(pool, benchmark, args.out / "goals" / name, spec, args.seed)
        print(f"{name:8s} overall {results[name].overall:.3f}  " + "  ".join(
            f"{q} {a:.2f}" for q, a in sorted(results[name].per_qtype.items())), flush=True)
    gain = results["curated"].overall - results["raw"].overall
    print(f"curated - raw (same steps): {gain:+.3f} overall accuracy; {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
