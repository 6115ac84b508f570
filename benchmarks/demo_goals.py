"""Does curation pay? TinyVLM trained on the curated pool vs on the raw noisy pool, same number of steps.

Builds the demo's noisy seed pool and curates it exactly as `synthloop demo` does (or reuses
`--out DIR` from an earlier demo run), then trains two models with identical settings, seed and
step count: one on the curated pool, one on a seeded random subset of the raw noisy pool of the
same size (what you get without curation under the same budget). Both are evaluated on the world
benchmark; prints overall and per-qtype accuracy and the gain.

    .venv/bin/python benchmarks/demo_goals.py [--out runs/demo]
"""

from __future__ import annotations

import argparse
import os
import random
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from synthloop import demo  # noqa: E402
from synthloop.formats.parquet import read_samples  # noqa: E402
from synthloop.loop.recipe import TrainSpec  # noqa: E402
from synthloop.loop.rounds import load_pool, train_and_evaluate  # noqa: E402
from synthloop.sample import SampleError, validate_sample  # noqa: E402


def _valid(sample: dict) -> bool:
    try:
        validate_sample(sample)
    except SampleError:
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/demo_goals"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    started = time.perf_counter()
    if not (args.out / "curate" / "output").is_dir():
        demo.build_seed_pool(args.out / "pool", args.seed)
        demo.curate_pool(args.out / "pool", args.out / "curate", args.seed)
    curated = list(read_samples(args.out / "curate" / "output"))
    # "Raw" is every sample that meets the canonical contract (what any loader accepts): the trainer
    # cannot take a sample whose <image> count differs from its images.
    raw = [s for s in read_samples(args.out / "pool") if _valid(s)]
    raw_subset = random.Random(args.seed).sample(raw, len(curated))
    recipe = demo.loop_recipe(args.out / "curate" / "output", args.out / "goals", args.seed)
    benchmark = load_pool(recipe.benchmark, args.seed, benchmark=True)
    spec = TrainSpec.model_validate(demo.TRAIN)
    noisy_in_raw = sum(1 for s in raw_subset if s["meta"].get("noise"))
    print(f"pool {len(raw)} samples; curated {len(curated)}; raw subset {len(raw_subset)} "
          f"({noisy_in_raw} of them labelled noisy); benchmark {len(benchmark)}")
    results = {}
    for name, pool in (("curated", curated), ("raw", raw_subset)):
        results[name] = train_and_evaluate(pool, benchmark, args.out / "goals" / name, spec, args.seed)
        print(f"{name:8s} overall {results[name].overall:.3f}  " + "  ".join(
            f"{q} {a:.2f}" for q, a in sorted(results[name].per_qtype.items())), flush=True)
    gain = results["curated"].overall - results["raw"].overall
    print(f"curated - raw (same steps): {gain:+.3f} overall accuracy; {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
