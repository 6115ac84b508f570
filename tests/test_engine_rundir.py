"""The run directory holds what a run writes; --force starts over; --resume refuses changed inputs."""

import os

import orjson
import pytest
import test_engine_fixtures  # noqa: F401  (registers the t_ ops)
from test_engine_fixtures import noisy_samples, recipe_dict, write_dataset

from synthloop.engine import Recipe, RunDirError, run
from synthloop.formats.llava import sample_to_record
from synthloop.formats.parquet import read_samples

OPS = [{"image_decodable": {}}, {"answer_nonempty": {}}, {"t_text_dedup": {}}]


def _recipe(tmp_path, data, fmt="parquet"):
    spec = recipe_dict(tmp_path, data, OPS)
    spec["inputs"][0]["format"] = fmt
    return Recipe.model_validate(spec)


def test_audit_folders_are_in_the_run_dir_and_force_starts_over(tmp_path):
    recipe = _recipe(tmp_path, write_dataset(tmp_path / "data", noisy_samples(30)))
    ledger = run(recipe, progress=False)
    assert ledger["dropped_path"] == str(tmp_path / "run" / "dropped")
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == [  # cache/ comes with a model op's first call
        "dropped", "inputs.json", "ledger.json", "quarantine", "recipe.hash", "recipe.yaml", "stages"]
    with pytest.raises(RunDirError, match="already holds a run; continue it with --resume or start it over with --force"):
        run(recipe, progress=False)
    first = sorted((tmp_path / "out").glob("*.parquet"))
    (tmp_path / "run" / "dropped" / "part-s9-00099.parquet").write_bytes(b"stale")  # a part no new run writes
    again = run(recipe, progress=False, force=True)
    assert again == ledger and sorted((tmp_path / "out").glob("*.parquet")) == first
    assert not (tmp_path / "run" / "dropped" / "part-s9-00099.parquet").exists()
    with pytest.raises(RunDirError, match="give one of them"):
        run(recipe, resume=True, force=True, progress=False)


def _llava_input(tmp_path, samples):
    path = tmp_path / "data.jsonl"
    path.write_bytes(b"".join(orjson.dumps(sample_to_record(s, [])) + b"\n" for s in samples))
    return path


@pytest.mark.parametrize("change", ["size", "content_same_size_and_mtime"])
def test_resume_refuses_a_changed_input(tmp_path, change):
    samples = [{**s, "images": [], "messages": [{"role": m["role"], "content": m["content"].replace("<image>\n", "")}
                                                 for m in s["messages"]]} for s in noisy_samples(20)]
    path = _llava_input(tmp_path, samples)
    recipe = _recipe(tmp_path, path, fmt="llava")
    run(recipe, progress=False)
    assert run(recipe, resume=True, progress=False)["input"] == 20  # unchanged: resumes
    stat = path.stat()
    data = path.read_bytes()
    if change == "size":
        path.write_bytes(data + data.splitlines(keepends=True)[0].replace(b"s_0000", b"s_0999"))
        expected = r"input file .*data.jsonl changed \(size, modification time, content\)"
    else:
        edited = data[:-20] + data[-20:].replace(b"d", b"D")  # the last record edited, same length
        assert len(edited) == len(data) and edited != data
        path.write_bytes(edited)
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        expected = r"input file .*data.jsonl changed \(content\)"
    with pytest.raises(RunDirError, match=expected + " since it started; start over with --force"):
        run(recipe, resume=True, progress=False)
    assert run(recipe, force=True, progress=False)["input"] == (21 if change == "size" else 20)
    assert len(list(read_samples(tmp_path / "out"))) > 0
