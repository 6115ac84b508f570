"""The world judge's data (every turn a judge question with its own qtype) and its threshold choice."""

from __future__ import annotations

import numpy as np
import pytest

from synthloop.lab import world, world_judge


def test_every_turn_becomes_a_single_turn_sample_with_its_own_qtype():
    samples = world.generate(6, mix=dict.fromkeys(world_judge.QTYPES, 1.0), seed=5, turns=4,
                             follow_up_qtypes=world_judge.FOLLOW_UPS)
    turns = world_judge.turn_samples(samples)
    assert len(turns) == sum(len(s["messages"]) // 2 for s in samples)
    k = 0
    for s in samples:
        qtypes = [f["qtype"] for f in s["meta"]["follow_ups"]]
        qtypes.insert(s["meta"]["turn"], s["qtype"])
        for t, qtype in enumerate(qtypes):
            one = turns[k]
            k += 1
            assert one["qtype"] == qtype and one["images"] == s["images"]
            assert one["messages"][0]["content"] == "<image>\n" + s["messages"][2 * t]["content"].removeprefix("<image>\n")
            assert one["messages"][1] == s["messages"][2 * t + 1]
    assert len({t["id"] for t in turns}) == len(turns)


def test_threshold_maximises_f1_between_neighbouring_scores():
    scores = np.array([0.9, 0.1, 0.3, 0.2, 0.8])
    wrong = np.array([False, True, False, True, False])
    assert world_judge.choose_threshold(scores, wrong) == {"threshold": pytest.approx(0.25), "f1": 1.0,
                                                          "precision": 1.0, "recall": 1.0}
    wrong = np.array([False, True, True, False, False])  # 0.3 is wrong, 0.2 is not: dropping up to 0.3 costs one
    choice = world_judge.choose_threshold(scores, wrong)
    assert choice["threshold"] == pytest.approx(0.55) and choice["f1"] == pytest.approx(0.8)
    # wrong samples made rare (each weighs 1/9, a right one 1.59): a false drop costs more than a wrong one kept
    rare = world_judge.choose_threshold(scores, wrong, prevalence=0.4 / 9)
    assert rare["threshold"] == pytest.approx(0.15) and rare["precision"] == 1.0 and rare["recall"] == pytest.approx(0.5)


def test_the_packaged_judge_and_its_threshold_load():
    from synthloop.models.tinyvlm.checkpoint import load_checkpoint

    assert 0.0 < world_judge.threshold() < 1.0
    assert load_checkpoint(world_judge.CHECKPOINT).cfg.vision == "efficientnet-lite0"
