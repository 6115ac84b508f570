import json

import pytest
from test_formats_fixture import VARIED_RECORDS, write_fixture

from synthloop.formats import dataoptim, registry
from synthloop.formats.common import FormatError


def pool_folder(tmp_path):
    """Two LLaVA files, as DataOptim ships one file per source (one JSON list, one JSONL)."""
    pool = tmp_path / "pool"
    pool.mkdir()
    write_fixture(tmp_path)
    (pool / "a.json").write_text(json.dumps(VARIED_RECORDS[:3]))
    (pool / "b.jsonl").write_text("".join(json.dumps(r) + "\n" for r in VARIED_RECORDS[3:]))
    return pool


def test_subset_follows_ids_file_order_from_a_folder(tmp_path):
    ids = tmp_path / "ids.txt"
    ids.write_text("listed_6\n\ncoco_1\n  multi_3  \ncoco_1\n")
    out = tmp_path / "train.json"
    assert dataoptim.subset(pool_folder(tmp_path), ids, out) == 4
    by_id = {r["id"]: r for r in VARIED_RECORDS}
    assert json.loads(out.read_text()) == [by_id["listed_6"], by_id["coco_1"], by_id["multi_3"], by_id["coco_1"]]


def test_subset_from_parquet_pool(tmp_path):
    src = write_fixture(tmp_path)
    registry.write("parquet", registry.read("llava", src), tmp_path / "pq", image_root=tmp_path)
    ids = tmp_path / "ids.txt"
    ids.write_text("shikra_5\ntext_2\n")
    assert dataoptim.subset(tmp_path / "pq", ids, tmp_path / "train.json") == 2
    assert json.loads((tmp_path / "train.json").read_text()) == [VARIED_RECORDS[4], VARIED_RECORDS[1]]


def test_unknown_ids_are_an_error_listing_them(tmp_path):
    ids = tmp_path / "ids.txt"
    ids.write_text("coco_1\nnope_1\ntext_2\nnope_2\nnope_1\n")
    with pytest.raises(FormatError, match=r"ids.txt: 2 id\(s\) not in pool .*pool: nope_1, nope_2$"):
        dataoptim.subset(pool_folder(tmp_path), ids, tmp_path / "train.json")
    assert not (tmp_path / "train.json").exists()


def test_ids_writer_and_reader_round_trip(tmp_path):
    samples = list(registry.read("llava", write_fixture(tmp_path)))
    assert registry.write("ids", samples, tmp_path / "ids.txt") == 6
    assert dataoptim.read_ids(tmp_path / "ids.txt") == [r["id"] for r in VARIED_RECORDS]
