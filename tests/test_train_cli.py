import json

from typer.testing import CliRunner

from synthloop.cli import app
from synthloop.formats.parquet import write_samples
from synthloop.lab.toy import toy_samples

runner = CliRunner()


def test_train_command_writes_a_checkpoint(tmp_path):
    write_samples(toy_samples(8, image_size=16), tmp_path / "data")
    result = runner.invoke(app, ["train", str(tmp_path / "data"), "--out", str(tmp_path / "ck"), "--stage", "2",
                                 "--global-batch-size", "4", "--seed", "3"])
    # two steps teach nothing: the checkpoint is written, and the command fails saying its answers are empty
    assert result.exit_code == 2, result.output
    assert " ".join(result.output.split()).endswith(
        f"error: {tmp_path / 'ck'}: the model answers all 8 training questions it was asked with nothing (it ends "
        "every reply at once): train longer (--epochs, a smaller --global-batch-size) or on more data")
    assert sorted(p.name for p in (tmp_path / "ck").iterdir()) == [
        "config.json", "model.safetensors", "tokenizer.json", "training.json"]
    record = json.loads((tmp_path / "ck" / "training.json").read_text())
    assert record["seed"] == 3 and record["stages"][0]["samples_seen"] == 8 and record["stages"][0]["steps"] == 2
    result = runner.invoke(app, ["train", str(tmp_path / "data"), "--out", str(tmp_path / "ck2"), "--stage", "2",
                                 "--global-batch-size", "4", "--init", str(tmp_path / "ck")])
    assert "checkpoint written to" in result.output
    assert json.loads((tmp_path / "ck2" / "training.json").read_text())["init"] == str(tmp_path / "ck")
    assert (tmp_path / "ck2" / "tokenizer.json").read_bytes() == (tmp_path / "ck" / "tokenizer.json").read_bytes()


def test_train_command_reports_bad_input_in_one_line(tmp_path):
    write_samples(toy_samples(8, image_size=16), tmp_path / "data")
    cases = [
        (["train", str(tmp_path / "missing"), "--out", str(tmp_path / "ck")], "no such Parquet file or folder"),
        (["train", str(tmp_path / "data"), "--out", str(tmp_path / "ck"), "--max-samples", "5"],
         "holds 8 samples but the budget allows at most 5"),
        (["train", str(tmp_path / "data"), "--out", str(tmp_path / "ck"), "--stage", "3"], "--stage must be"),
        (["train", str(tmp_path / "data"), "--out", str(tmp_path / "ck"), "--global-batch-size", "4",
          "--init", str(tmp_path / "data")],
         "not a TinyVLM checkpoint"),
    ]
    for args, message in cases:
        result = runner.invoke(app, args)
        assert result.exit_code == 2
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], result.output
    assert not (tmp_path / "ck").exists()


def test_train_command_sets_the_width_positions_grounding_probes_and_referent_loss(tmp_path):
    from synthloop.lab.world import generate

    write_samples(generate(8, mix={"color": 1.0}, seed=1, image_size=32), tmp_path / "data")
    result = runner.invoke(app, ["train", str(tmp_path / "data"), "--out", str(tmp_path / "ck"), "--stage", "2",
                                 "--global-batch-size", "4", "--d-model", "32", "--grounding", "0.5",
                                 "--referents", "2", "--image-positions", "0.5"])
    assert result.exit_code == 0, result.output
    model = json.loads((tmp_path / "ck" / "config.json").read_text())["model"]
    assert model["d_model"] == 32 and model["image_pos_scale"] == 0.5
    record = json.loads((tmp_path / "ck" / "training.json").read_text())
    assert record["train_config"]["aux_losses"] == {"grounding": {"weight": 0.5}, "referents": {"weight": 2.0}}

