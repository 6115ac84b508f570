"""`synthloop stats`: JSON output with token percentiles, and a one-line error for a missing path."""

import json

from test_engine_fixtures import noisy_samples, write_dataset
from test_select_tokens import IMAGE_TOKENS, own_count
from test_models_hf import tiny_tokenizer
from typer.testing import CliRunner

from synthloop.cli import app

runner = CliRunner()


def test_stats_json_counts_tokens_with_the_tokenizer(tmp_path):
    samples = noisy_samples(20)
    data = write_dataset(tmp_path / "data", samples)
    tokenizer = tiny_tokenizer()
    tokenizer.save_pretrained(tmp_path / "tok")
    result = runner.invoke(app, ["stats", str(data), "--json", "--no-image-sizes", "--tokenizer", str(tmp_path / "tok"),
                                 "--image-tokens", str(IMAGE_TOKENS)])
    assert result.exit_code == 0, result.output
    stats = json.loads(result.stdout)
    lengths = sorted(own_count(tokenizer, s) for s in samples)
    assert stats["samples"] == 20 and stats["by_task"] == {"vqa": 20}
    assert (stats["tokens"]["total"], stats["tokens"]["min"], stats["tokens"]["max"]) == (
        sum(lengths), lengths[0], lengths[-1])


def test_stats_on_a_missing_path_is_one_line(tmp_path):
    result = runner.invoke(app, ["stats", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert result.output == f"error: {tmp_path / 'nope'}: no such file or folder\n"


def test_stats_image_tokens_from_a_processor_folder_and_a_one_line_error_for_a_bad_one(tmp_path):
    from test_select_tokens import llava_processor_folder

    samples = noisy_samples(6)
    data = write_dataset(tmp_path / "data", samples)
    folder = llava_processor_folder(tmp_path / "processor")  # 21 tokens per image
    result = runner.invoke(app, ["stats", str(data), "--json", "--no-image-sizes", "--image-tokens", str(folder)])
    assert result.exit_code == 0, result.output
    words = sum(len(m["content"].replace("<image>", "").split()) for s in samples for m in s["messages"])
    assert json.loads(result.stdout)["tokens"]["total"] == words + 21 * sum(len(s["images"]) for s in samples)
    result = runner.invoke(app, ["stats", str(data), "--image-tokens", str(tmp_path / "nope")])
    assert result.exit_code == 2 and result.output.count("\n") == 1 and "neither a number nor a folder" in result.output
