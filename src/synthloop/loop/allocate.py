"""How a round's synthesis budget is split over question types.

Adaptive Bad-case Sampling (MLLM-DataEngine): each of the `budget` samples draws its qtype with
probability proportional to that qtype's error rate; qtypes with fewer than `min_bad_cases` bad
cases are skipped (targeted generation shows the generator two bad cases as examples). The
baseline arm spends the same budget as a uniform mix.
"""

from __future__ import annotations

import numpy as np

from synthloop.apportion import largest_remainder


def adaptive_bad_case_allocation(error_rates: dict[str, float], bad_case_counts: dict[str, int], budget: int,
                                 seed: int, min_bad_cases: int = 2) -> dict[str, int]:
    """`{qtype: n}` adding up to `budget` (or empty when no qtype qualifies), seeded."""
    eligible = sorted(q for q, rate in error_rates.items()
                      if rate > 0 and bad_case_counts.get(q, 0) >= min_bad_cases)
    if not eligible or budget <= 0:
        return {}
    rates = np.array([error_rates[q] for q in eligible], dtype=np.float64)
    draws = np.random.default_rng(seed).choice(len(eligible), size=budget, p=rates / rates.sum())
    counts = np.bincount(draws, minlength=len(eligible))
    return {q: int(n) for q, n in zip(eligible, counts) if n > 0}


def uniform_allocation(qtypes: list[str], budget: int) -> dict[str, int]:
    """`budget` split as equally as possible over `qtypes` (largest remainder, ties by name)."""
    quotas = largest_remainder({q: 1.0 for q in sorted(set(qtypes))}, budget)
    return {q: n for q, n in quotas.items() if n > 0}
