"""`iter_items` / `iter_pairs` (orjson batches, the standard decoder elsewhere) against ijson, the
streaming parser the ingest used before, on seeded random documents that try to fool the batching."""

import json
import random

import ijson
import pytest

from synthloop.formats.json_list import JsonListError, _Window, iter_items, iter_pairs

TRICKY = ['{"id"', '}, {"id": 1', '"}, {"id"', "[", "]", "{", "}", ",", "\\", "é", "\n", "12345678901234567890123"]


def value(rng, depth=0):
    kind = rng.randrange(8 if depth < 3 else 5)
    if kind == 0:
        return rng.choice([rng.randrange(-1000, 1000), 2**63 - 1 - rng.randrange(10), 1 - 2**63, 10**18])
    if kind == 1:
        return rng.choice([0.5, -0.0, 1e300, 1.0, 123456.789e-5])
    if kind == 2:
        return rng.choice([True, False, None])
    if kind in (3, 4):
        return "".join(rng.choice(TRICKY + ["ab", " "]) for _ in range(rng.randrange(4)))
    if kind == 5:
        return [value(rng, depth + 1) for _ in range(rng.randrange(4))]
    return item(rng, depth + 1)


def item(rng, depth=0):
    keys = ["id", "question", "answers", rng.choice(["x", "id", 'a"b'])]
    return {key: value(rng, depth) for key in keys[:rng.randrange(1, 5)]}


def dump(rng, data):
    return json.dumps(data, ensure_ascii=rng.random() < 0.5, indent=rng.choice([None, None, 1]))


@pytest.mark.parametrize("seed", range(40))
def test_items_and_pairs_equal_ijsons(tmp_path, seed):
    rng = random.Random(seed)
    items = [item(rng) if rng.random() < 0.9 else value(rng) for _ in range(rng.randrange(0, 60))]
    document = {"info": {"skip": [item(rng) for _ in range(3)]}, "questions": items, "tail": [1, [2]]}
    if rng.random() < 0.3:
        document = {"wrap": document, "n": 1}
        keys = ("wrap", "questions")
    else:
        keys = ("questions",)
    path = tmp_path / "doc.json"
    path.write_text(dump(rng, document), encoding="utf-8")
    chunk = rng.choice([7, 64, 1 << 12])
    with open(path, "rb") as file:
        expected = list(ijson.items(file, ".".join(keys) + ".item", use_float=True))
    assert list(iter_items(path, keys, chunk_bytes=chunk)) == expected
    (tmp_path / "list.json").write_text(dump(rng, items), encoding="utf-8")
    assert list(iter_items(tmp_path / "list.json", chunk_bytes=chunk)) == expected
    with open(path, "rb") as file:
        assert list(iter_pairs(path, chunk_bytes=chunk)) == list(ijson.kvitems(file, "", use_float=True))


def test_a_run_of_similar_records_is_one_batch(tmp_path):
    path = tmp_path / "a.json"
    path.write_text(json.dumps([{"id": n, "answers": [{"id": n}]} for n in range(100)]))
    with open(path, "rb") as file:
        window = _Window(file, 1 << 16)
        window.peek()
        window.advance(window.pos + 1)
        batch = window.batch()
    # the last '{"id"' starts an inner object, the one before it the last record, read on its own
    assert batch == [{"id": n, "answers": [{"id": n}]} for n in range(99)]


@pytest.mark.parametrize("text, error", [
    ('{"questions": [{"id": 1}, {"id": 2},', "line 1 column 37: malformed JSON (Expecting value)"),
    ('{"questions": [{"id": 1} {"id": 2}]}', "line 1 column 26: expected ',' or ']' after a record"),
    ('{"questions": []} x', "line 1 column 19: unexpected data after the JSON value"),
    ('{"questions" [1]}', "line 1 column 14: expected ':' after a key"),
    ('{1: [1]}', "line 1 column 3: expected a string key"),
    ('{"questions": [{"id": 18446744073709551616}]}', "line 1 column 16: integer 18446744073709551616 is past 64 bits"),
])
def test_malformed_files_name_line_and_column(tmp_path, text, error):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(JsonListError) as err:
        list(iter_items(path, ("questions",)))
    assert str(err.value) == error
