"""`synthloop eval --model URI` for every backend, and its prediction cache: an `hf:` tiny from-config
LLaVA, an `openai:` endpoint (`synthloop serve` on loopback) answering as the checkpoint it serves,
and an evaluation killed after two batches that resumes to the bytes of an uninterrupted one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from test_models_openai import served, tiny_checkpoint
from typer.testing import CliRunner

from synthloop.cli import app
from synthloop.evaluate.prediction_cache import CACHE_FILE, PredictionCache, model_fingerprint
from synthloop.evaluate.runner import evaluate
from synthloop.formats.parquet import read_samples, write_samples
from synthloop.lab.world.generate import benchmark
from synthloop.models.backends.hf import load_hf

OUTPUTS = ("results.json", "samples.jsonl", "weights.json")
MIX = {"color": 1.0, "count": 1.0, "mc": 1.0}


@pytest.fixture(scope="module")
def bench(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("bench")
    write_samples(benchmark(8, seed=5, mix=MIX, image_size=32), folder / "bench")
    tiny_checkpoint(folder / "ckpt")
    return folder


def run_eval(*args: str) -> str:
    result = CliRunner().invoke(app, ["eval", *args, "--max-new-tokens", "6", "--batch-size", "3"])
    assert result.exit_code == 0, result.output
    return result.output


def predictions(out: Path) -> list[tuple[str, str]]:
    rows = [orjson.loads(line) for line in (out / "samples.jsonl").read_bytes().splitlines()]
    return [(row["id"], row["prediction"]) for row in rows]


def test_eval_scores_a_hugging_face_model_as_the_python_runner_does(bench, tmp_path):
    pytest.importorskip("transformers")
    from tiny_llava import save_tiny_llava

    model = save_tiny_llava(tmp_path / "llava")
    output = run_eval("--model", f"hf:{model}", str(bench / "bench"), "--out", str(tmp_path / "cli"), "--device", "cpu")
    assert "on 8 samples (0 not scored)" in output
    direct = evaluate(load_hf(str(model), device="cpu"), read_samples(bench / "bench"), tmp_path / "direct",
                      batch_size=3, max_new_tokens=6)
    assert orjson.loads((tmp_path / "cli" / "results.json").read_bytes()) == direct
    assert predictions(tmp_path / "cli") == predictions(tmp_path / "direct") and len(predictions(tmp_path / "cli")) == 8


def test_eval_of_an_openai_endpoint_equals_eval_of_the_checkpoint_it_serves(bench, tmp_path):
    with served(str(bench / "ckpt"), "--name", "tiny") as url:
        run_eval("--model", f"openai:{url}#tiny", str(bench / "bench"), "--out", str(tmp_path / "served"),
                 "--concurrency", "2")
    run_eval(str(bench / "ckpt"), str(bench / "bench"), "--out", str(tmp_path / "local"))
    assert predictions(tmp_path / "served") == predictions(tmp_path / "local")
    for name in OUTPUTS:
        assert (tmp_path / "served" / name).read_bytes() == (tmp_path / "local" / name).read_bytes(), name


# Run `synthloop eval` in a child whose cache kills the process right after it saved its second batch.
KILLED_AFTER_TWO_BATCHES = """
import os, signal, sys
from synthloop.evaluate import prediction_cache
original = prediction_cache.PredictionCache.add
def add(self, *args):
    original(self, *args)
    self.batches = getattr(self, "batches", 0) + 1
    if self.batches == 2:
        os.kill(os.getpid(), signal.SIGKILL)
prediction_cache.PredictionCache.add = add
from synthloop.cli import app
app(sys.argv[1:])
"""


def test_a_killed_evaluation_resumes_from_its_cache_to_the_same_results(bench, tmp_path):
    args = ["eval", str(bench / "ckpt"), str(bench / "bench"), "--out", str(tmp_path / "killed"),
            "--max-new-tokens", "6", "--batch-size", "3"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[1] / "src"),
                                                        os.environ.get("PYTHONPATH", "")])}
    killed = subprocess.run([sys.executable, "-c", KILLED_AFTER_TWO_BATCHES, *args], env=env, capture_output=True,
                            check=False, timeout=300)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    cache = tmp_path / "killed" / CACHE_FILE
    assert len(cache.read_bytes().splitlines()) == 6 and not (tmp_path / "killed" / "results.json").exists()
    with cache.open("ab") as handle:  # and a line the kill cut short
        handle.write(b'{"key": "0123')
    resumed = CliRunner().invoke(app, args)
    assert resumed.exit_code == 0, resumed.output
    lines = [orjson.loads(line) for line in cache.read_bytes().splitlines()]
    assert [line["id"] for line in lines[:6]] == [sample_id for sample_id, _ in predictions(tmp_path / "killed")][:6]
    assert len(lines) == 8 and len({line["key"] for line in lines}) == 8  # the resumed run asked only for 2 more
    run_eval(str(bench / "ckpt"), str(bench / "bench"), "--out", str(tmp_path / "whole"))
    for name in OUTPUTS:
        assert (tmp_path / "killed" / name).read_bytes() == (tmp_path / "whole" / name).read_bytes(), name


def test_the_cache_key_changes_with_the_model_prompt_images_and_settings(tmp_path):
    sample = {"id": "s1", "images": [{"bytes": b"png", "path": None}]}
    cache = PredictionCache(tmp_path, "builtin:ckpt")
    key = cache.key(sample, ["What colour?"], max_new_tokens=6)
    assert key == PredictionCache(tmp_path, "builtin:ckpt").key(sample, ["What colour?"], max_new_tokens=6)
    assert len({key, cache.key({**sample, "id": "s2"}, ["What colour?"], max_new_tokens=6),
                cache.key(sample, ["What shape?"], max_new_tokens=6),
                cache.key({**sample, "images": [{"bytes": b"other", "path": None}]}, ["What colour?"], max_new_tokens=6),
                cache.key(sample, ["What colour?"], max_new_tokens=7),
                PredictionCache(tmp_path, "builtin:other").key(sample, ["What colour?"], max_new_tokens=6)}) == 6
    (tmp_path / "ckpt").mkdir()
    (tmp_path / "ckpt" / "model.safetensors").write_bytes(b"v1")
    before = model_fingerprint(f"builtin:{tmp_path / 'ckpt'}")
    (tmp_path / "ckpt" / "model.safetensors").write_bytes(b"v2 retrained")
    assert model_fingerprint(f"builtin:{tmp_path / 'ckpt'}") != before
    assert model_fingerprint("openai:http://h/v1#m") == "openai:http://h/v1#m"


def test_a_damaged_cache_is_one_line_naming_its_file_and_line(bench, tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / CACHE_FILE).write_bytes(b'{"key": "k", "id": "a", "prediction": "red"}\n[1, 2]\n')
    result = CliRunner().invoke(app, ["eval", str(bench / "ckpt"), str(bench / "bench"), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert result.output.strip() == (f"error: {tmp_path / 'out' / CACHE_FILE} line 2: not a cached prediction "
                                     "(delete the file to evaluate afresh)")
