import json
from collections import Counter

from synthloop.images import decode
from synthloop.lab.toy import toy_samples
from synthloop.models.protocols import Request
from synthloop.models.tinyvlm.checkpoint import load_checkpoint
from synthloop.train.trainer import train

SMALL = {"d_model": 48, "n_layers": 1, "n_heads": 2, "vision_width": 16, "image_size": 16, "image_grid": 1,
         "vocab_size": 300, "lr": 3e-3, "warmup_fraction": 0.1}


def colour_questions(n, seed):
    return [s for s in toy_samples(4 * n, seed=seed, image_size=16) if s["qtype"] == "color"]


def test_tiny_run_learns_colours_better_than_majority(tmp_path):
    train_set = colour_questions(240, seed=0)
    checkpoint = train(train_set, tmp_path / "ck", stage="2", epochs=6, global_batch_size=16, seed=0,
                       show_progress=False, **SMALL)
    losses = json.loads((checkpoint / "training.json").read_text())["stages"][0]["losses"]
    assert sum(losses[-5:]) / 5 < 0.5 * sum(losses[:5]) / 5

    test_set = colour_questions(100, seed=1)
    answers = [s["messages"][1]["content"] for s in test_set]
    majority = Counter(s["messages"][1]["content"] for s in train_set).most_common(1)[0][0]
    model = load_checkpoint(checkpoint)
    requests = [Request([decode(s["images"][0]["bytes"])], s["messages"][:1]) for s in test_set]
    predictions = [g.text for g in model.generate(requests, max_new_tokens=4)]
    accuracy = sum(p == a for p, a in zip(predictions, answers)) / len(answers)
    baseline = sum(a == majority for a in answers) / len(answers)
    assert accuracy >= baseline + 0.3, (accuracy, baseline)
    options = [["red", "green", "blue", "yellow"]] * len(test_set)
    ranked = [max(zip(row, opts))[1] for row, opts in zip(model.score_options(requests, options), options)]
    assert sum(r == a for r, a in zip(ranked, answers)) / len(answers) >= baseline + 0.3
