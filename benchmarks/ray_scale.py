"""The Ray executor at scale on this machine: local versus Ray, two-node equality, driver memory of
the dedup resolves.

    .venv/bin/python benchmarks/ray_scale.py --n 100000
    .venv/bin/python benchmarks/ray_scale.py --n 20000 --skip-two-node

1. `benchmarks/curate.py`'s data and recipe (recipes/curate.yaml: filters, exact, near and MinHash
   dedup) at N, run by `synthloop run` with the local executor (`--workers` processes) and with the
   Ray executor on a Ray it starts on this machine (all its cores): wall time, their ratio (goal:
   Ray within 1.25x), peak RSS of the driver and of the largest other process (a worker; Ray's own
   daemons count too).
2. The same recipe at `--two-node-n` on a two-node cluster (`ray.cluster_utils.Cluster`, one CPU per
   node): output, audit files and ledger compared with the local run's, byte for byte.
3. Driver memory of the dedup resolves: the stage's global ops resolved again, alone, in a fresh
   process over the local run's key parts, at N/4 and N samples; Python and numpy allocations
   (tracemalloc) plus Arrow's memory pool at their peaks, in bytes per sample.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import orjson
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from curate import build_dataset, measure, synthloop_recipe  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
SYNTHLOOP = str(Path(sys.executable).with_name("synthloop"))

RESOLVE = """
import sys, tracemalloc
import pyarrow as pa
from synthloop.engine.recipe import Recipe
from synthloop.engine.plan import plan_stages
from synthloop.engine.resolve import resolve_stage
from synthloop.engine.rundir import RunDir, read_json
recipe = Recipe.from_yaml(sys.argv[1])
rundir, ops = RunDir(recipe), recipe.build_ops()
stage = plan_stages(ops)[0]
shards = read_json(rundir.input_marker)["shards"]
rows = sum(read_json(rundir.done_marker(0, j))["kept"] for j in range(shards))
tracemalloc.start()
resolve_stage(rundir, stage, ops, shards, recipe.seed)
python_peak = tracemalloc.get_traced_memory()[1]
print(rows, python_peak, pa.default_memory_pool().max_memory())
"""


def recipe_for(work: Path, llava: Path, workers: int, executor: dict) -> Path:
    path = synthloop_recipe(REPO / "recipes" / "curate.yaml", work, llava, workers)
    recipe = yaml.safe_load(path.read_text())
    recipe["executor"] = {**{k: v for k, v in recipe["executor"].items() if k != "workers"}, **executor}
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return path


def run_measured(name: str, n: int, recipe: Path, log: Path) -> float:
    subprocess.run(["rm", "-rf", str(recipe.parent / "out"), str(recipe.parent / "run")], check=True)
    seconds, (tree, driver, child), code, cpu = measure([SYNTHLOOP, "run", str(recipe)], log)
    status = "" if code == 0 else f"  (FAILED, exit {code}; see {log})"
    print(f"{name:22s} {seconds:7.1f} s  {n / seconds:7.0f} samples/s  CPU {cpu:6.1f} s  peak RSS: driver "
          f"{driver / 2**20:5.0f} MiB, largest other process {child / 2**20:5.0f} MiB, all {tree / 2**20:5.0f} MiB"
          f"{status}", flush=True)
    return seconds


def files(root: Path) -> dict[str, bytes]:
    found = {str(p.relative_to(root)): p.read_bytes() for sub in ("out", "run") for p in (root / sub).rglob("*")
             if p.is_file() and p.name != "recipe.yaml"}
    ledger = orjson.loads(found.pop("run/ledger.json"))
    found["ledger"] = orjson.dumps({k: v for k, v in ledger.items() if not k.endswith("_path")})
    return found


def two_node(work: Path, n: int, workers: int) -> None:
    import ray
    from ray.cluster_utils import Cluster

    llava, _ = build_dataset(work / f"data-{n}", n)
    local = recipe_for(work / "two-local", llava, workers, {"kind": "local", "workers": workers})
    subprocess.run(["rm", "-rf", str(local.parent / "out"), str(local.parent / "run")], check=True)
    subprocess.run([SYNTHLOOP, "run", str(local)], check=True, stdout=subprocess.DEVNULL)
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    cluster.add_node(num_cpus=1)
    try:
        remote = recipe_for(work / "two-ray", llava, workers, {"kind": "ray", "address": cluster.address})
        subprocess.run(["rm", "-rf", str(remote.parent / "out"), str(remote.parent / "run")], check=True)
        start = time.perf_counter()
        subprocess.run([SYNTHLOOP, "run", str(remote)], check=True, stdout=subprocess.DEVNULL)
        seconds = time.perf_counter() - start
    finally:
        ray.shutdown()
        cluster.shutdown()
    mine, theirs = files(local.parent), files(remote.parent)
    differ = sorted(name for name in mine.keys() | theirs.keys() if mine.get(name) != theirs.get(name))
    print(f"two-node cluster, n={n:,}: {len(mine)} files (output, audit, stages, ledger) compared with the local "
          f"run's: {'all identical' if not differ else f'{len(differ)} differ, e.g. {differ[:3]}'} ({seconds:.0f} s)")


def resolve_memory(work: Path, n: int, workers: int) -> None:
    for size in (n // 4, n):
        llava, _ = build_dataset(work / f"data-{size}", size)
        recipe = recipe_for(work / f"resolve-{size}", llava, workers, {"kind": "local", "workers": workers})
        subprocess.run(["rm", "-rf", str(recipe.parent / "out"), str(recipe.parent / "run")], check=True)
        subprocess.run([SYNTHLOOP, "run", str(recipe)], check=True, stdout=subprocess.DEVNULL)
        out = subprocess.run([sys.executable, "-c", RESOLVE, str(recipe)], check=True, capture_output=True, text=True)
        rows, python_peak, arrow_peak = map(int, out.stdout.split())
        per = (python_peak + arrow_peak) / rows
        print(f"dedup resolves on the driver, {rows:,} samples: Python/numpy peak {python_peak / 2**20:.1f} MiB, "
              f"Arrow peak {arrow_peak / 2**20:.1f} MiB: {per:.0f} bytes/sample "
              f"(100M samples: {per * 1e8 / 2**30:.0f} GiB)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--two-node-n", type=int, default=4000)
    parser.add_argument("--workers", type=int, default=2, help="local worker processes; CPUs of the Ray run")
    parser.add_argument("--work", type=Path, default=Path("/tmp/synthloop-ray-bench"))
    parser.add_argument("--skip-two-node", action="store_true")
    args = parser.parse_args()

    llava, _ = build_dataset(args.work / f"data-{args.n}", args.n)
    local = recipe_for(args.work / "local", llava, args.workers, {"kind": "local", "workers": args.workers})
    on_ray = recipe_for(args.work / "ray", llava, args.workers, {"kind": "ray", "object_store_mb": 512})
    local_s = run_measured("local executor", args.n, local, args.work / "local.log")
    ray_s = run_measured("ray executor, one node", args.n, on_ray, args.work / "ray.log")
    print(f"wall time ratio ray / local at n={args.n:,}: {ray_s / local_s:.2f}x (goal: 1.25x)")
    if not args.skip_two_node:
        two_node(args.work, args.two_node_n, args.workers)
    resolve_memory(args.work, args.n, args.workers)


if __name__ == "__main__":
    main()
