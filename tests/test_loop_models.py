"""The loop recipe names its models: a two-round loop trained by the user's own command (a script that
calls `synthloop train`), a round evaluated through an `openai:` endpoint that the recipe's serve
command brings up with the round's checkpoint, and the recipe's checks of those names."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import httpx
import orjson
import pytest
from loop_small import QTYPES, TINY_TRAIN, small_recipe

from synthloop.loop.recipe import LoopRecipe
from synthloop.loop.rounds import run_loop
from synthloop.loop.serving import ServeError

SYNTHLOOP = f"{shlex.quote(sys.executable)} -c 'from synthloop.cli import app; app()'"
TRAIN_SH = f"""#!/bin/bash
# train.sh DATA OUT SEED EPOCHS GLOBAL_BATCH_SIZE [INIT]: the user's trainer, here synthloop's own
echo "training on $1"
exec {SYNTHLOOP} train "$1" --out "$2" --seed "$3" --epochs "$4" --global-batch-size "$5" --stage 2 \\
    --d-model 32 --no-check-answers ${{6:+--init "$6"}}
"""


def test_a_two_round_loop_with_a_command_trainer_writes_loop_json_for_both_arms(tmp_path):
    (tmp_path / "train.sh").write_text(TRAIN_SH)
    command = f"bash {tmp_path / 'train.sh'} {{data}} {{out}} {{seed}} {{epochs}} {{global_batch_size}} {{init}}"
    train = {k: v for k, v in TINY_TRAIN.items() if k != "settings"}
    recipe = LoopRecipe.model_validate({**small_recipe(tmp_path / "run"), "curate": [],
                                        "seed_pool": {"world": 32, "mix": QTYPES}, "benchmark": {"world": 12, "mix": QTYPES},
                                        "synthesis": {"budget": 12, "synthesizer": {"turns": 1}},
                                        "train": {**train, "trainer": "command", "command": command,
                                                  "format": "parquet"}})
    result = run_loop(recipe, log=lambda line: None)
    run = tmp_path / "run"
    assert orjson.loads((run / "loop.json").read_bytes()) == result
    assert [(e["round"], e["arm"]) for e in result["rounds"]] == [
        (0, "loop"), (0, "baseline"), (1, "loop"), (1, "baseline"), (2, "loop"), (2, "baseline")]
    for entry in result["rounds"][1:]:
        folder = run / ("round_0" if entry["round"] == 0 else f"{entry['arm']}/round_{entry['round']}")
        trained = orjson.loads((folder / "train" / "trained.json").read_bytes())
        training = orjson.loads((folder / "ckpt" / "training.json").read_bytes())
        assert trained == {"model": f"builtin:{folder / 'ckpt'}", "train_loss": entry["train_loss"]}
        assert entry["train_loss"] == training["stages"][-1]["losses"][-1]
        previous = None if entry["round"] == 0 else (
            run / "round_0" if entry["round"] == 1 else run / entry["arm"] / f"round_{entry['round'] - 1}")
        assert training["init"] == (None if previous is None else str(previous / "ckpt"))  # warm_start
        assert f"training on {folder / 'train' / 'data' / 'train'}" in (folder / "train" / "train.log").read_text()
        assert 0.0 <= entry["overall"] <= 1.0 and set(entry["per_qtype"]) == set(QTYPES)


def small_round_0(run_dir: Path, **evaluate) -> LoopRecipe:
    return LoopRecipe.model_validate({**small_recipe(run_dir), "rounds": 0, "baseline": False,
                                      "evaluate": {"batch_size": 16, "max_new_tokens": 8, **evaluate}})


def test_a_round_evaluated_through_a_served_endpoint_scores_as_its_checkpoint(tmp_path):
    from test_models_openai import free_port

    port = free_port()
    serve = f"{SYNTHLOOP} serve {{checkpoint}} --port {{port}} --name {{name}} --device cpu"
    served = small_round_0(tmp_path / "served", model=f"openai:http://127.0.0.1:{port}/v1#tiny", serve=serve,
                           concurrency=4)
    local = small_round_0(tmp_path / "local")
    assert run_loop(served, log=lambda line: None) == run_loop(local, log=lambda line: None)
    for name in ("samples.jsonl", "results.json"):
        assert (tmp_path / "served" / "round_0" / "eval" / name).read_bytes() == \
            (tmp_path / "local" / "round_0" / "eval" / name).read_bytes()
    log = (tmp_path / "served" / "round_0" / "eval" / "serve.log").read_text()
    assert log.startswith(f"$ {SYNTHLOOP} serve {tmp_path / 'served' / 'round_0' / 'ckpt'} --port {port} --name tiny")
    with pytest.raises(httpx.TransportError):  # the server is stopped after the evaluation
        httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=2)


def test_a_serve_command_that_exits_is_one_line_naming_its_log(tmp_path):
    recipe = small_round_0(tmp_path / "run", model="openai:http://127.0.0.1:9/v1#m",
                           serve="echo 'no GPU found' >&2; exit 4")
    with pytest.raises(ServeError, match=r"^the serve command exited with status 4 before http://127.0.0.1:9/v1/models "
                                         r"answered: no GPU found \(log: .*round_0/eval/serve.log\)$"):
        run_loop(recipe, log=lambda line: None)


RECIPE = "run_dir: out\nseed_pool: {world: 10}\nbenchmark: {world: 5}\n"


@pytest.mark.parametrize(("section", "error"), [
    ("evaluate: {serve: 'vllm serve {checkpoint}'}\n", r"line 4: evaluate: serve brings up the openai: endpoint"),
    ("evaluate: {model: 'openai:http://h:8000/v1#m', serve: 'vllm serve {ckpt}'}\n",
     r"line 4: evaluate.serve: .*unknown placeholder\(s\) \{ckpt\} \(known: \{checkpoint\} \{model\} \{port\} \{name\}\)"),
    ("evaluate: {model: 'gpt:4'}\n", r"line 4: evaluate.model: .*model URI 'gpt:4': expected one of"),
    ("synthesis: {synthesizer: {kind: model, generator: 'hf:x', judge: {model: 'hf:y', lo: 1}}}\n",
     r"line 4: synthesis.synthesizer.judge.lo: unknown key$"),
    ("evaluate: {model: 'openai:http://h:8000/v1#m'}\n",
     r"line 4: evaluate.model: an endpoint is scored as each round's checkpoint: give serve, the command that serves"),
    ("evaluate: {model: 'hf:llava-hf/llava-1.5-7b-hf'}\n",
     r"line 4: evaluate.model: hf:llava-hf/llava-1.5-7b-hf would be scored in place of each round's checkpoint"),
    ("synthesis: {synthesizer: {kind: model, generator: 'openai:http://h:8000/v1'}}\n",
     r"line 4: synthesis.synthesizer.generator.grounded_generate.model: model URI 'openai:http://h:8000/v1': expected "
     r"openai:<http\(s\) base_url>#<model>$"),
    ("synthesis:\n  synthesizer:\n    kind: model\n    generator: 'hf:x'\n    judge: 'gpt:4'\n",
     r"line 8: synthesis.synthesizer.judge.model: model URI 'gpt:4': expected one of builtin:, hf:, openai:, pkg:"),
    ("evaluate: {device: gpu}\n", r"line 4: evaluate.device: unknown device 'gpu': use auto, cpu, cuda or cuda:N$"),
    ("curate: [{caption: {model: 'hf:x', device: 'cuda:x'}}]\n", r"line 4: curate\[0\].caption.device: unknown device"),
    ("synthesis: {synthesizer: {kind: world, judge: 'hf:x'}}\n",
     r"line 4: synthesis.synthesizer: generator and judge are the model synthesizer's: set kind: model$"),
])
def test_the_recipes_model_names_are_checked_when_it_is_read(tmp_path, section, error):
    from synthloop.loop.recipe import LoopRecipeError

    (tmp_path / "loop.yaml").write_text(RECIPE + section)
    with pytest.raises(LoopRecipeError, match=error):
        LoopRecipe.from_yaml(tmp_path / "loop.yaml")


def test_the_generator_and_the_judge_may_be_named_by_uri(tmp_path):
    (tmp_path / "loop.yaml").write_text(RECIPE + "synthesis:\n  synthesizer: {kind: model, generator: "
                                        "'openai:http://h:8000/v1#gen', judge: 'hf:judge/'}\n")
    synthesizer = LoopRecipe.from_yaml(tmp_path / "loop.yaml").synthesis.synthesizer
    assert synthesizer.generator == {"grounded_generate": {"model": "openai:http://h:8000/v1#gen"}}
    assert synthesizer.judge == {"model": "hf:judge/"}
