"""The scene judge's threshold (chosen as the TinyVLM judge's, but below the score of what it cannot judge)
and its packaged checkpoint."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

import numpy as np
import orjson
import pytest

from synthloop.lab import world_judge
from synthloop.lab.scene_judge import train
from synthloop.lab.scene_judge.judge import CHECKPOINT, NEUTRAL, URI, threshold


def test_threshold_keeps_what_the_judge_cannot_judge():
    wrong = np.array([True] * 30 + [False] * 170)
    scores = np.where(wrong, 0.1, 0.9)
    choice = train.choose(scores, wrong)
    # F1 alone would cut halfway between 0.1 and 0.9 (0.5, dropping the neutral 0.5 scores): the demo pool's
    # share of unjudged samples (7 of 200 here) moves the cut between 0.1 and 0.5
    assert choice["threshold"] == pytest.approx(0.3) and choice["unjudged"] == 7
    assert choice["recall"] == pytest.approx(1.0) and choice["precision"] == pytest.approx(1.0)
    assert choice["roc_auc"] == 1.0
    assert (choice["held_out_samples"], choice["held_out_wrong"]) == (200, 30)


def test_a_judge_that_must_drop_unjudged_samples_is_refused():
    wrong = np.array([True] * 30 + [False] * 170)
    scores = np.where(wrong, 0.8, 0.9)  # wrong answers all above the neutral score
    with pytest.raises(ValueError, match=f"drops what the judge cannot judge \\(scored {NEUTRAL}\\)"):
        train.choose(scores, wrong)


def test_the_packaged_judge_separates_held_out_conversations():
    """The packaged checkpoint through its URI on conversations no threshold was chosen on (seed 7,200,002)."""
    config = orjson.loads((CHECKPOINT / "config.json").read_bytes())
    assert (config["uri"], config["held_out_seed"], config["seed"]) == (URI, train.HELD_OUT_SEED, train.SEED)
    assert 0.0 < threshold() < NEUTRAL
    scores, wrong = world_judge.held_out_scores(URI, 40, seed=train.HELD_OUT_SEED + 2)
    assert wrong.sum() == 6
    assert (scores[wrong] < threshold()).all() and (scores[~wrong] >= threshold()).all()


def test_the_checkpoint_is_package_data_and_small():
    package_data = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"]["synthloop"]
    files = sorted(p for p in CHECKPOINT.iterdir())
    assert {"config.json", "threshold.json"} <= {p.name for p in files}
    for path in files:
        relative = path.relative_to(CHECKPOINT.parents[2]).as_posix()  # from the synthloop package
        assert path.is_file() and any(fnmatch.fnmatch(relative, pattern) for pattern in package_data), relative
    assert sum(p.stat().st_size for p in files) < 3_000_000
