"""The scene judge's threshold (chosen as the TinyVLM judge's, but below the score of what it cannot judge)
and its packaged checkpoint."""

from __future__ import annotations

import numpy as np
import pytest

from synthloop.lab.scene_judge import train
from synthloop.lab.scene_judge.judge import NEUTRAL


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

