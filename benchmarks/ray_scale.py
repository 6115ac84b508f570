"""The Ray executor at scale on this machine: local versus Ray, two-node equality, driver memory of
the dedup resolves.

    .venv/bin/python benchmarks/ray_scale.py --n 100000
    .venv/bin/python benchmarks/ray_scale.py --n 20000 --skip-two-node
    .venv/bin/python benchmarks/ray_scale.py --n 20000 --resolve-only [--dedup text_minhash_dedup]

1. `benchmarks/curate.py`'s data and recipe (recipes/curate.yaml: filters, exact, near and MinHash
   dedup) at N, run by `synthloop run` with the local executor (`--workers` processes) and with the
   Ray executor on a Ray it starts on this machine (all its cores): wall time, their ratio (goal:
   Ray within 1.25x), the load average beside it, peak RSS of the driver and of each other process
   of the run (workers; Ray's own daemons under Ray, the fork server locally).
2. The same recipe at `--two-node-n` on a two-node cluster (`ray.cluster_utils.Cluster`, one CPU per
   node): output, audit files and ledger compared with the local run's, byte for byte.
3. Driver memory of the dedup resolves: stage 0's global ops resolved again, alone, in a fresh
   process over the local run's key parts, at N/4 and N samples, with the work that reads every row
   (`ops.workers`: the id check, the keys' bucket hashes, the removed parts) in that process and in
   the tasks of a local Ray; the driver's Python and numpy allocations (tracemalloc) plus Arrow's
   memory pool at their peaks, in bytes per sample.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import orjson
import psutil
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from curate import build_dataset, synthloop_recipe  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
SYNTHLOOP = str(Path(sys.executable).with_name("synthloop"))

RESOLVE = """
import functools, sys, tracemalloc
import pyarrow as pa
from synthloop.engine.executors import executor_class
from synthloop.engine.recipe import Recipe
from synthloop.engine.plan import plan_stages
from synthloop.engine.resolve import resolve_stage
from synthloop.engine.rundir import RunDir, read_json
from synthloop.engine.worker import Worker
recipe = Recipe.from_yaml(sys.argv[1])
rundir, ops = RunDir(recipe), recipe.build_ops()
stage = plan_stages(ops)[0]
shards = read_json(rundir.input_marker)["shards"]
rows = sum(read_json(rundir.done_marker(0, j))["kept"] for j in range(shards))
executor = None
if sys.argv[2] == "ray":
    spec = executor_class("ray").spec_class(kind="ray", object_store_mb=300)
    executor = executor_class("ray")(spec, functools.partial(Worker, ops, rundir, 256), [])
