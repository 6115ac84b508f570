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
