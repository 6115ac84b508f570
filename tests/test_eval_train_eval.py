"""Train TinyVLM on a tiny budget, evaluate it, and beat the majority-answer baseline (about 1 minute)."""

import json

import pytest

from synthloop.evaluate import evaluate, majority_baseline
from synthloop.lab.toy import toy_samples
from synthloop.models.tinyvlm.checkpoint import load_checkpoint
from synthloop.train.trainer import train

pytestmark = pytest.mark.slow


def test_trained_model_beats_majority_baseline(tmp_path):
    train_samples = toy_samples(600, seed=0)
    bench = [s for s in toy_samples(240, seed=1) if s["task"] == "vqa"]
    # Frozen pretrained image features let a few hundred steps learn colour and shape from pixels.
    checkpoint = train(train_samples, tmp_path / "ckpt", epochs=5, seed=0, show_progress=False,
                       vision="efficientnet-lite0", image_grid=2, d_model=64, n_layers=2, max_seq_len=64,
                       global_batch_size=16, micro_batch_size=16, lr=2e-3)
    results = evaluate(load_checkpoint(checkpoint), bench, tmp_path / "eval", batch_size=64, max_new_tokens=8)
    baseline = majority_baseline(train_samples, bench)

    assert results["n"] == baseline["n"] == len(bench) == 120
    assert results["overall"] > baseline["overall"] + 0.15
    assert results["per_qtype"]["color"] > baseline["per_qtype"]["color"]
    written = json.loads((tmp_path / "eval" / "results.json").read_text())
    assert written == results
    weights = json.loads((tmp_path / "eval" / "weights.json").read_text())
    assert weights == {q: round(1 - a, 3) for q, a in results["per_qtype"].items()}
