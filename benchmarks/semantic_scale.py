"""Semantic dedup's engine resolve at scale: wall time in this process (the local executor's way) and
on a Ray started on this machine (its 2 CPUs), the same drops, and the driver's peak memory.

    PYTHONPATH=src nice -n 19 .venv/bin/python benchmarks/semantic_scale.py --n 20000 100000

The keys are what `semantic_dedup.key` writes (`same_image: drop`: no conversation digest) for
EfficientNet-Lite0 embeddings, 1,280 float16s per sample, drawn in clumps as embeddings of a mixed
pool are: n / 1,000 topic centres far apart, 25 subtopics around each topic on average, samples
around the subtopics, and one sample in ten a copy of an earlier one plus a little noise (so there
are duplicates to find). They are written as a stage's key parts of 2,048 rows (the default shard)
and resolved by `engine.resolve.resolve_stage`, each time in a fresh process: once untraced (the
wall time), then again with the driver's Python and numpy allocations (tracemalloc) and Arrow's
memory pool traced at their peaks. The removed parts of both runs are compared byte for byte. Per N:
the times, the drops, the driver's peak in bytes per sample and per drop; last, the growth per added
sample between the sizes (flat in N: only the drops and the k = N / 1,000 centroids grow).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import tracemalloc
from functools import partial
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pyarrow as pa

from synthloop.engine.executors import executor_class
from synthloop.engine.keys import key_table
from synthloop.engine.plan import plan_stages
from synthloop.engine.recipe import Recipe
from synthloop.engine.resolve import resolve_stage
from synthloop.engine.rundir import RunDir

DIM = 1280  # EfficientNet-Lite0's embedding
SHARD_ROWS = 2048


def keys(n: int, seed: int = 0) -> list[bytes]:
    rng = np.random.default_rng(seed)
    topics = 2 * rng.standard_normal((max(1, n // 1000), DIM), np.float32)
    subtopics = topics[rng.integers(len(topics), size=max(1, n // 40))]
    subtopics += rng.standard_normal(subtopics.shape, np.float32)
    vectors = subtopics[rng.integers(len(subtopics), size=n)] + 2 * rng.standard_normal((n, DIM), np.float32)
    copies = np.flatnonzero(rng.random(n) < 0.1)
    copies = copies[copies > 0]
    vectors[copies] = vectors[rng.integers(copies)] + 0.05 * rng.standard_normal((len(copies), DIM), np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return [vector.tobytes() for vector in vectors.astype(np.float16)]


def recipe(work: Path) -> Recipe:
    return Recipe.model_validate({
        "inputs": [{"format": "parquet", "path": str(work / "data")}],
        "ops": [{"semantic_dedup": {"same_image": "drop"}}],  # keys without the conversation digest
        "output": {"format": "parquet", "path": str(work / "out")}, "run_dir": str(work / "run"), "seed": 0})


def write_keys(work: Path, n: int) -> int:
    """The stage's key parts; their count."""
    rundir, ops = RunDir(recipe(work)), recipe(work).build_ops()
    stage = plan_stages(ops)[0]
    values = keys(n)
    parts = range(0, n, SHARD_ROWS)
    for j, lo in enumerate(parts):
        chunk = values[lo:lo + SHARD_ROWS]
        rundir.keys_part(stage.index, stage.global_ops[0], j).write_parquet(
            key_table([f"s{i:09d}" for i in range(lo, lo + len(chunk))], chunk))
    return len(parts)


def measure(work: Path, parts: int, where: str) -> None:
    """In this (fresh) process: the resolve's wall time, then its traced peaks; printed."""
    rundir, ops = RunDir(recipe(work)), recipe(work).build_ops()
    stage = plan_stages(ops)[0]
    executor = None
    if where == "ray":
        spec = executor_class("ray").spec_class(kind="ray", object_store_mb=2048)
        executor = executor_class("ray")(spec, partial(SimpleNamespace, ops=ops), [])
    start = time.perf_counter()
    counts = resolve_stage(rundir, stage, ops, parts, 0, executor)["ops"][str(stage.global_ops[0])]
    seconds = time.perf_counter() - start
    pool = pa.proxy_memory_pool(pa.default_memory_pool())  # its own peak
    pa.set_memory_pool(pool)
    tracemalloc.start()
    resolve_stage(rundir, stage, ops, parts, 0, executor)  # writes the same files again
    print(seconds, counts["dropped"], tracemalloc.get_traced_memory()[1], pool.max_memory())
    if executor:
        executor.close()


def removed(work: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((work / "run").rglob("removed/*.parquet"))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, nargs="+", default=[20_000, 100_000])
    parser.add_argument("--work", type=Path, default=Path("/tmp/synthloop-semantic-bench"))
    parser.add_argument("--measure", nargs=3, metavar=("WORK", "PARTS", "WHERE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(Path(args.measure[0]), int(args.measure[1]), args.measure[2])
        return
    peaks: dict[str, list[tuple[int, int]]] = {"here": [], "ray": []}
    for n in args.n:
        work = args.work / f"n{n}"
        subprocess.run(["rm", "-rf", str(work)], check=True)
        parts = write_keys(work, n)
        found = {}
        for where in peaks:
            out = subprocess.run([sys.executable, __file__, "--measure", str(work), str(parts), where],
                                 capture_output=True, text=True)
            if out.returncode:
                sys.exit(f"the resolve {where} failed:\n{out.stderr[-3000:]}")
            seconds, dropped, python_peak, arrow_peak = out.stdout.split()[-4:]
            peak = int(python_peak) + int(arrow_peak)
            peaks[where].append((n, peak))
            found[where] = removed(work)
            print(f"n={n:,} ({parts} parts), {'this process' if where == 'here' else '2-CPU Ray':12s}: resolve "
                  f"{float(seconds):6.1f} s, {int(dropped):,} dropped; driver peak {int(python_peak) / 2**20:6.1f} MiB "
                  f"Python/numpy + {int(arrow_peak) / 2**20:5.1f} MiB Arrow = {peak / n:6.0f} bytes/sample, "
                  f"{peak / int(dropped):6.0f} per drop (load {os.getloadavg()[0]:.1f})", flush=True)
        print(f"n={n:,}: removed parts identical here and on Ray: {found['here'] == found['ray']}", flush=True)
    for where, sizes in peaks.items():
        if len(sizes) > 1:
            (small, small_peak), (large, large_peak) = sizes[0], sizes[-1]
            slope = (large_peak - small_peak) / (large - small)
            print(f"{where}: {slope:.0f} bytes per added sample from {small:,} to {large:,} "
                  f"(100M samples: {slope * 1e8 / 2**30:.1f} GiB)")


if __name__ == "__main__":
    main()