resolve_stage(rundir, stage, ops, shards, recipe.seed, executor)  # once untraced: imports and caches warm
pool = pa.proxy_memory_pool(pa.default_memory_pool())  # its own peak
pa.set_memory_pool(pool)
tracemalloc.start()
resolve_stage(rundir, stage, ops, shards, recipe.seed, executor)  # writes the same files again
python_peak = tracemalloc.get_traced_memory()[1]
print(rows, python_peak, pool.max_memory())
"""


def recipe_for(work: Path, llava: Path, workers: int, executor: dict, dedup: str | None = None) -> Path:
    """recipes/curate.yaml on `llava` with this executor (and of its dedups only `dedup`, when given)."""
    path = synthloop_recipe(REPO / "recipes" / "curate.yaml", work, llava, workers)
    recipe = yaml.safe_load(path.read_text())
    recipe["executor"] = {**{k: v for k, v in recipe["executor"].items() if k != "workers"}, **executor}
    if dedup:
        recipe["ops"] = [op for op in recipe["ops"] if "dedup" not in next(iter(op)) or dedup in op]
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return path


def run_measured(name: str, n: int, recipe: Path, log: Path) -> float:
    subprocess.run(["rm", "-rf", str(recipe.parent / "out"), str(recipe.parent / "run")], check=True)
    start = time.perf_counter()
    with log.open("wb") as sink:
        process = psutil.Popen([SYNTHLOOP, "run", str(recipe)], stdout=sink, stderr=subprocess.STDOUT)
        peaks = process_peaks(process)
    seconds = time.perf_counter() - start
    driver = peaks.pop(process.pid)[1]
    others = sorted(peaks.values(), key=lambda peak: -peak[1])
    status = "" if process.returncode == 0 else f"  (FAILED, exit {process.returncode}; see {log})"
    print(f"{name:22s} {seconds:7.1f} s  {n / seconds:7.0f} samples/s  load {os.getloadavg()[0]:4.1f}  peak RSS: driver "
          f"{driver / 2**20:5.0f} MiB; each other process (MiB): "
          f"{', '.join(f'{title} {rss / 2**20:.0f}' for title, rss in others)}{status}", flush=True)
    return seconds


def process_peaks(process: psutil.Popen) -> dict[int, tuple[str, int]]:
    """Until `process` exits: per pid of it and its descendants, (title, peak RSS). A Ray worker's title
    is what it last ran (`ray::_run_segment`, `ray::_SegmentActor`), not `ray::IDLE`; the venv's path
    is left out."""
    peaks: dict[int, tuple[str, int]] = {}
    while process.poll() is None:
        try:
            family = [process, *process.children(recursive=True)]
        except psutil.Error:
            continue
        for member in family:
            try:
                rss, words = member.memory_info().rss, member.cmdline()
            except psutil.Error:
                continue
            title = " ".join(" ".join(Path(word).name if "/" in word else word for word in words[:3]).split())[:40]
            known, peak = peaks.get(member.pid, (title, 0))
            peaks[member.pid] = (known if title == "ray::IDLE" else title, max(peak, rss))
        time.sleep(0.05)
    return peaks


def files(root: Path) -> dict[str, bytes]:
    found = {str(p.relative_to(root)): p.read_bytes() for sub in ("out", "run") for p in (root / sub).rglob("*")
             if p.is_file() and p.name not in ("recipe.yaml", "recipe.hash")}  # they name the run's own paths
    ledger = orjson.loads(found.pop("run/ledger.json"))
    found["ledger"] = orjson.dumps({k: v for k, v in ledger.items() if not k.endswith("_path")})
    return found


def two_node(work: Path, n: int, workers: int) -> None:
    import ray
    from ray.cluster_utils import Cluster

    llava, _ = build_dataset(work / f"data-{n}", n)
    local = recipe_for(work / "two-local", llava, workers, {"kind": "local", "workers": workers})
    subprocess.run(["rm", "-rf", str(local.parent / "out"), str(local.parent / "run")], check=True)
    subprocess.run([SYNTHLOOP, "run", str(local)], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    cluster.add_node(num_cpus=1)
    try:
        remote = recipe_for(work / "two-ray", llava, workers, {"kind": "ray", "address": cluster.address})
        subprocess.run(["rm", "-rf", str(remote.parent / "out"), str(remote.parent / "run")], check=True)
        start = time.perf_counter()
        subprocess.run([SYNTHLOOP, "run", str(remote)], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        seconds = time.perf_counter() - start
    finally:
        ray.shutdown()
        cluster.shutdown()
    mine, theirs = files(local.parent), files(remote.parent)
    differ = sorted(name for name in mine.keys() | theirs.keys() if mine.get(name) != theirs.get(name))
    print(f"two-node cluster, n={n:,}: {len(mine)} files (output, audit, stages, ledger) compared with the local "
          f"run's: {'all identical' if not differ else f'{len(differ)} differ, e.g. {differ[:3]}'} ({seconds:.0f} s, "
          f"load {os.getloadavg()[0]:.1f})")


def resolve_memory(work: Path, n: int, workers: int, dedup: str | None) -> None:
    """Peak driver memory of stage 0's resolves at N/4 and N; the growth between them per sample is
    what N samples cost beyond fixed overheads (flat in N: the same at both sizes' slope)."""
    measured: dict[str, list[tuple[int, int]]] = {"driver": [], "ray": []}
    for size in (n // 4, n):
        llava, _ = build_dataset(work / f"data-{size}", size)
        recipe = recipe_for(work / f"resolve-{size}-{dedup or 'all'}", llava, workers,
                            {"kind": "local", "workers": workers}, dedup)
        subprocess.run(["rm", "-rf", str(recipe.parent / "out"), str(recipe.parent / "run")], check=True)
        subprocess.run([SYNTHLOOP, "run", str(recipe)], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for where, results in measured.items():
            out = subprocess.run([sys.executable, "-c", RESOLVE, str(recipe), where], capture_output=True, text=True)
            if out.returncode:
                sys.exit(f"the resolve on {where} failed:\n{out.stderr[-3000:]}")
            rows, python_peak, arrow_peak = map(int, out.stdout.split()[-3:])
            results.append((rows, python_peak + arrow_peak))
            print(f"dedup resolves, {'rows read on Ray' if where == 'ray' else 'rows read in the driver':23s} {rows:7,} "
                  f"samples: driver peak {python_peak / 2**20:6.1f} MiB Python/numpy + {arrow_peak / 2**20:5.1f} MiB "
                  f"Arrow = {(python_peak + arrow_peak) / rows:5.0f} bytes/sample (load {os.getloadavg()[0]:.1f})",
                  flush=True)
    for where, ((small, small_peak), (large, large_peak)) in measured.items():
        slope = (large_peak - small_peak) / (large - small)
        print(f"  {where}: {slope:.0f} bytes per added sample from {small:,} to {large:,} "
              f"(100M samples: {slope * 1e8 / 2**30:.1f} GiB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--two-node-n", type=int, default=4000)
    parser.add_argument("--workers", type=int, default=2, help="local worker processes; CPUs of the Ray run")
    parser.add_argument("--work", type=Path, default=Path("/tmp/synthloop-ray-bench"))
    parser.add_argument("--skip-two-node", action="store_true")
    parser.add_argument("--resolve-only", action="store_true", help="only part 3, the driver memory")
    parser.add_argument("--dedup", choices=["exact_dedup", "image_near_dedup", "text_minhash_dedup"],
                        help="part 3 with only this one of the recipe's dedups")
    args = parser.parse_args()
    if args.resolve_only:
        resolve_memory(args.work, args.n, args.workers, args.dedup)
        return

    llava, _ = build_dataset(args.work / f"data-{args.n}", args.n)
    local = recipe_for(args.work / "local", llava, args.workers, {"kind": "local", "workers": args.workers})
    on_ray = recipe_for(args.work / "ray", llava, args.workers, {"kind": "ray", "object_store_mb": 512})
    local_s = run_measured("local executor", args.n, local, args.work / "local.log")
    ray_s = run_measured("ray executor, one node", args.n, on_ray, args.work / "ray.log")
    print(f"wall time ratio ray / local at n={args.n:,}: {ray_s / local_s:.2f}x (goal: 1.25x)")
    if not args.skip_two_node:
        two_node(args.work, args.two_node_n, args.workers)
    resolve_memory(args.work, args.n, args.workers, args.dedup)


if __name__ == "__main__":
    main()
