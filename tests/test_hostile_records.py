"""Hostile records in the JSON and Parquet readers: one-line errors naming file and line/row, or quarantine."""

import json

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from synthloop.cli import app
from synthloop.formats.parquet import write_samples
from synthloop.sample import new_sample

TURNS = [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "yo"}]


def convert(src, dst, fmt="llava", *extra):
    result = CliRunner().invoke(app, ["convert", str(src), str(dst), "--from", fmt, "--to", "messages", *extra])
    assert "Traceback" not in result.output and result.exception is None or isinstance(result.exception, SystemExit)
    return result.exit_code, " ".join(result.output.split())


def quarantined(file):
    return {(row["line"], row["index"]): row for row in map(orjson.loads, file.read_bytes().splitlines())}


def test_deeply_nested_json_list_is_one_line(tmp_path):
    src = tmp_path / "deep.json"
    src.write_text('[{"id": "a", "conversations": ' + "[" * 100_000 + "]" * 100_000 + "}]")
    code, output = convert(src, tmp_path / "o.jsonl")
    assert code != 0 and f"{src}: line 1 column 2: record nested too deeply to read" in output


def test_deeply_nested_jsonl_line_is_quarantined(tmp_path):
    src = tmp_path / "deep.jsonl"
    src.write_text(json.dumps({"id": "ok", "conversations": TURNS}) + "\n" + "[" * 100_000 + "]" * 100_000 + "\n")
    code, output = convert(src, tmp_path / "o.jsonl", "llava", "--quarantine", str(tmp_path / "bad.jsonl"))
    assert code == 0 and "read 2, written 1, quarantined 1" in output
    assert "depth limit exceeded" in quarantined(tmp_path / "bad.jsonl")[2, 2]["reason"]


def test_lone_surrogate_and_list_id_are_quarantined(tmp_path):
    src = tmp_path / "bad.json"
    records = [{"id": "ok", "conversations": TURNS}, {"id": "s", "conversations": TURNS},
               {"id": ["a", "b"], "conversations": TURNS}, {"id": "big", "conversations": TURNS, "n": 2**70}]
    text = "[\n" + ",\n".join(json.dumps(r) for r in records) + "\n]\n"
    src.write_text(text.replace('"value": "yo"}]}', '"value": "\\ud800"}]}', 2).replace(
        '"value": "\\ud800"}]}', '"value": "yo"}]}', 1))  # only record 2 holds the lone surrogate
    code, output = convert(src, tmp_path / "o.jsonl", "llava", "--quarantine", str(tmp_path / "q.jsonl"))
    assert code == 0 and "read 4, written 1, quarantined 3" in output
    rows = quarantined(tmp_path / "q.jsonl")
    assert "record cannot be stored: str is not valid UTF-8: surrogates not allowed" in rows[3, 2]["reason"]
    assert rows[4, 3]["reason"] == "'id' must be a non-empty string or an integer, got [\"a\", \"b\"]"
    assert "64-bit" in rows[5, 4]["reason"]
    written = (tmp_path / "o.jsonl").read_text().splitlines()
    assert [json.loads(line)["messages"][1]["content"] for line in written] == [[{"type": "text", "text": "yo"}]]


def parquet_dataset(tmp_path, n=3):
    samples = [new_sample(f"s{i}", [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}])
               for i in range(n)]
    write_samples(samples, tmp_path / "pq")
    return tmp_path / "pq", tmp_path / "pq" / "part-00000.parquet"


def test_parquet_missing_column_names_the_file(tmp_path):
    folder, file = parquet_dataset(tmp_path)
    pq.write_table(pq.read_table(file).drop_columns(["messages"]), file)
    code, output = convert(folder, tmp_path / "o.jsonl", "parquet")
    assert code != 0 and f"{file}: not synthloop's canonical Parquet (columns: id, images, task" in output


def test_parquet_bad_meta_is_quarantined_with_file_and_row(tmp_path):
    folder, file = parquet_dataset(tmp_path)
    table = pq.read_table(file)
    meta = table.column("meta").to_pylist()
    meta[1] = "{not json"
    pq.write_table(table.set_column(table.schema.get_field_index("meta"), "meta", pa.array(meta)), file)
    code, output = convert(folder, tmp_path / "o.jsonl", "parquet", "--quarantine", str(tmp_path / "q.jsonl"))
    assert code == 0 and "read 3, written 2, quarantined 1" in output
    (row,) = quarantined(tmp_path / "q.jsonl").values()
    assert row["file"] == str(file) and row["reason"].startswith("row 1: JSONDecodeError")


@pytest.mark.parametrize("keep", [0.3, 0.9, 0.999])
def test_truncated_parquet_names_the_file(tmp_path, keep):
    folder, file = parquet_dataset(tmp_path, 200)
    data = file.read_bytes()
    file.write_bytes(data[:int(len(data) * keep)])
    code, output = convert(folder, tmp_path / "o.jsonl", "parquet")
    assert code != 0 and f"{file}: not a readable Parquet file" in output


def test_truncated_json_list_names_the_line_and_leaves_no_output(tmp_path):
    src = tmp_path / "cut.json"
    records = [{"id": f"r{i}", "conversations": TURNS} for i in range(5)]
    text = "[\n" + ",\n".join(json.dumps(r) for r in records) + "\n]\n"
    src.write_text(text[:text.index('"r3"') + 10])
    code, output = convert(src, tmp_path / "o.json")
    assert code == 2 and f"{src}: line 5 column" in output and "malformed JSON" in output
    assert not (tmp_path / "o.json").exists()


def test_truncated_parquet_input_to_a_run_is_one_line(tmp_path):
    folder, file = parquet_dataset(tmp_path, 200)
    file.write_bytes(file.read_bytes()[:file.stat().st_size // 2])
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"inputs: [{{format: parquet, path: {folder}}}]\noutput: {{path: {tmp_path / 'out'}}}\n"
                      f"run_dir: {tmp_path / 'run'}\n")
    result = CliRunner().invoke(app, ["run", str(recipe)])
    assert result.exit_code == 2 and result.exception is None or isinstance(result.exception, SystemExit)
    assert f"error: {file}: not a readable Parquet file" in " ".join(result.output.split())
    assert "Traceback" not in result.output
