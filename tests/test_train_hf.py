"""The `hf` trainer (TRL's SFTTrainer) on tiny from-config LLaVA and Idefics3 models and world data."""

from __future__ import annotations

import json
import sys

import pytest
import torch
from safetensors.torch import load_file

transformers = pytest.importorskip("transformers")
pytest.importorskip("trl")
pytest.importorskip("peft")

from tiny_vlms import tiny_idefics3, tiny_llava_15  # noqa: E402

from typer.testing import CliRunner  # noqa: E402

from synthloop.cli import app  # noqa: E402
from synthloop.formats.parquet import write_samples  # noqa: E402
from synthloop.images import decode  # noqa: E402
from synthloop.lab.world.generate import generate  # noqa: E402
from synthloop.models.protocols import Request  # noqa: E402
from synthloop.models.uri import load_model  # noqa: E402
from synthloop.train.hf_data import chat_rows  # noqa: E402
from synthloop.train.hf_sft import HFSettings, sft_trainer, train_hf  # noqa: E402
from synthloop.train.trainer import BudgetError  # noqa: E402
from synthloop.train.trainers import TrainerError, trainer_class  # noqa: E402

QUICK = {"micro_batch_size": 2, "gradient_checkpointing": False, "lr": 5e-3, "warmup_fraction": 0.0}
# What each architecture's training template puts inside {% generation %} for a reply R: LLaVA-1.5's
# "R " (with the </s> LLaVA trains on added to R, since the template leaves it out), TRL's Idefics3
# " R<end_of_utterance>\n".
REPLY_LABELS = {"llava": "{}</s> ", "idefics3": " {}<end_of_utterance>\n"}


@pytest.fixture(scope="module")
def bases(tmp_path_factory):
    root = tmp_path_factory.mktemp("bases")
    return {"llava": tiny_llava_15(root / "llava"), "idefics3": tiny_idefics3(root / "idefics3")}


@pytest.fixture(scope="module")
def world():
    return generate(12, mix={"color": 1, "shape": 1, "count": 1}, seed=0, image_size=32, turns=2)


def safetensors(folder) -> dict[str, torch.Tensor]:
    return {k: v for f in sorted(folder.glob("*.safetensors")) for k, v in load_file(f).items()}


def test_a_llava_sample_is_prompted_and_trained_in_llavas_own_layout(bases, world):
    """`<image>\nQ` gives LLaVA-1.5's own prompt, `USER: <image>\nQ ASSISTANT:` (haotian-liu/LLaVA
    llava/conversation.py @ 053c284: conv_vicuna_v1's get_prompt after its system prompt, which
    llava-hf's template leaves out), both where the hf: backend prompts and where the trainer renders a
    sample: the line break after `<image>` is the template's, not one more."""
    sample = {**world[0], "messages": [{"role": "user", "content": "<image>\nWhat colour is the cube?"},
                                       {"role": "assistant", "content": "Red"}]}
    model = load_model(f"hf:{bases['llava']}", device="cpu")
    request = Request([decode(sample["images"][0]["bytes"])], sample["messages"][:1])
    assert model._prompts([request]) == ["USER: <image>\nWhat colour is the cube? ASSISTANT:"]
    [row], skipped = chat_rows([sample], None, end="</s>")
    assert skipped == []
    assert model.processor.apply_chat_template(row["messages"], tokenize=False) == \
        "USER: <image>\nWhat colour is the cube? ASSISTANT: Red</s> "


@pytest.mark.parametrize("arch", ["llava", "idefics3"])
def test_labels_are_the_assistant_replies_only(arch, bases, world, tmp_path):
    run = sft_trainer(world[:4], str(bases[arch]), tmp_path, HFSettings(**QUICK), global_batch_size=4,
                      show_progress=False)
    batch = run.trainer.data_collator([run.trainer.train_dataset[i] for i in range(2)])
    tokenizer = run.trainer.processing_class.tokenizer
    for row, sample in enumerate(world[:2]):
        labels, ids = batch["labels"][row], batch["input_ids"][row]
        kept = (labels != -100).nonzero().flatten().tolist()
        assert labels[kept].tolist() == ids[kept].tolist()
        runs = [[kept[0]]]  # contiguous spans of trained positions, one per assistant turn
        for position in kept[1:]:
            runs.append([position]) if position != runs[-1][-1] + 1 else runs[-1].append(position)
        replies = [m["content"] for m in sample["messages"] if m["role"] == "assistant"]
        assert len(replies) == 2
        # equal up to a leading space that byte-level BPE merges into the reply's first token (" cross")
        assert [tokenizer.decode(ids[span]).lstrip(" ") for span in runs] == \
            [REPLY_LABELS[arch].format(r).lstrip(" ") for r in replies]
        image_token = run.trainer.processing_class.image_token_id
        assert (ids == image_token).sum() > 0 and (labels == image_token).sum() == 0


