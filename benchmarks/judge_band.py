"""Genixer's claim on our world: does keeping the judge's medium band help, at an equal training budget?

    PYTHONPATH=src .venv/bin/python benchmarks/judge_band.py [--pool 4000] [--budget 3000] [--epochs 8] [--seeds 0 1 2]

A pool of the demo's kind of world conversations (4 turns, every follow-up family:
`world_judge.scenes`) with the world's wrong-answer noise (a generator's mistakes, 15 % of the
conversations, one turn each) is scored by the packaged world judge (`synthloop.lab.world_judge`) as
the demo's curation scores it: every turn, a conversation scoring as its least likely turn. Four arms
keep from it: `band` P(Yes) in [0.5, 0.7] (Genixer's Fuyu band), `p>0.5` P(Yes) > 0.5, `top` the
highest scores, and `unjudged` a random draw. Each arm trains TinyVLM with the settings of the demo's
round 0 (`lab.demo.TRAIN`: width 128, grounding and referent losses, batch 32) on exactly `--budget`
samples (an arm that kept fewer repeats its samples, so every arm sees the same number of samples) for
`--epochs`, once per training seed, and is scored on the world benchmark (the demo's benchmark at seed
0). Prints the kept share, the share of wrong answers among what each arm trains on, and benchmark
accuracy per seed and on average.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path
from statistics import mean, pstdev

import numpy as np

import synthloop.lab.probes  # noqa: F401  (registers the auxiliary losses the demo's TRAIN names)
from synthloop.evaluate.runner import evaluate
from synthloop.lab import world, world_judge
from synthloop.lab.demo import TRAIN
from synthloop.models.tinyvlm.checkpoint import load_checkpoint
from synthloop.ops.base import Batch
from synthloop.ops.filters.judge import Judge
from synthloop.train.trainer import train

POOL_SEED = 7_000_002  # none of the demo's pools, the judge's training or its held-out scenes


def kept_by_rule(samples: list[dict], scores: np.ndarray, budget: int) -> dict[str, list[dict]]:
    """What each keep rule keeps of the judged pool (`top scores`: the `budget` highest)."""
    return {"unjudged": list(samples),
            "band [0.5, 0.7]": [s for s, p in zip(samples, scores) if 0.5 <= p <= 0.7],
            "P(Yes) > 0.5": [s for s, p in zip(samples, scores) if p > 0.5],
            "top scores": [samples[i] for i in np.argsort(-scores, kind="stable")[:budget]]}


def arms(kept: dict[str, list[dict]], budget: int, seed: int) -> dict[str, list[dict]]:
    """Each rule's samples in a seeded order, cut or repeated to exactly `budget` samples."""
    rng = random.Random(seed)
    out = {}
    for name, samples in kept.items():
        order = rng.sample(samples, len(samples))
        out[name] = [order[k % len(order)] for k in range(budget)] if order else []
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pool", type=int, default=4000, help="world samples judged")
    parser.add_argument("--budget", type=int, default=3000, help="training samples per arm")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--bench", type=int, default=800)
    parser.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2])
    parser.add_argument("--arms", nargs="*", default=None, help="only these arms (by first word: unjudged band P(Yes) top)")
    args = parser.parse_args()

    mix = dict.fromkeys(world_judge.QTYPES, 1.0)
    pool = world.noise.inject(world_judge.scenes(args.pool, POOL_SEED), rate=0.15, seed=POOL_SEED,
                              kinds=("wrong_answer",))
    Judge(model=world_judge.MODEL_URI, low=0.0, high=1.0, turns="all").process(Batch(pool))
    scores = np.array([s["scores"]["judge_p"] for s in pool])
    bench = world.benchmark(args.bench, seed=0, mix=mix, workers=2)
    kept = kept_by_rule(pool, scores, args.budget)
    print(f"pool {len(pool)} samples, {sum(s['meta'].get('noise') == 'wrong_answer' for s in pool)} wrong; "
          f"judge threshold {world_judge.threshold():.3f}; in the band {sum(0.5 <= p <= 0.7 for p in scores)}, "
          f"P(Yes) > 0.5 {int((scores > 0.5).sum())}")
    edges = [0.0, 0.0034, 0.1, 0.3, 0.5, 0.7, 0.9, 0.99, 1.0001]
    print("scores: " + ", ".join(f"[{lo:g}, {min(hi, 1):g}) {int(((scores >= lo) & (scores < hi)).sum())}"
                                 for lo, hi in zip(edges, edges[1:])))
    results: dict[str, list[float]] = {}
    wrong_share: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            for name, chosen in arms(kept, args.budget, seed).items():
                if not chosen or (args.arms and name.split()[0] not in args.arms):
                    continue
                start = time.perf_counter()
                wrong_share[name] = mean(s["meta"].get("noise") == "wrong_answer" for s in chosen)
                folder = Path(tmp) / f"{seed}_{len(results.get(name, []))}_{name[:4]}"
                checkpoint = train(chosen, folder, stage=TRAIN["stage"], epochs=args.epochs,
                                   global_batch_size=TRAIN["global_batch_size"], seed=seed, show_progress=False,
                                   **TRAIN["settings"])
                accuracy = evaluate(load_checkpoint(checkpoint), bench, max_new_tokens=16)["overall"]
                results.setdefault(name, []).append(accuracy)
                print(f"seed {seed} {name}: benchmark overall {accuracy:.3f} ({time.perf_counter() - start:.0f} s)",
                      flush=True)
    print(f"\n| arm | distinct kept of {len(pool)} | wrong share trained on | "
          + " | ".join(f"seed {s}" for s in args.seeds) + " | mean +- sd |")
    print("|---|---|---|" + "---|" * (len(args.seeds) + 1))
    for name, accuracies in results.items():
        print(f"| {name} | {len(kept[name])} | {wrong_share[name]:.3f} | "
              + " | ".join(f"{a:.3f}" for a in accuracies) + f" | {mean(accuracies):.3f} +- {pstdev(accuracies):.3f} |")


if __name__ == "__main__":
    main()
