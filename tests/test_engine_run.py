import os

import pyarrow.parquet as pq
import pytest
import test_engine_fixtures  # noqa: F401  (registers the t_ ops)

import synthloop.engine.executors.local
import synthloop.ops.base
from synthloop.engine import Recipe, RecipeError, RunDirError, run
from synthloop.engine.keys import candidate_table
from synthloop.engine.plan import decode_mode, decode_side, plan_stages
from synthloop.engine.worker import Worker, _batches
from synthloop.formats.parquet import read_samples
from synthloop.images import ImageError
from synthloop.ops import op_class
from synthloop.sample import new_sample
from test_engine_fixtures import jpeg, noisy_samples, recipe_dict, write_dataset

CURATE = [{"image_decodable": {}}, {"image_size": {"min_side": 16}}, {"answer_nonempty": {}}, {"t_text_dedup": {}}]


def curate(tmp_path, ops=CURATE, n=60, **executor):
    data = write_dataset(tmp_path / "data", noisy_samples(n))
    recipe = Recipe.model_validate(recipe_dict(tmp_path, data, ops, **executor))
    return recipe, run(recipe, progress=False)


def counts(ledger):
    return [(e["op"], e["in"], e["kept"], e["dropped"], e["quarantined"]) for e in ledger["ops"]]


def test_ledger_counts_on_noisy_fixture(tmp_path):
    _, ledger = curate(tmp_path)
    # 6 truncated JPEGs, then 5 narrow images, 5 empty answers, 6 text duplicates of sample 0 survive to dedup
    assert counts(ledger) == [("input", 60, 60, 0, 0), ("image_decodable", 60, 54, 0, 6),
                              ("image_size", 54, 49, 5, 0), ("answer_nonempty", 49, 44, 5, 0),
                              ("t_text_dedup", 44, 38, 6, 0)]
    assert (ledger["input"], ledger["output"], ledger["dropped"], ledger["quarantined"]) == (60, 38, 16, 6)
    assert ledger["added"] == 0 and ledger["dropped_path"] == str(tmp_path / "run" / "dropped")


def test_ledger_with_the_real_dedups(tmp_path):
    ops = [{"image_decodable": {}}, {"image_size": {"min_side": 16}}, {"answer_nonempty": {}},
           {"exact_dedup": {"on": "image", "same_image": "drop"}},
           {"image_near_dedup": {"max_hamming": 6, "same_image": "drop"}}, {"text_minhash_dedup": {"threshold": 0.8}}]
    _, ledger = curate(tmp_path, ops)
    assert counts(ledger)[3:] == [("answer_nonempty", 49, 44, 5, 0), ("exact_dedup", 44, 42, 2, 0),
                                  ("image_near_dedup", 42, 40, 2, 0), ("text_minhash_dedup", 40, 34, 6, 0)]
    assert (ledger["input"], ledger["output"], ledger["dropped"], ledger["quarantined"]) == (60, 34, 20, 6)
    dropped = pq.read_table(tmp_path / "run" / "dropped").to_pylist()
    survivors = {(r["op"], r["id"]): r["survivor"] for r in dropped if r["survivor"]}
    assert survivors == {**{("exact_dedup", f"s_{i:04d}"): "s_0002" for i in (30, 52)},
                         **{("image_near_dedup", f"s_{i:04d}"): "s_0001" for i in (21, 44)},
                         **{("text_minhash_dedup", f"s_{i:04d}"): "s_0000" for i in (6, 20, 34, 41, 48, 55)}}
    assert len(list(read_samples(tmp_path / "out"))) == 34


def test_audit_files_hold_every_removed_sample(tmp_path):
    recipe, ledger = curate(tmp_path)
    output = list(read_samples(tmp_path / "out"))
    dropped = pq.read_table(tmp_path / "run" / "dropped").to_pylist()
    quarantined = pq.read_table(tmp_path / "run" / "quarantine").to_pylist()
    assert (len(output), len(dropped), len(quarantined)) == (ledger["output"], ledger["dropped"], ledger["quarantined"])
    every_id = sorted([s["id"] for s in output] + [r["id"] for r in dropped] + [r["id"] for r in quarantined])
    assert every_id == [f"s_{i:04d}" for i in range(60)]  # nothing lost, nothing twice
    duplicates = sorted((r["id"], r["survivor"]) for r in dropped if r["op"] == "t_text_dedup")
    assert duplicates == [(f"s_{i:04d}", "s_0000") for i in (6, 20, 34, 41, 48, 55)]
    narrow = next(r for r in dropped if r["op"] == "image_size")
    assert narrow["id"] == "s_0005" and narrow["value"] == "8" and "min_side 16" in narrow["reason"]
    assert narrow["images"][0]["bytes"] == jpeg((5 * 37 % 256, 5 * 11 % 256, 90), (8, 40))
    assert {r["op"] for r in quarantined} == {"image_decodable"}
    assert all("s_00" in r["id"] and r["error"] for r in quarantined)
    kept = next(s for s in output if s["id"] == "s_0000")
    assert kept["scores"]["image_min_side"] == 40.0


