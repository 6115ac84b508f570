"""The fuzz suite of tests/test_fuzz.py, run longer: counts by outcome, per target and in total.

    .venv/bin/python benchmarks/fuzz.py [--minutes 10] [--seed 0]

Every case mutates a valid input of one reader (llava list and JSONL, dj, messages, parquet,
webdataset, through `synthloop convert`) or of the recipe loader (tests/fuzzing.py says how) and
must end as `ok`, `quarantined` or a one-line `error`; `crash`, `hang`, `bad count` and `bad error`
are defects, printed with one example each. Exits 1 if there is any.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from fuzzing import DEFECTS, Outcomes, fuzz  # noqa: E402

OUTCOMES = ("ok", "quarantined", "error", *DEFECTS)


def report(outcomes: Outcomes, elapsed: float) -> None:
    targets = sorted({target for target, _ in outcomes.counts})
    print(f"{'target':<24}" + "".join(f"{name:>13}" for name in OUTCOMES))
    for target in targets:
        print(f"{target:<24}" + "".join(f"{outcomes.counts[target, name]:>13}" for name in OUTCOMES))
    totals = outcomes.by_outcome()
    print(f"{'all':<24}" + "".join(f"{totals[name]:>13}" for name in OUTCOMES))
    print(f"{sum(totals.values())} cases in {elapsed:.0f} s")
    for where, example in outcomes.failures.items():
        print(f"--- {where}\n{example}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    start = time.monotonic()
    with tempfile.TemporaryDirectory() as folder:
        outcomes = fuzz(Path(folder) / "world", cases=10**9, seed=args.seed,
                        deadline=start + 60 * args.minutes)
    report(outcomes, time.monotonic() - start)
    sys.exit(1 if outcomes.defects() else 0)


if __name__ == "__main__":
    main()
