"""A URL run's output as WebDataset tars and as img2dataset's layout (tars + Parquet), read back by the
webdataset library (1.0.2) and by our img2dataset reader."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import webdataset as wds

from synthloop.engine import Recipe, run
from synthloop.formats.registry import read
from test_download_urls import FAST, jpeg
from url_server import Route, serving


def url_run(tmp_path, output: dict) -> dict:
    with serving({f"/{i}.jpg": Route(body=jpeg(i)) for i in range(5)}) as server:
        rows = [{"url": server.url(f"/{i}.jpg"), "caption": f"caption {i}"} for i in range(6)]  # /5.jpg: 404
        pq.write_table(pa.Table.from_pylist(rows), tmp_path / "urls.parquet")
        name = output["format"]
        return run(Recipe.model_validate({
            "inputs": [{"format": "urls", "path": str(tmp_path / "urls.parquet"), "download": FAST}],
            "output": {**output, "path": str(tmp_path / name)}, "run_dir": str(tmp_path / f"run-{name}"),
            "executor": {"shard_rows": 4}}), progress=False)


def test_webdataset_output_reads_with_the_webdataset_library(tmp_path):
    ledger = url_run(tmp_path, {"format": "webdataset"})
    assert ledger["export"]["written"] == 5 and ledger["quarantined"] == 1
    tars = sorted(str(p) for p in (tmp_path / "webdataset").glob("*.tar"))
    pairs = list(wds.WebDataset(tars, shardshuffle=False).to_tuple("jpg", "json"))
    assert [image for image, _ in pairs] == [jpeg(i) for i in range(5)]


def test_img2dataset_output_reads_with_webdataset_and_our_img2dataset_reader(tmp_path):
    url_run(tmp_path, {"format": "img2dataset"})
    out = tmp_path / "img2dataset"
    assert sorted(p.name for p in out.iterdir() if p.suffix) == ["00000.parquet", "00000.tar"]
    triples = list(wds.WebDataset(str(out / "00000.tar"), shardshuffle=False).decode().to_tuple("jpg", "txt", "json"))
    assert [(text, meta["key"], meta["status"]) for _, text, meta in triples] == [
        (f"caption {i}", f"00000{i:04d}", "success") for i in range(5)]
    meta = pq.read_table(out / "00000.parquet").to_pylist()
    assert [row["caption"] for row in meta] == [f"caption {i}" for i in range(5)]
    assert all(row["width"] == 24 and row["original_width"] == 24 for row in meta)
    back = list(read("img2dataset", out))
    assert [s["messages"][1]["content"] for s in back] == [f"caption {i}" for i in range(5)]
    assert [s["images"][0]["bytes"] for s in back] == [jpeg(i) for i in range(5)]
