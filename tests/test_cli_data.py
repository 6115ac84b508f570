import json
import re

from test_formats_fixture import VARIED_RECORDS, write_fixture
from typer.testing import CliRunner

from synthloop.cli import app

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def test_convert_round_trip_through_dj_by_cli(tmp_path):
    src = write_fixture(tmp_path)
    result = invoke("convert", src, tmp_path / "out.jsonl", "--from", "llava", "--to", "dj")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "read 6, written 6, quarantined 0"
    result = invoke("convert", tmp_path / "out.jsonl", tmp_path / "back.json", "--from", "dj", "--to", "llava")
    assert result.exit_code == 0
    assert json.loads((tmp_path / "back.json").read_text()) == VARIED_RECORDS


def test_bad_input_exits_non_zero_with_one_line(tmp_path):
    src = write_fixture(tmp_path, "varied.jsonl")
    with open(src, "a", encoding="utf-8") as file:
        file.write('{"id": "broken", \n')
    result = invoke("convert", src, tmp_path / "out.jsonl", "--from", "llava", "--to", "messages")
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"error: {src}, line 7: column ")
    assert "malformed JSON" in result.stderr


def test_unknown_format_and_missing_source(tmp_path):
    result = invoke("convert", write_fixture(tmp_path), tmp_path / "o", "--from", "llava", "--to", "yaml")
    assert result.exit_code == 2
    assert result.stderr == ("error: unknown format 'yaml' to write "
                             "(known: dj, ids, img2dataset, llava, messages, parquet, sharegpt, webdataset)\n")
    result = invoke("convert", tmp_path / "nope.json", tmp_path / "o", "--from", "llava", "--to", "dj")
    assert result.exit_code == 2 and result.stderr == f"error: {tmp_path / 'nope.json'}: no such file or folder\n"
    result = invoke("convert", tmp_path / "varied.json", tmp_path / "o.jsonl", "--from", "csv", "--to", "dj")
    assert result.exit_code == 2 and result.stderr.startswith("error: unknown format 'csv' to read")
    assert not (tmp_path / "o.jsonl").exists()  # nothing is started before the input is known to be readable
    result = invoke("convert", tmp_path / "img", tmp_path / "o.jsonl", "--from", "parquet", "--to", "dj")
    assert result.exit_code == 2 and result.stderr == f"error: {tmp_path / 'img'}: no Parquet files\n"
    src = tmp_path / "varied.json"
    result = invoke("convert", src, src, "--from", "llava", "--to", "llava")
    assert result.exit_code == 2 and result.stderr == f"error: {src}: the output would overwrite the input\n"


def test_quarantine_writes_bad_samples_and_counts_add_up(tmp_path):
    src = write_fixture(tmp_path, "varied.jsonl")
    with open(src, "a", encoding="utf-8") as file:
        file.write("{not json}\n")
        file.write(json.dumps({"id": "few", "image": "img/wide.png", "conversations": [
            {"from": "human", "value": "no placeholder"}, {"from": "gpt", "value": "x"}]}) + "\n")
    (tmp_path / "img" / "tall.jpg").unlink()
    bad = tmp_path / "bad.jsonl"
    result = invoke("convert", src, tmp_path / "pq", "--from", "llava", "--to", "parquet", "--quarantine", bad)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"read 8, written 4, quarantined 4 (to {bad})"
    entries = [json.loads(line) for line in bad.read_text().splitlines()]
    assert [(e["id"], e["line"]) for e in entries] == [("multi_3", None), ("instruct_4", None), (None, 7), ("few", 8)]
    assert entries[3]["reason"] == "0 <image> placeholder(s) but 1 image(s)"
    assert entries[2]["record"] == "{not json}"
    assert entries[0]["record"]["images"] == [{"bytes": None, "path": "img/wide.png"},
                                              {"bytes": None, "path": "img/tall.jpg"}]


