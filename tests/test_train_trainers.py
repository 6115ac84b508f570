"""Trainer kinds: the registry, the command trainer (the user's script, here one that calls `synthloop
train`), its one-line failures, and the recipe's `train:` naming a trainer and its settings."""

from __future__ import annotations

import json
import shlex
import sys
from importlib.util import find_spec
from pathlib import Path

import pytest
from typer.testing import CliRunner

from synthloop.cli import app
from synthloop.formats.parquet import write_samples
from synthloop.lab.toy import toy_samples
from synthloop.loop.recipe import LoopRecipe, LoopRecipeError
from synthloop.train import trainers
from synthloop.train.trainers import TrainerError, TrainJob, make_trainer

SYNTHLOOP = f"{shlex.quote(sys.executable)} -c 'from synthloop.cli import app; app()'"
TINY = "--stage 2 --global-batch-size 4 --d-model 32 --no-check-answers"


def job(tmp_path: Path, n: int = 8, **kwargs) -> TrainJob:
    return TrainJob(toy_samples(n, image_size=16), tmp_path / "ckpt", tmp_path / "work", seed=3, **kwargs)


def test_the_command_trainer_exports_the_data_runs_the_script_and_takes_its_checkpoint(tmp_path):
    script = tmp_path / "train.sh"
    script.write_text(f'echo "training on $1"\n{SYNTHLOOP} train "$1" --out "$2" --seed "$3" {TINY}\n')
    trainer = make_trainer("command", {"command": f"bash {script} {{data}} {{out}} {{seed}}", "format": "parquet"})
    trained = trainer.train(job(tmp_path))
    assert trained.model == f"builtin:{tmp_path / 'ckpt'}"
    training = json.loads((tmp_path / "ckpt" / "training.json").read_text())
    assert training["seed"] == 3 and training["stages"][0]["samples_seen"] == 8
    assert trained.train_loss == training["stages"][-1]["losses"][-1]
    log = (tmp_path / "work" / "train.log").read_text()
    assert log.startswith(f"$ bash {script} {tmp_path / 'work' / 'data' / 'train'} {tmp_path / 'ckpt'} 3\n")
    assert f"training on {tmp_path / 'work' / 'data' / 'train'}" in log and "checkpoint written to" in log


def test_the_command_trainer_writes_the_named_format_with_its_images(tmp_path):
    trainer = make_trainer("command", {"command": "mkdir -p {out} && cp {data} {out}/config.json"})  # llava
    with pytest.raises(TrainerError, match=r"ckpt/config.json: not a model config \(a JSON object\)$"):
        trainer.train(job(tmp_path))
    records = json.loads((tmp_path / "work" / "data" / "train.json").read_text())
    images = [name for r in records for name in (r["image"] if isinstance(r["image"], list) else [r["image"]])]
    assert len(records) == 8 and len(images) == 10  # two of the toy samples compare two images
    assert all((tmp_path / "work" / "data" / name).is_file() for name in images)


@pytest.mark.parametrize(("command", "error"), [
    ("echo starting; echo 'CUDA out of memory' >&2; exit 3 # {out}",
     r"^train command exited with status 3: CUDA out of memory \(full log: .*work/train.log\)$"),
    ("echo done {out}", r"^train command left no checkpoint in .*ckpt \(log: .*work/train.log\)$"),
])
def test_a_failing_or_empty_command_is_one_line_naming_its_log(tmp_path, command, error):
    with pytest.raises(TrainerError, match=error):
        make_trainer("command", {"command": command}).train(job(tmp_path))


def test_the_command_trainer_keeps_the_budget(tmp_path):
    with pytest.raises(TrainerError, match="holds 8 samples but the budget allows at most 5"):
        make_trainer("command", {"command": "true {out}"}).train(job(tmp_path, max_samples=5))


def test_a_trainer_whose_extra_is_missing_says_which_to_install(monkeypatch):
    monkeypatch.setitem(trainers.KINDS, "fancy", ("synthloop.train.trainers.not_installed", "train-fancy"))
    with pytest.raises(TrainerError, match=r"the fancy trainer needs what the train-fancy extra installs: "
                                           r"pip install 'synthloop\[train-fancy\]'"):
        make_trainer("fancy")
    with pytest.raises(TrainerError, match=r"unknown trainer 'nope' \(known: builtin, command, "):
        make_trainer("nope")


RECIPE = "run_dir: out\nseed_pool: {world: 10}\nbenchmark: {world: 5}\ntrain:\n"
NEEDS_TRAIN_HF = pytest.mark.skipif(not all(find_spec(name) for name in ("trl", "peft")), reason="train-hf extra")


