"""The embedded world's throughput and legibility.

    .venv/bin/python benchmarks/world.py [--n 50000] [--workers 2] [--ocr 100]

Prints rendering throughput (samples/s, serial and with a process pool; goal: 50k samples in under
2 minutes on 2 cores), labelled-noise injection time, and how often RapidOCR reads the word of an
`ocr` image exactly (goal: >= 95% of 100).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from synthloop.images import decode
from synthloop.lab.world import generate, iter_generate, noise


def throughput(n: int, workers: int) -> float:
    start = time.perf_counter()
    count = sum(1 for _ in iter_generate(n, seed=0, workers=workers))
    elapsed = time.perf_counter() - start
    print(f"render {count} samples, {workers} worker(s): {elapsed:.1f} s = {count / elapsed:.0f} samples/s")
    return elapsed


def ocr_accuracy(n: int) -> float:
    from rapidocr_onnxruntime import RapidOCR

    engine = RapidOCR()
    samples = generate(n, mix={"ocr": 1.0}, seed=123)
    right, start = 0, time.perf_counter()
    for s in samples:
        result, _ = engine(np.asarray(decode(s["images"][0]["bytes"])))
        read = re.sub("[^a-z]", "", "".join(text for _, text, _ in result or []).lower())
        right += read == s["meta"]["answer"]
    print(f"rapidocr reads {right}/{n} ocr words exactly ({100 * right / n:.1f}%), "
          f"{(time.perf_counter() - start) / n:.2f} s/image")
    return right / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=50_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--ocr", type=int, default=100, help="ocr samples to read (0 skips)")
    args = parser.parse_args()

    throughput(min(args.n, 5_000), 1)
    elapsed = throughput(args.n, args.workers)
    print(f"goal 50k in < 120 s: {'met' if args.n >= 50_000 and elapsed < 120 else 'not shown by this run'}")
    samples = generate(10_000, seed=1)
    start = time.perf_counter()
    noisy = noise.inject(samples, rate=0.1, seed=0)
    print(f"inject 10% noise into {len(samples)} samples: {time.perf_counter() - start:.2f} s "
          f"({sum(1 for s in noisy if s['meta'].get('noise'))} labelled)")
    if args.ocr:
        ocr_accuracy(args.ocr)


if __name__ == "__main__":
    main()