def test_invalid_and_unreadable_input_is_quarantined_as_input(tmp_path):
    good = noisy_samples(3)
    broken = new_sample("no_placeholder", [{"role": "user", "content": "hi"}],
                        [{"bytes": jpeg((1, 2, 3)), "path": None}])
    data = write_dataset(tmp_path / "data", [*good, broken])
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "a.jpg").write_bytes(jpeg((9, 9, 9)))
    llava = tmp_path / "x.jsonl"
    llava.write_text('{"id": "l1", "image": "a.jpg", "conversations": [{"from": "human", "value": "<image> hi"},'
                     ' {"from": "gpt", "value": "yes"}]}\n{"id": "l2", "conversations": \n')
    spec = recipe_dict(tmp_path, data, [{"image_decodable": {}}])
    spec["inputs"].append({"format": "llava", "path": str(llava), "image_root": str(tmp_path / "images")})
    ledger = run(Recipe.model_validate(spec), progress=False)
    assert counts(ledger)[:2] == [("input", 6, 4, 0, 2), ("image_decodable", 4, 4, 0, 0)]
    rows = {r["id"]: r for r in pq.read_table(tmp_path / "run" / "quarantine").to_pylist()}
    assert rows["no_placeholder"]["op"] == "input" and "placeholder" in rows["no_placeholder"]["error"]
    assert rows[""]["op"] == "input" and "x.jsonl, line 2" in rows[""]["error"]
    out = {s["id"]: s for s in read_samples(tmp_path / "out")}
    assert out["l1"]["images"][0]["path"] == str((tmp_path / "images" / "a.jpg").resolve())


def test_mapper_additions_balance(tmp_path):
    _, ledger = curate(tmp_path, [{"t_copies": {"copies": 3}}, {"t_text_dedup": {}}], n=20)
    copies, dedup = ledger["ops"][1], ledger["ops"][2]
    assert (copies["in"], copies["added"], copies["kept"]) == (20, 40, 60)
    # copies share their parent's text and sample 6 repeats sample 0's: 19 texts, each kept once
    assert (dedup["in"], dedup["dropped"], ledger["output"]) == (60, 41, 19)
    assert ledger["input"] + ledger["added"] == ledger["output"] + ledger["dropped"] + ledger["quarantined"]


def test_selector_drops_the_unselected(tmp_path):
    _, ledger = curate(tmp_path, [{"t_most_tokens": {"k": 5}}], n=20)
    assert ledger["ops"][1] == {"op": "t_most_tokens", "in": 20, "kept": 5, "dropped": 15, "quarantined": 0,
                                "added": 0}
    reasons = {r["reason"] for r in pq.read_table(tmp_path / "run" / "dropped").to_pylist()}
    assert reasons == {"not selected"}


def test_a_failing_sample_is_isolated_and_quarantined(tmp_path):
    data = write_dataset(tmp_path / "data", [{**s, "id": "bad_one" if i == 2 else s["id"]}
                                            for i, s in enumerate(noisy_samples(10))])
    ledger = run(Recipe.model_validate(recipe_dict(tmp_path, data, [{"t_fragile": {}}])), progress=False)
    assert counts(ledger)[1] == ("t_fragile", 10, 9, 0, 1)
    row = pq.read_table(tmp_path / "run" / "quarantine").to_pylist()[0]
    assert (row["id"], row["error"]) == ("bad_one", "ValueError: cannot handle bad_one")


def test_images_read_opened_and_decoded_once_for_all_ops(tmp_path, monkeypatch):
    opens, decodes, reads = [], [], []
    real_open, real_decode = synthloop.ops.base.open_image, synthloop.ops.base.decode_opened
    real_read = synthloop.ops.base.image_bytes

    def counting_open(data):
        opens.append(data)
        return real_open(data)

    def counting_decode(img, max_side=None, mode="RGB"):
        decodes.append((max_side, mode))
        return real_decode(img, max_side, mode)

    def counting_read(ref, image_root=None):
        reads.append(ref)
        return real_read(ref, image_root)

    monkeypatch.setattr(synthloop.ops.base, "open_image", counting_open)
    monkeypatch.setattr(synthloop.ops.base, "decode_opened", counting_decode)
    monkeypatch.setattr(synthloop.ops.base, "image_bytes", counting_read)
    ops = [{"t_image_width": {}}, {"image_size": {"min_side": 1}}, {"t_image_width": {"min_width": 1}},
           {"image_decodable": {}}]
    curate(tmp_path, ops, n=20)
    assert len(reads) == 20 and len(opens) == 20  # one header parse serves image_size and the decode
    # samples 3 and 13 are cut before their scan starts: their header fails, so they are never decoded
    assert len(decodes) == 18 and set(decodes) == {(32, "RGB")}  # the largest thumbnail any op asked for


