"""The demo's curation alone, on its labelled noise: precision and recall per noise kind and per seed.

    PYTHONPATH=src .venv/bin/python benchmarks/demo_curation.py [--seeds 0 1 2 3 4 5 6] [--out runs/demo_curation]

For each seed, builds the demo's noisy seed pool (`demo.build_seed_pool`) and runs its curation recipe
(`demo.curate_pool`: filters, the world judge, dedups, the stratified selection) exactly as `synthloop
demo` does, timing the curation with the load average beside it (the box may be shared). Prints the
first seed's table per noise kind, then overall, wrong-answer and near-duplicate figures per seed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import time
from pathlib import Path

from synthloop.lab import demo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="*", default=[0])
    parser.add_argument("--out", type=Path, default=Path("runs/demo_curation"))
    args = parser.parse_args()
    rows = []
    for seed in args.seeds:
        folder = args.out / f"seed{seed}"
        shutil.rmtree(folder, ignore_errors=True)
        demo.build_seed_pool(folder / "pool", seed)
        start = time.perf_counter()
        _, curation = demo.curate_pool(folder / "pool", folder / "curate", seed)
        seconds, load = time.perf_counter() - start, os.getloadavg()[0]
        if not rows:
            print(f"seed {seed}: {curation['samples']} samples, {curation['noisy']} noisy, {curation['removed']} removed\n"
                  "\n| noise kind | count | removed | recall | precision |\n|---|---|---|---|---|")
            for kind, k in curation["kinds"].items():
                print(f"| {kind} | {k['count']} | {k['removed']} | {k['recall']:.3f} | {k['precision']:.3f} |")
            print(f"| all | {curation['noisy']} | {curation['removed']} | {curation['recall']:.3f} | "
                  f"{curation['precision']:.3f} |\n")
        kinds = curation["kinds"]
        rows.append(f"| {seed} | {curation['precision']:.3f} | {curation['recall']:.3f} | "
                    f"{kinds['wrong_answer']['recall']:.3f} | {kinds['near_duplicate']['recall']:.3f} | "
                    f"{seconds:.0f} s (load {load:.1f}) |")
        print(rows[-1], flush=True)
    print("\n| seed | precision | recall | wrong-answer recall | near-duplicate recall | curation wall time |\n"
          "|---|---|---|---|---|---|\n" + "\n".join(rows))


if __name__ == "__main__":
    main()
