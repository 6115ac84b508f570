import json

import pytest
from test_formats_fixture import write_fixture

from synthloop.formats import registry
from synthloop.formats.common import FormatError

GOOD = {"id": "ok_1", "conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hello"}]}


def jsonl(path, *lines: str):
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def collect(fmt, path, **kwargs):
    bad = []
    samples = list(registry.read(fmt, path, on_bad=bad.append, **kwargs))
    return samples, bad


def test_malformed_json_line_names_file_and_line(tmp_path):
    path = jsonl(tmp_path / "data.jsonl", json.dumps(GOOD), '{"id": "x", "conversations": [', json.dumps(GOOD))
    with pytest.raises(FormatError, match=r"data.jsonl, line 2: column \d+: malformed JSON"):
        list(registry.read("llava", path))
    samples, bad = collect("llava", path)
    assert len(samples) == 2 and len(bad) == 1
    assert (bad[0].line, bad[0].record) == (2, '{"id": "x", "conversations": [')


def test_malformed_json_list_names_file_line_and_column(tmp_path):
    path = tmp_path / "data.json"
    path.write_text('[\n {"id": "a",\n  "conversations": }\n]')
    with pytest.raises(FormatError, match=r"data.json: line 3 column 20: malformed JSON"):
        list(registry.read("llava", path))


def test_image_count_mismatch_names_sample(tmp_path):
    record = {"id": "img_7", "image": "a.png", "conversations": [{"from": "human", "value": "no token"},
                                                                 {"from": "gpt", "value": "x"}]}
    path = jsonl(tmp_path / "data.jsonl", json.dumps(GOOD), json.dumps(record))
    with pytest.raises(FormatError) as err:
        list(registry.read("llava", path))
    assert str(err.value).endswith("data.jsonl, line 2, id 'img_7': 0 <image> placeholder(s) but 1 image(s)")


def test_missing_image_file_when_embedding(tmp_path):
    src = write_fixture(tmp_path)
    (tmp_path / "img" / "tall.jpg").unlink()
    with pytest.raises(FormatError, match=r"id 'multi_3': image 1: image file .*tall.jpg': No such file"):
        registry.write("parquet", registry.read("llava", src), tmp_path / "pq", image_root=tmp_path)
    bad = []
    written = registry.write("webdataset", registry.read("llava", src), tmp_path / "out.tar", image_root=tmp_path,
                             on_bad=bad.append)
    assert written == 4 and [b.sample_id for b in bad] == ["multi_3", "instruct_4"]
    # path formats do not need the file
    assert registry.write("llava", registry.read("llava", src), tmp_path / "out.json") == 6


def test_non_utf8_files(tmp_path):
    lines = tmp_path / "latin1.jsonl"
    lines.write_bytes(json.dumps(GOOD).encode() + b"\n" + '{"id": "b", "x": "caf\xe9"}'.encode("latin-1") + b"\n")
    with pytest.raises(FormatError, match=r"latin1.jsonl, line 2: not valid UTF-8"):
        list(registry.read("llava", lines))
    whole = tmp_path / "latin1.json"
    whole.write_bytes(b'[\n{"id": "caf\xe9"}\n]')
    with pytest.raises(FormatError, match=r"latin1.json: line 2: not valid UTF-8 \(byte 13\)"):
        list(registry.read("messages", whole))


def test_unknown_format_and_role(tmp_path):
    with pytest.raises(FormatError, match=r"unknown format 'csv' to read \(known: dj, hf, img2dataset, llava, "):
        list(registry.read("csv", tmp_path))
    with pytest.raises(FormatError, match=r"unknown format 'csv' to write"):
        registry.write("csv", [], tmp_path / "x")
    record = {"id": "r", "conversations": [{"from": "robot", "value": "beep"}]}
    path = jsonl(tmp_path / "data.jsonl", json.dumps(record))
    with pytest.raises(FormatError, match=r"line 1, id 'r': turn 1: unknown speaker 'robot'"):
        list(registry.read("llava", path))
    record = {"id": "n", "conversations": [{"from": "human", "value": 5}]}
    path = jsonl(tmp_path / "data.jsonl", json.dumps(GOOD), json.dumps(record))
    with pytest.raises(FormatError, match=r"line 2, id 'n': messages.0.content: Input should be a valid string"):
        list(registry.read("llava", path))


def test_counts_add_up_with_rejects_at_both_ends(tmp_path):
    src = write_fixture(tmp_path, "varied.jsonl")
    with open(src, "a", encoding="utf-8") as file:
        file.write("not json\n")
    (tmp_path / "img" / "tall.jpg").unlink()
    read_bad, write_bad, read = [], [], []
    samples = (read.append(s) or s for s in registry.read("llava", src, on_bad=read_bad.append))
    written = registry.write("parquet", samples, tmp_path / "pq", image_root=tmp_path, on_bad=write_bad.append)
    assert (len(read) + len(read_bad), written, len(read_bad) + len(write_bad)) == (7, 4, 3)
