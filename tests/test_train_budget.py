import pytest

from synthloop.train.trainer import BudgetError, learning_rate, micro_batching, train, TrainConfig
from synthloop.train.toy import toy_samples

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
