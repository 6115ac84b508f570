"""Disagreements between each metric and its official scorer (re-derived in tests/reference_*.py) on
the seeded random and adversarial cases of tests/metric_cases.py, per metric.

Run: PYTHONPATH=src:tests .venv/bin/python benchmarks/metric_agreement.py [N] [SEED]
(N cases per metric, 3000 by default; circular_copies, which writes and reads a TSV per case, gets N // 3.)
"""

from __future__ import annotations

import sys

from differential import COMPARISONS, disagreements


def main(n: int = 3000, seed: int = 0) -> None:
    for name in COMPARISONS:
        cases = n // 3 if name == "circular_copies" else n
        count, examples = disagreements(name, cases, seed)
        print(f"{name:<38} {count:>6} of {cases}" + (f"   e.g. (ours, official) {examples[0]}"[:160] if count else ""))


if __name__ == "__main__":
    main(*(int(arg) for arg in sys.argv[1:3]))
