"""Does the loop beat the baseline across seeds? `synthloop demo` at several seeds, compared per seed.

Runs the demo once per seed (in `--jobs` parallel processes of `--threads` torch threads each; a
finished seed's run directory is reused), then prints for each seed the last round's overall accuracy
of both arms and, on that seed's weak qtypes at round 0, each arm's accuracy. Ends with how many seeds
the loop wins overall and on each weak qtype, and the mean differences.

    .venv/bin/python benchmarks/loop_seeds.py [--seeds 0 1 2] [--jobs 1] [--threads 2] [--out runs/loop_seeds]

One demo takes about 6 minutes on 2 cores: 7 seeds take 40 minutes with `--jobs 1`.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from statistics import mean

import orjson


def run_seed(seed: int, out: Path, threads: int) -> dict:
    """The seed's `loop.json`, running the demo first unless an earlier run left one."""
    loop_json = out / f"seed_{seed}" / "loop" / "loop.json"
    if not loop_json.is_file():
        env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads),
               "HF_HUB_OFFLINE": "1"}
        log = out / f"seed_{seed}.log"
        with log.open("wb") as handle:
            subprocess.run([sys.executable, "-c", "from synthloop.cli import app; app()", "demo", "--seed", str(seed),
                            "--out", str(out / f"seed_{seed}")], env=env, stdout=handle, stderr=subprocess.STDOUT,
                           check=True)
    return orjson.loads(loop_json.read_bytes())


def compare(seed: int, result: dict) -> dict:
    """Last-round accuracies of both arms, overall and on the weak qtypes, for one seed's loop.json."""
    last = max(entry["round"] for entry in result["rounds"])
    arms = {entry["arm"]: entry for entry in result["rounds"] if entry["round"] == last}
    weak = {q: (arms["loop"]["per_qtype"][q], arms["baseline"]["per_qtype"][q]) for q in result["weak_qtypes"]}
    return {"seed": seed, "overall": (arms["loop"]["overall"], arms["baseline"]["overall"]), "weak": weak}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4, 5, 6])
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2, help="torch threads per demo")
    parser.add_argument("--out", type=Path, default=Path("runs/loop_seeds"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(args.jobs) as pool:
        results = list(pool.map(lambda s: run_seed(s, args.out, args.threads), args.seeds))
    rows = [compare(seed, result) for seed, result in zip(args.seeds, results)]
    print("seed  overall loop / baseline   weak qtypes at round 0: loop / baseline")
    by_qtype = defaultdict(list)
    for row in rows:
        loop, baseline = row["overall"]
        print(f"{row['seed']:4d}  {loop:.3f} / {baseline:.3f} ({loop - baseline:+.3f})   " + ", ".join(
            f"{q} {a:.3f} / {b:.3f}" for q, (a, b) in row["weak"].items()))
        by_qtype["overall"].append(loop - baseline)
        for q, (a, b) in row["weak"].items():
            by_qtype[q].append(a - b)
    print("\nloop - baseline after the last round (seeds where the qtype was weak at round 0):")
    for name, diffs in by_qtype.items():
        wins, ties = sum(d > 0 for d in diffs), sum(d == 0 for d in diffs)
        print(f"  {name:9s} loop ahead at {wins} of {len(diffs)} seeds ({ties} tied), mean {mean(diffs):+.3f}")


if __name__ == "__main__":
    main()
