"""Every metric against its official scorer, re-derived in tests/reference_*.py, on seeded random and
adversarial cases (tests/metric_cases.py): no disagreement allowed. benchmarks/metric_agreement.py
prints the same counts."""

import pytest

from differential import COMPARISONS, disagreements

# Cases per comparison; those that write and read a benchmark file per case get fewer.
CASES = {name: 3000 for name in COMPARISONS} | {"circular_copies": 1000, "aokvqa mc (read_aokvqa + score)": 2000,
                                               "aokvqa da (read_aokvqa + score)": 2000,
                                               "scienceqa (read_scienceqa + score)": 2000}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(COMPARISONS))
def test_metric_equals_its_official_scorer(name):
    count, examples = disagreements(name, CASES[name])
    assert count == 0, f"{name}: {count} of {CASES[name]} cases disagree, e.g. (ours, official): {examples}"
