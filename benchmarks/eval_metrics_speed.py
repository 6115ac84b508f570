"""Throughput of the evaluation metrics and of the runner's scoring (no model): samples/s.

Run: .venv/bin/python benchmarks/eval_metrics_speed.py [N]
"""

from __future__ import annotations

import random
import sys
import time

from synthloop.evaluate.metrics import rec_accuracy, vqa_accuracy, vqa_accuracy_m4c
from synthloop.evaluate.multiple_choice import match_option
from synthloop.evaluate.runner import majority_baseline
from synthloop.sample import new_sample

WORDS = ["red", "blue", "two", "Yes.", "the cat", "1,000", "don't", "a dog", "3.5", "green/blue"]


def timed(name: str, n: int, fn) -> None:
    start = time.perf_counter()
    fn()
    seconds = time.perf_counter() - start
    print(f"{name:<28} {n / seconds:>12,.0f} samples/s")


def main(n: int = 100_000) -> None:
    rng = random.Random(0)
    predictions = [rng.choice(WORDS) for _ in range(n)]
    answers = [[rng.choice(WORDS) for _ in range(10)] for _ in range(n)]
    timed("vqa_accuracy", n, lambda: [vqa_accuracy(p, a) for p, a in zip(predictions, answers)])
    # Distinct texts defeat the normalisation cache: the uncached worst case.
    unique = [f"answer, {i}" for i in range(n)]
    timed("vqa_accuracy (all distinct)", n, lambda: [vqa_accuracy(p, [p] * 3 + ["x"] * 7) for p in unique])
    timed("vqa_accuracy_m4c", n, lambda: [vqa_accuracy_m4c(p, a) for p, a in zip(predictions, answers)])
    options = ["circle", "square", "triangle", "star"]
    replies = [rng.choice(["B", "(C)", "The answer is D.", "a square", "no idea"]) for _ in range(n)]
    timed("match_option", n, lambda: [match_option(r, options) for r in replies])
    boxes = [f"[{rng.random() / 2:.3f},{rng.random() / 2:.3f},{0.5 + rng.random() / 2:.3f},0.900]" for _ in range(n)]
    gold = [[0.1, 0.1, 0.8, 0.9]] * n
    timed("rec_accuracy", n, lambda: rec_accuracy(boxes, gold))
    samples = [new_sample(f"s{i}", [{"role": "user", "content": "q"}, {"role": "assistant", "content": w}],
                          task="vqa", qtype=w[:3], meta={"answers": a})
               for i, (w, a) in enumerate(zip(predictions, answers))]
    timed("majority_baseline (scoring)", n, lambda: majority_baseline(samples, samples))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
