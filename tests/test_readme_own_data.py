"""The README's "Your own data" walkthrough, run as written on a small LLaVA JSON + image folder."""

import json
import re
import shlex
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from PIL import Image
from test_models_hf import tiny_tokenizer
from typer.testing import CliRunner

from synthloop.cli import app

README = Path(__file__).resolve().parents[1] / "README.md"


def walkthrough() -> tuple[list[list[str]], str]:
    """(the commands of the section's bash block, its YAML block)."""
    section = README.read_text().split("## Your own data\n", 1)[1].split("\n## ", 1)[0]
    bash = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    recipe = re.search(r"```yaml\n(.*?)```", section, re.S).group(1)
    return [shlex.split(line)[1:] for line in bash.splitlines() if line.startswith("synthloop ")], recipe


def _fixture(folder: Path) -> list[dict]:
    """3 photos x 3 questions, one question asked twice, a text-only conversation, a truncated image file
    (convert checks headers, so it reaches the run, whose image_decodable decodes it)."""
    (folder / "images").mkdir()
    rng = np.random.default_rng(0)
    for k in range(3):
        pixels = Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).resize((64, 48), Image.BICUBIC)
        pixels.save(folder / "images" / f"photo{k}.jpg", quality=90)
    photo = (folder / "images" / "photo0.jpg").read_bytes()
    (folder / "images" / "broken.jpg").write_bytes(photo[:len(photo) // 2])  # its header reads, its pixels do not
    questions = ["Is there a dog? Answer the question using a single word or phrase.",
                 "How many people are there? Answer the question using a single word or phrase.",
                 "Briefly describe the content of the image."]
    answers = ["No", "3", "A quiet street with a red door."]
    records = [{"id": f"user_{k}{q}", "image": f"photo{k}.jpg", "conversations": [
        {"from": "human", "value": f"<image>\n{questions[q]}"}, {"from": "gpt", "value": answers[q]}]}
        for k in range(3) for q in range(3)]
    records.append({**records[0], "id": "user_again"})  # the same question about the same photo
    records.append({"id": "user_text", "conversations": [{"from": "human", "value": "Say hi."},
                                                         {"from": "gpt", "value": "Hi."}]})
    records.append({"id": "user_broken", "image": "broken.jpg", "conversations": [
        {"from": "human", "value": "<image>\nWhat is it?"}, {"from": "gpt", "value": "A door."}]})
    (folder / "data.json").write_text(json.dumps(records))
    return records


def test_the_walkthrough_runs_as_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    records = _fixture(tmp_path)
    tiny_tokenizer().save_pretrained(tmp_path / "tokenizer")
    commands, recipe = walkthrough()
    (tmp_path / "curate.yaml").write_text(recipe)
    assert [c[0] for c in commands] == ["convert", "stats", "run", "stats", "convert", "convert"]
    runner = CliRunner()
    for command in commands:
        result = runner.invoke(app, command, env={"COLUMNS": "200"})
        assert result.exit_code == 0, f"{command}: {result.output}"
    ledger = json.loads((tmp_path / "runs/curate/ledger.json").read_text())
    assert ledger["input"] == len(records) == ledger["output"] + ledger["dropped"] + ledger["quarantined"]
    steps = {e["op"]: e for e in ledger["ops"]}
    assert steps["image_decodable"]["quarantined"] == 1 and steps["exact_dedup"]["dropped"] == 1
    assert steps["image_near_dedup"]["dropped"] == 0  # different questions about one photo all stay
    curated = pq.read_table(tmp_path / "curated").to_pylist()
    assert {row["task"] for row in curated} <= {"vqa", "caption"} and all(row["qtype"] for row in curated)
    exported = json.loads((tmp_path / "export/train.json").read_text())
    assert sorted(r["id"] for r in exported) == sorted(row["id"] for row in curated)
    for record in exported:
        if "image" in record:
            assert (tmp_path / "export" / record["image"]).is_file()
    messages = [json.loads(line) for line in (tmp_path / "export/train.jsonl").read_text().splitlines()]
    assert len(messages) == len(exported) and all(m["messages"][0]["role"] == "user" for m in messages)