def test_prefetched_batches_come_in_order_already_decoded(monkeypatch):
    decodes = []
    real_decode = synthloop.ops.base.decode_opened
    monkeypatch.setattr(synthloop.ops.base, "decode_opened", lambda img, side, mode: decodes.append(1) or
                        real_decode(img, side, mode))
    samples = [new_sample(f"p{i}", [{"role": "user", "content": "<image>\nq"}], [{"bytes": jpeg((i, 9, 9)),
                                                                                  "path": None}]) for i in range(10)]
    samples[5]["images"][0]["bytes"] = jpeg((5, 9, 9))[:300]  # cut in its header: never decoded, its error kept
    cut = [samples[:4], samples[4:8], samples[8:]]
    batches = list(_batches(cut, None, "RGB", prefetch=True))
    assert [[s["id"] for s in b.samples] for b in batches] == [["p0", "p1", "p2", "p3"], ["p4", "p5", "p6", "p7"],
                                                               ["p8", "p9"]]
    assert len(decodes) == 9
    assert [b.image(i).size for b in batches for i in range(len(b)) if b.samples[i]["id"] != "p5"] == [(48, 40)] * 9
    with pytest.raises(ImageError, match="cannot read image header"):
        batches[1].image(1)
    assert len(decodes) == 9  # nothing decoded twice
    assert not any(b._loaded for b in _batches(cut, None, "RGB", prefetch=False))


@pytest.mark.parametrize(("cores", "decode_ahead"), [(1, False), (2, True)])
def test_decoding_ahead_only_with_a_core_to_spare(tmp_path, monkeypatch, cores, decode_ahead):
    monkeypatch.setattr(synthloop.engine.executors.local, "_usable_cores", lambda: cores)
    made, init = [], Worker.__init__

    def recording_init(self, *args, **kwargs):
        init(self, *args, **kwargs)
        made.append(self.decode_ahead)

    monkeypatch.setattr(Worker, "__init__", recording_init)
    curate(tmp_path, [{"image_decodable": {}}], n=10, workers=1)
    assert made == [decode_ahead]


def test_workers_of_each_run_cache_in_its_own_run_dir(tmp_path):
    # workers fork from a fork server the first run started: the second run's cache folder must reach them
    for name in ("first", "second"):
        recipe, _ = curate(tmp_path / name, [{"t_cache_dir": {}}], n=20, workers=2)
        folders = {s["meta"]["cache_dir"] for s in read_samples(tmp_path / name / "out")}
        assert folders == {str(tmp_path / name / "run" / "cache" / f"s0-{j:05d}") for j in range(2)}  # per shard


def test_grey_only_stages_decode_luma():
    width, decodable, blur, near = (op_class(n)() for n in ("t_image_width", "image_decodable", "image_blur",
                                                             "image_near_dedup"))
    assert decode_mode([decodable, near, blur]) == "L"
    assert decode_mode([decodable, width]) == "RGB" and decode_mode([]) == "RGB"


def test_decode_side_and_stages():
    width, decodable, blur, dedup = (op_class(n)() for n in ("t_image_width", "image_decodable", "image_blur",
                                                              "t_text_dedup"))
    assert decode_side([width, decodable]) == 32 and decode_side([width, blur]) is None and decode_side([]) is None
    stages = plan_stages([width, dedup, dedup, width, dedup])
    assert [(s.sample_ops, s.global_ops) for s in stages] == [([0], [1, 2]), ([3], [4]), ([], [])]


def test_candidates_carry_embeddings_and_tokens():
    samples = noisy_samples(2)
    samples[1]["meta"]["embedding"] = [0.5, 1.0]
    table = candidate_table(samples, op_class("random")(budget=1).count_tokens(samples))
    assert table["embedding"].to_pylist() == [None, [0.5, 1.0]]
    assert table["tokens"].to_pylist() == [9, 10]  # whitespace words by default: "<image>" counts as one


def test_same_recipe_gives_same_bytes(tmp_path):
    # across worker counts too: see test_engine_resume, which resumes with 1 and 2 workers
    curate(tmp_path / "a")
    curate(tmp_path / "b")
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.parquet") if "data" not in p.parts)
    assert len(files) > 10
    for file in files:
        assert (tmp_path / "a" / file).read_bytes() == (tmp_path / "b" / file).read_bytes(), file


def test_resume_rules(tmp_path):
    recipe, ledger = curate(tmp_path)
    assert run(recipe, resume=True, progress=False) == ledger  # finished: nothing to redo
    with pytest.raises(RunDirError, match="already holds a run"):
        run(recipe, progress=False)
    changed = Recipe.model_validate({**recipe.model_dump(), "seed": 1})
    with pytest.raises(RunDirError, match="recipe changed since the run"):
        run(changed, resume=True, progress=False)
    elsewhere = Recipe.model_validate({**recipe.model_dump(), "run_dir": str(tmp_path / "run2")})
    with pytest.raises(RecipeError, match="already holds Parquet files"):
        run(elsewhere, progress=False)


def test_ops_get_the_run_dirs_model_cache_without_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("SYNTHLOOP_CACHE_DIR", raising=False)
    recipe, _ = curate(tmp_path, [{"t_cache_dir": {}}], n=3)
    folders = {s["meta"]["cache_dir"] for s in read_samples(tmp_path / "out")}
    assert folders == {str(tmp_path / "run" / "cache" / "s0-00000")}  # one shard
    assert "SYNTHLOOP_CACHE_DIR" not in os.environ
