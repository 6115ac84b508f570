import pytest
import torch

from synthloop.lab.toy import toy_samples
from synthloop.train.trainer import BudgetError, TrainConfig, learning_rate, loss_units, micro_batching, train

TINY = {"d_model": 32, "n_layers": 1, "n_heads": 2, "vision_width": 8, "image_size": 16, "image_grid": 2,
        "vocab_size": 300}


def test_max_samples_is_enforced(tmp_path):
    with pytest.raises(BudgetError, match="holds 12 samples but the budget allows at most 10"):
        train(toy_samples(12, image_size=16), tmp_path / "ck", max_samples=10, global_batch_size=4,
              show_progress=False, **TINY)
    assert not (tmp_path / "ck").exists()


def test_global_batch_size_is_enforced(tmp_path):
    with pytest.raises(BudgetError, match="global batch size 16 exceeds the 12 usable training samples"):
        train(toy_samples(12, image_size=16), tmp_path / "ck", global_batch_size=16, show_progress=False, **TINY)
    with pytest.raises(BudgetError, match="at least 1"):
        micro_batching(0, 8, 10)


def test_global_batch_splits_into_equal_micro_batches():
    assert micro_batching(100, 64, 1000) == 50  # 2 accumulation steps of 50
    assert micro_batching(64, 64, 1000) == 64
    assert micro_batching(8, 64, 1000) == 8
    assert micro_batching(96, 32, 1000) == 32


def test_stage_1_needs_captions_and_settings_are_checked(tmp_path):
    no_captions = [s for s in toy_samples(12, image_size=16) if s["task"] != "caption"]
    with pytest.raises(BudgetError, match="caption samples"):
        train(no_captions, tmp_path / "ck", stage="1", global_batch_size=4, show_progress=False, **TINY)
    with pytest.raises(ValueError, match="unknown training setting.*d_modle"):
        train(no_captions, tmp_path / "ck", d_modle=3)
    with pytest.raises(ValueError, match="stage must be"):
        train(no_captions, tmp_path / "ck", stage="3")


def test_learning_rate_warms_up_then_decays_to_floor():
    cfg = TrainConfig(lr=1.0, warmup_fraction=0.1, min_lr_ratio=0.1)
    assert learning_rate(0.05, cfg) == pytest.approx(0.51)
    assert learning_rate(0.1, cfg) == pytest.approx(1.0)
    assert learning_rate(0.55, cfg) == pytest.approx(0.55)
    assert learning_rate(1.0, cfg) == pytest.approx(0.1)


def test_loss_units_weigh_replies_samples_or_tokens():
    from synthloop.models.tinyvlm.encoding import IGNORE as X
    # Row 0: a two-token reply, then a one-token reply; row 1: one three-token reply. Position 0 is never
    # a target (labels shift by one), so its 9 must not count.
    labels = torch.tensor([[9, X, 5, 6, X, X, 7, X], [X, X, X, X, X, 8, 9, 10]])
    reply, n_replies = loss_units(labels, "reply")
    assert reply.tolist() == [0, 0, 1, 2, 2, 2] and n_replies == 3
    sample, n_samples = loss_units(labels, "sample")
    assert sample.tolist() == [0, 0, 0, 1, 1, 1] and n_samples == 2
    token, n_tokens = loss_units(labels, "token")
    assert token.tolist() == list(range(6)) and n_tokens == 6
    with pytest.raises(ValueError, match="unknown loss unit"):
        loss_units(labels, "batch")