def test_subset_command(tmp_path):
    src = write_fixture(tmp_path)
    (tmp_path / "ids.txt").write_text("text_2\ncoco_1\n")
    result = invoke("subset", src, tmp_path / "ids.txt", tmp_path / "train.json")
    assert result.exit_code == 0 and result.stdout.strip() == f"wrote 2 samples to {tmp_path / 'train.json'}"
    assert json.loads((tmp_path / "train.json").read_text()) == [VARIED_RECORDS[1], VARIED_RECORDS[0]]
    again = invoke("subset", src, tmp_path / "ids.txt", tmp_path / "train.json")
    assert again.exit_code == 2 and "already exists; pass --overwrite" in again.stderr
    (tmp_path / "ids.txt").write_text("text_2\nghost\n")
    result = invoke("subset", src, tmp_path / "ids.txt", tmp_path / "train2.json")
    assert result.exit_code == 2 and result.stderr.endswith(f"1 id(s) not in pool {src}: ghost\n")
    assert not (tmp_path / "train2.json").exists()


def test_stats_counts(tmp_path):
    src = write_fixture(tmp_path)
    result = runner.invoke(app, ["stats", str(src)], env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith("6 samples")
    assert re.search(r"│ varied │ +6 │ 100.0% │", out)
    # turns 4, 3, 2, 2, 2, 2; image widths 200 (x4: wide) and 100 (x2: tall)
    assert re.search(r"turns │ +6 │ +2 │ +2.5 │ +2.0 │ +- │ +- │ +- │ +4 │", out)
    assert re.search(r"image width │ +6 │ +100 │ +166.67 │ +200.0 │ +- │ +- │ +- │ +200 │", out)
    assert re.search(r"│ 1 +│ +4 │ +66.7% │", out)  # images per sample


def test_formats_command_and_choices_come_from_the_registry(tmp_path):
    from synthloop.formats.catalog import FORMATS

    result = invoke("formats")
    assert result.exit_code == 0
    listed = [line.split("│")[1].strip() for line in result.stdout.splitlines() if line.startswith("│")]
    assert listed == sorted(FORMATS)
    result = invoke("convert", write_fixture(tmp_path), tmp_path / "o", "--from", "nope", "--to", "dj")
    readable = ", ".join(sorted(name for name, fmt in FORMATS.items() if fmt.read))
    assert result.stderr == f"error: unknown format 'nope' to read (known: {readable})\n"


def test_convert_copies_images_beside_the_output(tmp_path):
    src = write_fixture(tmp_path / "src")
    out = tmp_path / "moved" / "train.json"
    result = invoke("convert", src, out, "--from", "llava", "--to", "sharegpt", "--images", "copy")
    assert result.exit_code == 0, result.output
    records = json.loads(out.read_text())
    paths = {p for r in records for p in r["images"]}
    assert len(paths) == 2 and all(p.startswith("train_images/") and (out.parent / p).is_file() for p in paths)
    result = invoke("convert", src, out, "--from", "llava", "--to", "sharegpt", "--images", "all")
    assert result.exit_code != 0 and "--images 'all': expected one of keep, copy, embed" in result.stderr


def test_a_killed_image_copy_leaves_no_file_that_a_later_copy_trusts(tmp_path, monkeypatch):
    import io

    import pytest
    from PIL import Image

    from synthloop.formats.image_copies import place_images
    from synthloop.storage import Location

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buffer, format="PNG")
    sample = {"id": "s", "images": [{"bytes": buffer.getvalue(), "path": None}]}
    out = tmp_path / "train.json"
    write = Location._write

    def killed_half_way(location, _):
        def half(sink):
            sink.write(buffer.getvalue()[:10])
            raise KeyboardInterrupt
        write(location, half)

    monkeypatch.setattr(Location, "_write", killed_half_way)
    with pytest.raises(KeyboardInterrupt):
        place_images(sample, out, "copy")
    monkeypatch.undo()
    assert [p.name for p in (tmp_path / "train_images").iterdir() if not p.name.startswith(".")] == []
    copied = place_images(sample, out, "copy")["images"][0]["path"]
    assert (tmp_path / copied).read_bytes() == buffer.getvalue()
