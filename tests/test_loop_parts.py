"""Loop building blocks: Adaptive Bad-case Sampling, the uniform baseline mix, decontamination, the recipe."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from synthloop.loop.allocate import adaptive_bad_case_allocation, uniform_allocation
from synthloop.loop.decontaminate import BenchmarkIndex, decontaminate
from synthloop.loop.recipe import LoopRecipe, LoopRecipeError
from synthloop.formats.parquet import write_samples
from synthloop.loop.pool import Pool
from synthloop.loop.round_parts import replay_pool
from synthloop.sample import new_sample


def test_abs_is_proportional_to_error_rate_and_skips_few_bad_cases():
    rates = {"count": 0.6, "ocr": 0.3, "color": 0.1, "shape": 0.5, "exist": 0.0}
    bad = {"count": 60, "ocr": 30, "color": 10, "shape": 1, "exist": 0}  # shape has < 2 bad cases
    counts = adaptive_bad_case_allocation(rates, bad, budget=10_000, seed=0)
    assert sum(counts.values()) == 10_000
    assert set(counts) == {"count", "ocr", "color"}
    assert counts["count"] / 10_000 == pytest.approx(0.6, abs=0.02)
    assert counts["ocr"] / 10_000 == pytest.approx(0.3, abs=0.02)
    assert counts == adaptive_bad_case_allocation(rates, bad, budget=10_000, seed=0)
    assert counts != adaptive_bad_case_allocation(rates, bad, budget=10_000, seed=1)


def test_abs_with_nothing_eligible_allocates_nothing():
    assert adaptive_bad_case_allocation({"count": 0.5}, {"count": 1}, budget=100, seed=0) == {}
    assert adaptive_bad_case_allocation({"count": 0.0}, {"count": 9}, budget=100, seed=0) == {}


def test_uniform_allocation_is_exact():
    assert uniform_allocation(["ocr", "count", "color"], 100) == {"color": 34, "count": 33, "ocr": 33}
    assert sum(uniform_allocation([f"q{i}" for i in range(7)], 50).values()) == 50


def png(color: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), color).save(buffer, format="PNG")
    return buffer.getvalue()


def vqa(id: str, question: str, image: bytes) -> dict:
    return new_sample(id, [{"role": "user", "content": f"<image>\n{question}"},
                           {"role": "assistant", "content": "yes"}], [{"bytes": image, "path": None}])


LONG = "Look closely at the picture and tell me whether the small red circle is to the left of the big blue square"


def test_decontamination_removes_benchmark_images_and_long_questions():
    red, blue, green = png((255, 0, 0)), png((0, 0, 255)), png((0, 255, 0))
    benchmark = [vqa("b1", LONG + "?", red), vqa("b2", "How many objects are there?", blue)]
    training = [vqa("t1", "What colour is it?", red),  # benchmark image
                vqa("t2", "Please, " + LONG.upper() + " or not?", green),  # shares a 13-word run
                vqa("t3", "How many objects are there?", green),  # a short template: only its image could leak
                vqa("t4", LONG.replace("circle", "disc"), green)]  # no 13 consecutive words in common
    clean, removed = decontaminate(training, BenchmarkIndex(benchmark))
    assert [s["id"] for s in clean] == ["t3", "t4"]
    assert [(s["id"], s["meta"]["decontaminated"]) for s in removed] == [
        ("t1", "benchmark image"), ("t2", "benchmark question (13-gram overlap)")]


def test_decontamination_cuts_follow_up_turns_that_repeat_a_benchmark_question():
    red, green = png((255, 0, 0)), png((0, 255, 0))
    benchmark = [new_sample("b1", [{"role": "user", "content": "<image>\nHow many?"},
                                   {"role": "assistant", "content": "2"},
                                   {"role": "user", "content": LONG + "?"},  # a benchmark follow-up counts too
                                   {"role": "assistant", "content": "no"}], [{"bytes": red, "path": None}])]
    turns = [("What colour is it?", "green"), (LONG + "?", "yes"), ("And the shape?", "square")]
    messages = [{"role": "system", "content": "Answer briefly."}]
    for question, answer in turns:
        messages += [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
    messages[1]["content"] = "<image>\n" + messages[1]["content"]
    follow_up = new_sample("t1", messages, [{"bytes": green, "path": None}])
    first = vqa("t2", LONG, green)
    two_images = new_sample("t3", [*messages[:3], {"role": "user", "content": "<image>\n" + LONG},
                                   {"role": "assistant", "content": "yes"}],
                            [{"bytes": green, "path": None}, {"bytes": png((0, 0, 9)), "path": None}])
    clean, removed = decontaminate([follow_up, first, two_images], BenchmarkIndex(benchmark))
    assert [s["id"] for s in clean] == ["t1"]
    assert [m["content"] for m in clean[0]["messages"]] == [
        "Answer briefly.", "<image>\nWhat colour is it?", "green", "And the shape?", "square"]
    assert clean[0]["meta"]["decontaminated_turns"] == 1
    assert follow_up["messages"] == messages  # the input sample is not changed
    # a matching first question, or a matching turn that brings its own image, takes the whole sample
    assert [(s["id"], s["meta"]["decontaminated"]) for s in removed] == [
        ("t2", "benchmark question (13-gram overlap)"), ("t3", "benchmark question (13-gram overlap)")]


def test_loop_recipe_errors_name_the_key_and_line(tmp_path):
    recipe = tmp_path / "loop.yaml"
    recipe.write_text("run_dir: out\nseed_pool: {world: 10}\nbenchmark: {world: 5}\nsynthesis:\n"
                      "  budget: 20\n  ops:\n    - stratified: {budget: 5, by: colour}\n")
    with pytest.raises(LoopRecipeError, match=r"loop.yaml line 7: synthesis.ops\[0\].stratified.by"):
        LoopRecipe.from_yaml(recipe)
    recipe.write_text("run_dir: out\nseed_pool: {world: 10, path: x}\nbenchmark: {world: 5}\n")
    with pytest.raises(LoopRecipeError, match="line 2: seed_pool: .*not both"):
        LoopRecipe.from_yaml(recipe)
    recipe.write_text("run_dir: out\nseed_pool: {world: 10}\nbenchmark: {world: 5}\nbaseline_arm: true\n")
    with pytest.raises(LoopRecipeError, match="line 4: baseline_arm: unknown key"):
        LoopRecipe.from_yaml(recipe)
    recipe.write_text("run_dir: out\nseed_pool: {world: 10}\nbenchmark: {world: 5}\ntrain: {replay: 100}\n")
    with pytest.raises(LoopRecipeError, match="line 4: train: replay applies to warm-started rounds"):
        LoopRecipe.from_yaml(recipe)


def test_replay_draws_from_the_pool_and_keeps_all_new_data(tmp_path):
    image = [{"bytes": png((9, 9, 9)), "path": None}]
    pool_samples = [vqa(f"p{i}", "What?", image[0]["bytes"]) for i in range(50)]
    write_samples(pool_samples[:30], tmp_path / "a", shard_rows=7)  # a pool spans folders and files
    write_samples(pool_samples[30:], tmp_path / "b")
    write_samples([vqa(f"n{i}", "What?", image[0]["bytes"]) for i in range(7)], tmp_path / "new")
    pool, new = Pool([tmp_path / "a", tmp_path / "b"]), Pool([tmp_path / "new"])
    ids = lambda samples: [s["id"] for s in samples]  # noqa: E731
    assert len(pool) == 50 and ids(replay_pool(pool, new, None, seed=0)) == ids(pool_samples) + ids(new)
    drawn = replay_pool(pool, new, 20, seed=0)
    assert len(drawn) == 27 and ids(drawn[20:]) == ids(new)
    # the draw is random.Random(seed).sample over the pool, as when the pool was a list in memory
    assert ids(drawn[:20]) == ids(__import__("random").Random(0).sample(pool_samples, 20))
    assert drawn == replay_pool(pool, new, 20, seed=0) and drawn != replay_pool(pool, new, 20, seed=1)
    assert sorted(ids(replay_pool(pool, new, 80, seed=0)[:50])) == sorted(ids(pool_samples))
    assert pool.column("id") == ids(pool_samples) and Pool([tmp_path / "missing"]).take([]) == []


SETTINGS_RECIPE = "run_dir: out\nseed_pool: {world: 10}\nbenchmark: {world: 5}\ntrain:\n  epochs: 2\n  settings:\n"


@pytest.mark.parametrize(("settings", "error"), [
    ("    d_model: 64\n    drop_backgrund: true\n", r"loop.yaml line 8: train.settings.drop_backgrund: unknown key"),
    ("    loss_unit: word\n", r"line 7: train.settings.loss_unit: Input should be 'sample'"),
    ("    d_model: wide\n", r"line 7: train.settings.d_model: Input should be a valid integer"),
    ("    aux_losses: {grounding: {weight: 1.0}, refrents: {}}\n",
     r"line 6: train.settings: unknown auxiliary loss\(es\) refrents"),
])
def test_a_training_setting_typo_or_bad_value_fails_when_the_recipe_is_read(tmp_path, settings, error):
    import synthloop.lab.probes  # noqa: F401  (registers the auxiliary losses, as the CLI does)

    (tmp_path / "loop.yaml").write_text(SETTINGS_RECIPE + settings)
    with pytest.raises(LoopRecipeError, match=error):
        LoopRecipe.from_yaml(tmp_path / "loop.yaml")


def test_training_settings_reach_the_trainer_typed(tmp_path):
    (tmp_path / "loop.yaml").write_text(SETTINGS_RECIPE + "    d_model: 64\n    stage1_modules: [projector]\n")
    assert LoopRecipe.from_yaml(tmp_path / "loop.yaml").train.overrides == {"d_model": 64,
                                                                             "stage1_modules": ("projector",)}


def test_shipped_loop_recipe_is_valid():
    from pathlib import Path

    recipe = LoopRecipe.from_yaml(Path(__file__).parents[1] / "recipes" / "loop_world.yaml")
    assert recipe.rounds == 2 and recipe.baseline and recipe.synthesis.budget == 600 and recipe.train.replay == 2400
    assert [next(iter(op)) for op in recipe.curate][-1] == "stratified"
