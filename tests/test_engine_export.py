"""A recipe's output in any registered format, with image paths the target tool resolves."""

import json
from pathlib import Path

import pytest
from pydantic import ValidationError
from test_formats_fixture import VARIED_RECORDS, write_fixture

from synthloop.engine import Recipe, run
from synthloop.formats import registry


def recipe(tmp_path: Path, output: dict, ops: list | None = None) -> Recipe:
    src = write_fixture(tmp_path / "src")
    return Recipe.model_validate({
        "inputs": [{"format": "llava", "path": str(src), "image_root": str(tmp_path / "src")}],
        "ops": ops or [{"answer_nonempty": {}}],
        "output": output, "run_dir": str(tmp_path / "run"),
        "executor": {"workers": 1, "batch_size": 4, "shard_rows": 4}, "seed": 0})


def test_dj_output_keeps_paths_relative_to_the_output_file(tmp_path):
    out = tmp_path / "out" / "train.jsonl"
    ledger = run(recipe(tmp_path, {"format": "dj", "path": str(out)}), progress=False)
    assert ledger["export"]["written"] == ledger["output"] == len(VARIED_RECORDS)
    assert ledger["export"]["rejected"] == 0
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    for record in records:
        for path in record["images"]:
            assert not Path(path).is_absolute() and (out.parent / path).is_file()
    back = {s["id"]: s["messages"] for s in registry.read("dj", out)}
    assert back == {s["id"]: s["messages"] for s in registry.read("llava", tmp_path / "src" / "varied.json")}


def test_copy_puts_the_images_beside_the_output_and_sharegpt_rejects_are_counted(tmp_path):
    out = tmp_path / "lf" / "data.json"
    ledger = run(recipe(tmp_path, {"format": "sharegpt", "path": str(out), "images": "copy"}), progress=False)
    records = json.loads(out.read_text(encoding="utf-8"))
    paths = {p for r in records for p in r["images"]}
    assert all(p.startswith("data_images/") and (out.parent / p).is_file() for p in paths)
    assert len(paths) == 2  # the two image files, each copied once
    assert ledger["export"]["written"] + ledger["export"]["rejected"] == ledger["output"]


def test_parquet_embed_carries_the_bytes_and_an_unknown_format_is_refused(tmp_path):
    out = tmp_path / "pq"
    run(recipe(tmp_path, {"format": "parquet", "path": str(out), "images": "embed"}), progress=False)
    samples = list(registry.read("parquet", out))
    assert all(im["bytes"] for s in samples for im in s["images"])
    with pytest.raises(ValidationError, match="unknown format .csv. to write"):
        recipe(tmp_path / "b", {"format": "csv", "path": str(out)})
