"""A small-budget closed loop end to end: both arms, loop.json (pinned), funnels, ledgers, added data,
decontamination."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from loop_small import LOOP_JSON_SHA256, QTYPES, samples_digest, sha256, small_recipe

from synthloop.formats.parquet import read_samples
from synthloop.loop.decontaminate import image_hashes
from synthloop.loop.funnel import FIELDS
from synthloop.loop.recipe import LoopRecipe
from synthloop.loop.rounds import LoopRunError, load_pool, run_loop

# The output of the seed pool's curation (round_0/curate) in `small_recipe`: pinned like loop.json.
CURATION_SHA256 = "2f094377b9a8739edc228c7d500ccedeaaac10dcfaac921adb64746c6d3f2e20"


@pytest.fixture(scope="module")
def loop_run(tmp_path_factory):
    recipe = LoopRecipe.model_validate(small_recipe(tmp_path_factory.mktemp("loop")))
    return recipe, run_loop(recipe, log=lambda line: None)


def test_loop_json_and_curation_are_pinned(loop_run):
    recipe, _ = loop_run
    assert sha256(Path(recipe.run_dir) / "loop.json") == LOOP_JSON_SHA256
    assert samples_digest(read_samples(Path(recipe.run_dir) / "round_0" / "curate" / "output")) == CURATION_SHA256


def test_a_finished_run_dir_is_refused_unless_resumed_and_resuming_it_changes_nothing(loop_run):
    recipe, result = loop_run
    with pytest.raises(LoopRunError, match="already holds a loop run; resume it with --resume"):
        run_loop(recipe, log=lambda line: None)
    before = (Path(recipe.run_dir) / "loop.json").read_bytes()
    assert run_loop(recipe, log=lambda line: None, resume=True) == result
    assert (Path(recipe.run_dir) / "loop.json").read_bytes() == before
    changed = recipe.model_copy(update={"rounds": 3})
    with pytest.raises(LoopRunError, match="the recipe changed since the run started"):
        run_loop(changed, log=lambda line: None, resume=True)


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
        folder = Path(recipe.run_dir) / ("round_0" if entry["round"] == 0 else f"{entry['arm']}/round_{entry['round']}")
        training = orjson.loads((folder / "ckpt" / "training.json").read_bytes())
        assert entry["train_loss"] == training["stages"][-1]["losses"][-1]


def test_each_rounds_funnel_adds_up_and_matches_its_ledger(loop_run):
    recipe, result = loop_run
    for entry in result["rounds"][2:]:
        folder = Path(recipe.run_dir) / entry["arm"] / f"round_{entry['round']}"
        counts = entry["funnel"]
        assert set(counts) == set(FIELDS) and counts["asked"] == 32
        assert counts["generated"] == sum(counts[k] for k in FIELDS[2:])
        ledger = orjson.loads((folder / "curate" / "ledger.json").read_bytes())
        assert counts["generated"] == ledger["input"] == sum(1 for _ in read_samples(folder / "synth"))
        assert counts["quarantined"] == ledger["quarantined"]
        assert counts["deduped"] == next(op["dropped"] for op in ledger["ops"] if op["op"] == "exact_dedup")
        removed = folder / "decontaminated"
        assert counts["decontaminated"] == (sum(1 for _ in read_samples(removed)) if removed.is_dir() else 0)
        assert counts["added"] == sum(entry["added"].values()) == sum(1 for _ in read_samples(folder / "added"))


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


def test_the_report_shows_each_rounds_funnel(loop_run):
    from synthloop.report.html import FUNNEL_FIELDS, write_report

    recipe, result = loop_run
    assert FUNNEL_FIELDS == FIELDS
    html = write_report(recipe.run_dir, Path(recipe.run_dir).parent / "report.html").read_text()
    section = html[html.index('<section id="rounds">'):]
    header = "".join(f"<th>{name}</th>" for name in ("arm", "round", *FIELDS))
    assert header in section
    for entry in result["rounds"][2:]:
        cells = [entry["arm"], entry["round"], *(entry["funnel"][name] for name in FIELDS)]
        assert "<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>" in section