@pytest.mark.parametrize(("train", "error"), [
    ("  trainer: nope\n", r"loop.yaml line 5: train.trainer: unknown trainer 'nope'"),
    ("  trainer: command\n  command: bash train.sh {data} {outt}\n",
     r"line 6: train.command: Value error, unknown placeholder\(s\) \{outt\}|line 6: train.command: unknown placeholder"),
    ("  trainer: command\n  command: bash train.sh {data} {out}\n  format: lava\n",
     r"line 7: train.format: unknown format 'lava' to write"),
    ("  trainer: command\n  settings: {command: 'x {out}', d_model: 3}\n", r"line 6: train.settings.d_model: unknown key"),
    ("  trainer: command\n", r"line 4: train.command: Field required"),
    ("  d_model: wide\n", r"line 5: train.d_model: Input should be a valid integer"),
    ("  model: hf:llava-hf/llava-1.5-7b-hf\n",
     r"line 5: train.model: the builtin trainer trains a new TinyVLM \(model: builtin, or none\), not 'hf:llava"),
    pytest.param("  trainer: hf\n", r"line 4: train.model: the hf trainer fine-tunes a model named "
                 r"hf:<hub id or folder>, none given$", marks=NEEDS_TRAIN_HF),
    pytest.param("  trainer: hf\n  model: llava-hf/llava-1.5-7b-hf\n",
                 r"line 6: train.model: .* hf:<hub id or folder>, not 'llava-hf/llava-1.5-7b-hf'$", marks=NEEDS_TRAIN_HF),
    pytest.param("  trainer: hf\n  model: hf:x\n  stage: '1'\n",
                 r"line 7: train.stage: the hf trainer fine-tunes in one stage", marks=NEEDS_TRAIN_HF),
    ("  settings: {vision: resnet}\n", r"line 5: train.settings.vision: Input should be 'conv' or 'efficientnet-lite0'$"),
    pytest.param("  trainer: hf\n  model: hf:x\n  settings: {lora: maybe}\n",
                 r"line 7: train.settings.lora: Input should be a valid boolean", marks=NEEDS_TRAIN_HF),
    pytest.param("  trainer: hf\n  model: hf:x\n  chat_template: no/such.jinja\n",
                 r"line 7: train.chat_template: no/such.jinja: no such file$", marks=NEEDS_TRAIN_HF),
    pytest.param("  trainer: hf\n  model: hf:x\n  device: GPU\n",
                 r"line 7: train.device: unknown device 'GPU': use auto, cpu, cuda or cuda:N$", marks=NEEDS_TRAIN_HF),
])
def test_a_recipes_trainer_and_its_settings_are_checked_when_it_is_read(tmp_path, train, error):
    (tmp_path / "loop.yaml").write_text(RECIPE + train)
    with pytest.raises(LoopRecipeError, match=error):
        LoopRecipe.from_yaml(tmp_path / "loop.yaml")


def test_synthloop_loop_refuses_a_trainer_that_cannot_start_before_it_runs_anything(tmp_path):
    (tmp_path / "loop.yaml").write_text(RECIPE.replace("out", str(tmp_path / "run")) + "  model: hf:x\n")
    result = CliRunner().invoke(app, ["loop", str(tmp_path / "loop.yaml")])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [f"error: {tmp_path / 'loop.yaml'} line 5: train.model: the builtin "
                                                  "trainer trains a new TinyVLM (model: builtin, or none), not 'hf:x'"]
    assert not (tmp_path / "run").exists()


def test_a_recipes_trainer_settings_may_sit_beside_the_shared_ones(tmp_path):
    (tmp_path / "loop.yaml").write_text(RECIPE + "  trainer: command\n  command: bash t.sh {data} {out}\n  epochs: 1\n")
    spec = LoopRecipe.from_yaml(tmp_path / "loop.yaml").train
    assert (spec.trainer, spec.epochs, spec.settings) == ("command", 1, {"command": "bash t.sh {data} {out}",
                                                                          "format": "llava"})


def test_train_picks_the_trainer_by_the_models_scheme(tmp_path):
    runner = CliRunner()
    write_samples(toy_samples(8, image_size=16), tmp_path / "data")
    base = ["train", str(tmp_path / "data"), *TINY.split()]
    first = runner.invoke(app, [*base, "--out", str(tmp_path / "ck")])
    assert first.exit_code == 0, first.output
    again = runner.invoke(app, [*base, "--out", str(tmp_path / "ck2"), "--model", f"builtin:{tmp_path / 'ck'}"])
    assert again.exit_code == 0, again.output
    assert json.loads((tmp_path / "ck2" / "training.json").read_text())["init"] == str(tmp_path / "ck")
    for model, message in [("nope:x", "unknown trainer 'nope'"),
                           ("command:x", "the command trainer does not take them")]:
        args = [*base, "--out", str(tmp_path / "ck3"), "--model", model]
        result = runner.invoke(app, args)
        assert result.exit_code == 2 and message in result.output, result.output


def test_a_hugging_face_checkpoint_the_command_leaves_is_taken_as_hf_with_its_logged_loss(tmp_path):
    state = {"log_history": [{"loss": 2.5, "step": 1}, {"loss": 1.25, "step": 2}, {"train_runtime": 3.0}]}
    script = tmp_path / "hf_train.sh"
    script.write_text(f"mkdir -p \"$1\"\necho '{{\"model_type\": \"llava\"}}' > \"$1/config.json\"\n"
                      f"echo '{json.dumps(state)}' > \"$1/trainer_state.json\"\n")
    trained = make_trainer("command", {"command": f"bash {script} {{out}}"}).train(job(tmp_path))
    assert (trained.model, trained.train_loss) == (f"hf:{tmp_path / 'ckpt'}", 1.25)
