"""A small-budget closed loop end to end: both arms, loop.json, ledgers, added data, decontamination."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from synthloop.formats.parquet import read_samples
from synthloop.loop.decontaminate import image_hashes
from synthloop.loop.recipe import LoopRecipe
from synthloop.loop.rounds import load_pool, run_loop

QTYPES = {"color": 1.0, "shape": 1.0, "count": 1.0}
TINY_TRAIN = {"stage": "2", "epochs": 1, "global_batch_size": 16, "warm_start": True, "replay": 40,
              "settings": {"d_model": 32, "n_layers": 1, "n_heads": 2, "max_seq_len": 128, "vision_width": 16}}


@pytest.fixture(scope="module")
def loop_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("loop")
    recipe = LoopRecipe.model_validate({
        "run_dir": str(run_dir), "seed": 3,
        "seed_pool": {"world": 96, "mix": QTYPES}, "benchmark": {"world": 48, "mix": QTYPES},
        "curate": [{"answer_nonempty": {}}, {"stratified": {"by": "qtype", "budget": 90}}],
        "synthesis": {"budget": 32, "ops": [{"image_decodable": {}}, {"answer_nonempty": {}}],
                      "synthesizer": {"turns": 2}},
        "rounds": 2, "train": TINY_TRAIN})
    return recipe, run_loop(recipe, log=lambda line: None)


def test_loop_json_has_both_arms_every_round(loop_run):
    recipe, result = loop_run
    on_disk = orjson.loads((Path(recipe.run_dir) / "loop.json").read_bytes())
    assert on_disk == result
    assert [(e["round"], e["arm"]) for e in result["rounds"]] == [
        (0, "loop"), (0, "baseline"), (1, "loop"), (1, "baseline"), (2, "loop"), (2, "baseline")]
    first_loop, first_baseline = result["rounds"][:2]
    assert first_loop["overall"] == first_baseline["overall"] and first_loop["added"] == {}
    for entry in result["rounds"]:
        assert 0.0 <= entry["overall"] <= 1.0 and set(entry["per_qtype"]) == set(QTYPES)


def test_each_round_continues_from_its_arms_previous_checkpoint(loop_run):
    recipe, _ = loop_run
    run_dir = Path(recipe.run_dir)
    for arm in ("loop", "baseline"):
        for r, previous in ((1, run_dir / "round_0"), (2, run_dir / arm / "round_1")):
            record = orjson.loads((run_dir / arm / f"round_{r}" / "ckpt" / "training.json").read_bytes())
            assert record["init"] == str(previous / "ckpt")
            # a warm round trains on its new data plus `replay` samples of the arm's earlier pool
            added = sum(1 for _ in read_samples(run_dir / arm / f"round_{r}" / "added"))
            assert record["stages"][-1]["samples"] == added + 40
            tokenizer = (run_dir / arm / f"round_{r}" / "ckpt" / "tokenizer.json").read_bytes()
            assert tokenizer == (run_dir / "round_0" / "ckpt" / "tokenizer.json").read_bytes()


def test_added_data_matches_loop_json_and_ledgers_add_up(loop_run):
    recipe, result = loop_run
    seed_ledger = orjson.loads((Path(recipe.run_dir) / "round_0" / "curate" / "ledger.json").read_bytes())
    assert (seed_ledger["input"], seed_ledger["output"]) == (96, 90)

    for entry in result["rounds"][2:]:
        folder = Path(recipe.run_dir) / entry["arm"] / f"round_{entry['round']}"
        added = list(read_samples(folder / "added"))
        counted = {}
        for sample in added:
            counted[sample["qtype"]] = counted.get(sample["qtype"], 0) + 1
        assert counted == entry["added"]
        assert all(len(s["messages"]) == 4 for s in added)  # the synthesizer's 2-turn conversations
        ledger = orjson.loads((folder / "curate" / "ledger.json").read_bytes())
        assert ledger["input"] + ledger["added"] == ledger["output"] + ledger["dropped"] + ledger["quarantined"]
        assert ledger["input"] == sum(1 for _ in read_samples(folder / "synth"))
        assert (folder / "eval" / "results.json").is_file()
    baseline_first = result["rounds"][3]
    assert sum(baseline_first["added"].values()) == 32  # uniform mix, nothing noisy to drop
    assert max(baseline_first["added"].values()) - min(baseline_first["added"].values()) <= 1


def test_no_benchmark_image_or_item_question_enters_training(loop_run):
    recipe, _ = loop_run

    from synthloop.loop.decontaminate import BenchmarkIndex

    index = BenchmarkIndex(load_pool(recipe.benchmark, recipe.seed, benchmark=True))
    for folder in Path(recipe.run_dir).glob("*/round_*/added"):
        for sample in read_samples(folder):
            assert not set(image_hashes(sample)) & index.images
            assert not any(index.has_question(m["content"]) for m in sample["messages"] if m["role"] == "user")
