"""URL tables read the same from Parquet, JSONL, CSV and TSV (img2dataset's layouts); bad rows are
rejected naming the file and row; a missing column is one line from `synthloop run`."""

from __future__ import annotations

import csv
import json

import pyarrow as pa
import pyarrow.parquet as pq
from typer.testing import CliRunner

from synthloop.cli import app
from synthloop.formats.common import Rejected
from synthloop.formats.urls import read_url_table

ROWS = [{"url": "http://a.test/1.jpg", "text": "a red car", "clip": 0.31},
        {"url": "https://b.test/2.png", "text": "two dogs, one ball", "clip": 0.27},
        {"url": "", "text": "no url", "clip": 0.1},
        {"url": "http://c.test/3.jpg", "text": "   ", "clip": 0.2}]


def write_all(folder):
    folder.mkdir()
    pq.write_table(pa.Table.from_pylist(ROWS), folder / "t.parquet")
    (folder / "t.jsonl").write_text("".join(json.dumps(row) + "\n" for row in ROWS))
    for name, delimiter in (("t.csv", ","), ("t.tsv", "\t")):
        with open(folder / name, "w", newline="") as handle:
            writer = csv.DictWriter(handle, ["url", "text", "clip"], delimiter=delimiter)
            writer.writeheader()
            writer.writerows(ROWS)
    return folder


def test_every_table_layout_gives_the_same_records(tmp_path):
    folder = write_all(tmp_path / "tables")
    read = {name: list(read_url_table(folder / name, text_column="text", score_columns=("clip",)))
            for name in ("t.parquet", "t.jsonl", "t.csv", "t.tsv")}
    for name, items in read.items():
        records = [item for item in items if isinstance(item, dict)]
        assert [(r["id"], r["urls"], r["caption"], r["scores"]) for r in records] == [
            ("t_0", ["http://a.test/1.jpg"], "a red car", {"clip": 0.31}),
            ("t_1", ["https://b.test/2.png"], "two dogs, one ball", {"clip": 0.27})], name
        rejected = [item for item in items if isinstance(item, Rejected)]
        assert [(r.index, r.sample_id) for r in rejected] == [(3, "t_2"), (4, "t_3")], name
        assert "'url' is not a URL" in rejected[0].reason and "'text' is not a caption" in rejected[1].reason
        assert records[0]["meta"]["input_shard"] == name
    assert len(list(read_url_table(folder, text_column="text"))) == 16  # a folder: every table in it


def test_a_missing_column_is_one_line_naming_the_file(tmp_path):
    folder = write_all(tmp_path / "tables")
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(f"inputs: [{{format: urls, path: {folder / 't.parquet'}, text_column: caption}}]\n"
                      f"output: {{path: {tmp_path / 'out'}}}\nrun_dir: {tmp_path / 'run'}\n")
    result = CliRunner().invoke(app, ["run", str(recipe)])
    assert result.exit_code != 0
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "t.parquet: no column 'caption'" in errors[0], result.output
    assert "Traceback" not in result.output
