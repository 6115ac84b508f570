import json

import pytest

from synthloop.formats.json_list import JsonListError, iter_json_list

RECORDS = [{"id": "a", "v": "日本語 ✓ " * 5}, 12345, {"id": "b", "nested": [1, 2.5, None, True, {"x": "]"}]},
           "tail \" ] , {", [], {}]


@pytest.mark.parametrize("chunk_bytes", [1, 3, 7, 64, 1 << 20])
def test_records_and_start_lines_whatever_the_chunk_size(tmp_path, chunk_bytes):
    path = tmp_path / "list.json"
    path.write_text(json.dumps(RECORDS, ensure_ascii=False, indent=1), encoding="utf-8")
    items = list(iter_json_list(path, chunk_bytes))
    assert [record for _, record in items] == RECORDS
    text = path.read_text(encoding="utf-8").splitlines()
    assert [line for line, _ in items] == [2, 6, 7, 19, 20, 21]
    assert text[5] == " 12345,"


@pytest.mark.parametrize(("content", "message"), [
    ("[\n{\"a\": 1},\n{\"a\": }\n]", "line 3 column 7: malformed JSON (Expecting value)"),
    ("[{\"a\": 1} {\"a\": 2}]", "line 1 column 11: expected ',' or ']' after a record"),
    ("[{\"a\": 1}", "line 1 column 10: expected ',' or ']' after a record"),
    ("[1, 2] [3]", "line 1 column 8: unexpected data after the list"),
    ("{\"a\": 1}", "line 1 column 1: expected a JSON list of records"),
])
def test_malformed_lists_name_line_and_column(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    for chunk_bytes in (2, 1 << 20):
        with pytest.raises(JsonListError) as err:
            list(iter_json_list(path, chunk_bytes))
        assert str(err.value) == message


def test_empty_list_and_invalid_utf8(tmp_path):
    path = tmp_path / "empty.json"
    path.write_text(" [ \n ] \n")
    assert list(iter_json_list(path, 2)) == []
    path.write_bytes(b'[{"a": "caf\xe9"}]')
    with pytest.raises(UnicodeDecodeError):
        list(iter_json_list(path, 4))