@pytest.mark.parametrize("arch", ["llava", "idefics3"])
def test_synthloop_train_fine_tunes_and_the_checkpoint_reloads_through_hf(arch, bases, world, tmp_path):
    write_samples(world, tmp_path / "data")
    out = tmp_path / "ckpt"
    settings = [arg for key, value in QUICK.items() for arg in ("--set", f"{key}={value}")]
    result = CliRunner().invoke(app, ["train", str(tmp_path / "data"), "--out", str(out), "--model",
                                      f"hf:{bases[arch]}", "--epochs", "2", "--global-batch-size", "4", *settings])
    assert result.exit_code == 0 and f"checkpoint written to {out} (hf:{out})" in " ".join(result.output.split())
    record = json.loads((out / "training.json").read_text())
    stage = record["stages"][0]
    assert (stage["steps"], stage["planned_steps"], stage["samples_seen"]) == (6, 6, 24)
    assert stage["micro_batch_size"] == 2 and len(stage["losses"]) == 6 and stage["losses"][-1] < stage["losses"][0]
    assert record["train_config"]["lr"] == 5e-3 and record["dtype"] == "float32"
    before, after = safetensors(bases[arch]), safetensors(out)
    assert before.keys() == after.keys()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    vision = {k for k in before if "vision" in k and "projector" not in k and "connector" not in k}
    assert vision and not changed & vision  # the vision tower is frozen
    assert any("lm_head" in k or "language_model" in k or "text_model" in k for k in changed)
    trained = load_model(f"hf:{out}", device="cpu")
    sample = world[0]
    request = Request([decode(sample["images"][0]["bytes"])], sample["messages"][:1])
    generation = trained.generate([request], max_new_tokens=3)[0]
    assert 1 <= len(generation.token_logprobs) <= 3 and all(p <= 0 for p in generation.token_logprobs)
    original = load_model(f"hf:{bases[arch]}", device="cpu")
    assert trained.processor.chat_template == original.processor.chat_template  # not TRL's training version
    # `synthloop eval --model hf:CKPT` scores a benchmark with the fine-tuned checkpoint
    result = CliRunner().invoke(app, ["eval", "--model", f"hf:{out}", str(tmp_path / "data"), "--out",
                                      str(tmp_path / "eval"), "--max-new-tokens", "3", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    results = json.loads((tmp_path / "eval" / "results.json").read_text())
    assert (results["n"], results["errors"]) == (len(world), 0) and 0.0 <= results["overall"] <= 1.0
    rows = (tmp_path / "eval" / "samples.jsonl").read_text().splitlines()
    assert [json.loads(row)["id"] for row in rows] == [sample["id"] for sample in world]


def test_lora_merges_into_the_linear_layers_outside_the_vision_tower(bases, world, tmp_path):
    out = train_hf(world[:4], tmp_path / "ckpt", str(bases["llava"]), global_batch_size=4, show_progress=False,
                   lora=True, lora_r=4, lora_alpha=8, **QUICK)
    before, after = safetensors(bases["llava"]), safetensors(out)
    assert before.keys() == after.keys()  # merged: no adapter tensors left
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    attention = {f"language_model.model.layers.0.self_attn.{p}_proj.weight" for p in "qkvo"}
    mlp = {f"language_model.model.layers.0.mlp.{p}_proj.weight" for p in ("gate", "up", "down")}
    projector = {f"multi_modal_projector.linear_{k}.weight" for k in (1, 2)}
    assert changed == attention | mlp | projector


def test_the_same_seed_gives_the_same_weights(bases, world, tmp_path):
    runs = [train_hf(world[:8], tmp_path / name, str(bases["idefics3"]), global_batch_size=4, seed=seed,
                     show_progress=False, **QUICK) for name, seed in (("a", 1), ("b", 1), ("c", 2))]
    first, again, other = (safetensors(run) for run in runs)
    assert all(torch.equal(first[k], again[k]) for k in first)
    assert not all(torch.equal(first[k], other[k]) for k in first)  # the seed orders the data


def test_a_time_budget_stops_training_after_the_step_that_spends_it(bases, world, tmp_path):
    out = train_hf(world[:8], tmp_path / "ckpt", str(bases["llava"]), global_batch_size=4, time_budget_s=0,
                   show_progress=False, **QUICK)
    stage = json.loads((out / "training.json").read_text())["stages"][0]
    assert (stage["steps"], stage["planned_steps"], stage["samples_seen"], len(stage["losses"])) == (1, 2, 4, 1)


def test_a_bad_sample_is_skipped_with_its_reason(bases, world, tmp_path):
    broken = dict(world[1], images=[{"bytes": b"not an image", "path": None}])
    out = train_hf([world[0], broken, *world[2:5]], tmp_path / "ckpt", str(bases["llava"]), global_batch_size=4,
                   show_progress=False, **QUICK)
    stage = json.loads((out / "training.json").read_text())["stages"][0]
    assert stage["samples"] == 4 and [s[0] for s in stage["skipped"]] == [broken["id"]]
    assert "image 0" in stage["skipped"][0][1]


def test_budget_and_setting_errors(bases, world, tmp_path):
    with pytest.raises(BudgetError, match="at most 3"):
        train_hf(world, tmp_path / "a", str(bases["llava"]), max_samples=3)
    with pytest.raises(BudgetError, match="exceeds"):
        train_hf(world[:4], tmp_path / "b", str(bases["llava"]), global_batch_size=8)
    with pytest.raises(ValueError, match="(?s)lerning_rate.*Extra inputs are not permitted"):
        train_hf(world[:4], tmp_path / "c", str(bases["llava"]), global_batch_size=4, lerning_rate=1.0)
    with pytest.raises(ValueError, match=r"^hf:.*Unrecognized model"):
        train_hf(world[:4], tmp_path / "d", str(tmp_path), global_batch_size=4)
    transformers.LlamaConfig(hidden_size=8, num_hidden_layers=1, num_attention_heads=1).save_pretrained(tmp_path / "lm")
    with pytest.raises(ValueError, match="not an image-text-to-text model"):
        train_hf(world[:4], tmp_path / "e", str(tmp_path / "lm"), global_batch_size=4)


def test_a_template_without_assistant_marks_is_refused_in_one_line(bases, world, tmp_path):
    import shutil

    folder = shutil.copytree(bases["llava"], tmp_path / "plain")
    (folder / "chat_template.jinja").write_text("{% for m in messages %}{{ m['role'] }}{% endfor %}")
    for stale in folder.glob("chat_template.json"):
        stale.unlink()
    with pytest.raises(ValueError, match=r"^hf:.*no \{% generation %\} blocks.*chat_template setting$"):
        train_hf(world[:4], tmp_path / "ckpt", str(folder), global_batch_size=4)


def test_synthloop_train_reports_a_bad_setting_in_one_line(bases, world, tmp_path):
    write_samples(world[:4], tmp_path / "data")
    base = ["train", str(tmp_path / "data"), "--out", str(tmp_path / "ckpt"), "--model", f"hf:{bases['llava']}"]
    for extra, message in [(["--set", "lora_r=0"], "error: --set lora_r: Input should be greater than or equal to 1"),
                           (["--set", "lorra=true"], "error: --set lorra: unknown key"),
                           (["--set", "lora"], "error: --set 'lora': give KEY=VALUE"),
                           (["--set", "lr_scheduler=cosin"], "error: --set lr_scheduler: cosin is not a valid "
                            "SchedulerType, please select one of ['linear', 'cosine', 'cosine_with_restarts', "
                            "'polynomial', 'constant', 'constant_with_warmup', 'inverse_sqrt', 'reduce_lr_on_plateau', "
                            "'cosine_with_min_lr', 'cosine_warmup_with_min_lr', 'warmup_stable_decay', 'greedy']")]:
        result = CliRunner().invoke(app, [*base, *extra])
        assert result.exit_code == 2 and " ".join(result.output.split()) == message, result.output


def test_without_trl_the_hf_trainer_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "trl", None)
    monkeypatch.delitem(sys.modules, "synthloop.train.trainers.hf", raising=False)
    with pytest.raises(TrainerError, match=r"pip install 'synthloop\[train-hf\]' \(no module named trl\)$"):
        trainer_class("hf")



def test_a_two_round_loop_with_the_hf_trainer_writes_loop_json_for_both_arms(bases, tmp_path):
    from loop_small import QTYPES, small_recipe

    from synthloop.loop.recipe import LoopRecipe
    from synthloop.loop.rounds import run_loop

    recipe = small_recipe(tmp_path / "loop")
    recipe["train"] = {"trainer": "hf", "model": f"hf:{bases['idefics3']}", "epochs": 1, "global_batch_size": 16,
                       "warm_start": True, "replay": 16, "settings": {**QUICK, "micro_batch_size": 8}}
    result = run_loop(LoopRecipe.model_validate(recipe), log=lambda line: None)
    run_dir = tmp_path / "loop"
    assert json.loads((run_dir / "loop.json").read_text()) == result
    assert [(e["round"], e["arm"]) for e in result["rounds"]] == [
        (0, "loop"), (0, "baseline"), (1, "loop"), (1, "baseline"), (2, "loop"), (2, "baseline")]
    for entry in result["rounds"]:
        folder = run_dir / ("round_0" if entry["round"] == 0 else f"{entry['arm']}/round_{entry['round']}")
        training = json.loads((folder / "ckpt" / "training.json").read_text())
        assert training["trainer"] == "hf" and entry["train_loss"] == training["stages"][-1]["losses"][-1]
        trained = json.loads((folder / "train" / "trained.json").read_text())
        assert trained["model"] == f"hf:{folder / 'ckpt'}"  # what the round evaluated
        assert set(entry["per_qtype"]) == set(QTYPES) and 0 <= entry["overall"] <= 1
        if entry["round"]:  # a warm round fine-tunes its arm's previous checkpoint
            previous = run_dir / ("round_0" if entry["round"] == 1 else f"{entry['arm']}/round_1")
            assert training["init"] == str(previous / "ckpt")
