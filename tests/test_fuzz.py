"""A short seeded fuzz run over every reader and the recipe loader (benchmarks/fuzz.py runs it longer):
every case ends in a one-line error, a quarantine or a clean conversion whose counts add up."""

import pytest
from fuzzing import DEFECTS, TARGETS, fuzz

CASES = 7 * 30  # 30 per target: llava list and JSONL, dj, messages, parquet, webdataset, and recipes


@pytest.mark.slow
def test_fuzz_gives_no_traceback_no_hang_and_counts_that_add_up(tmp_path):
    outcomes = fuzz(tmp_path / "world", CASES, seed=0, time_limit=20.0)
    assert outcomes.failures == {}
    totals = outcomes.by_outcome()
    assert sum(totals.values()) == CASES and not any(totals[d] for d in DEFECTS)
    targets = {target for target, _ in outcomes.counts}
    assert targets == {f"{fmt} -> {to}" for fmt, _, to in TARGETS} | {"recipe"}
    for target in targets:  # the mutations reach past the happy path of every reader
        assert outcomes.counts[target, "error"] + outcomes.counts[target, "quarantined"] > 0, target
