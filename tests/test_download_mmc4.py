"""MMC4 documents download to interleaved samples (VILA's placement of images), VILA's invalid-document
filter drops with reasons, and per-shard top-fraction selection matches VILA's COYO rule."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from synthloop.engine import Recipe, run
from synthloop.formats.common import FormatError, Rejected
from synthloop.formats.mmc4 import read_documents
from synthloop.ops import op_class
from test_download_urls import FAST, jpeg, output_rows
from url_server import Route, serving

# The README's example document (allenai/mmc4@5304ddd, README.md), image URLs moved to the loopback server.
README_DOCUMENT = {
    "image_info": [{"face_detections": None, "image_name": "b9040a0dbb22.jpg", "matched_sim": 0.27694183588027954,
                    "matched_text_index": 2, "raw_url": "/honda_fit_pics/3/2/index.90.jpg"},
                   {"face_detections": None, "image_name": "db1c21bc8474.jpg", "matched_sim": 0.3234919607639313,
                    "matched_text_index": 1, "raw_url": "/honda_fit_pics/3/2/index.91.jpg"}],
    "similarity_matrix": [[0.24363446235656738, 0.31758785247802734, 0.27694183588027954],
                          [0.2233106791973114, 0.3234919607639313, 0.26118797063827515]],
    "text_list": ["When you lock the door using the lock tab on the driver’s door, all of the other doors and "
                  "tailgate lock at the same time.",
                  "Press the master door lock switch in as shown to lock or unlock all doors and the tailgate.",
                  "When you lock/unlock the driver’s door and tailgate using the master lock switch, all the other "
                  "doors lock/ unlock at the same time."],
    "url": "http://www.hfitinfo.com/hofi-48.html",
    "could_have_url_duplicate": 0}


def documents(server) -> list[dict]:
    first = json.loads(json.dumps(README_DOCUMENT))
    for info in first["image_info"]:
        info["raw_url"] = server.url(info["raw_url"])
    half_failed = {"text_list": ["A <image> tag in the text.", "Second.", "Third."], "url": "http://x.test/2",
                   "image_info": [{"image_name": "a.jpg", "raw_url": server.url("/a.jpg"), "matched_text_index": 2,
                                   "matched_sim": 0.3},
                                  {"image_name": "gone.jpg", "raw_url": server.url("/gone.jpg"),
                                   "matched_text_index": 0, "matched_sim": 0.2},
                                  {"image_name": "b.jpg", "raw_url": server.url("/b.jpg"), "matched_text_index": 2,
                                   "matched_sim": 0.25}],
                   "similarity_matrix": [[0.1, 0.1, 0.3], [0.2, 0.1, 0.1], [0.1, 0.1, 0.25]],
                   "could_have_url_duplicate": 0}
    all_failed = {"text_list": ["Only text survives."], "url": "http://x.test/3", "similarity_matrix": [[0.2]],
                  "image_info": [{"image_name": "c.jpg", "raw_url": server.url("/gone.jpg"), "matched_text_index": 0,
                                  "matched_sim": 0.2}], "could_have_url_duplicate": 1}
    bad = {"text_list": ["x"], "image_info": [{"raw_url": server.url("/a.jpg"), "matched_text_index": 5}]}
    return [first, half_failed, all_failed, bad]


def test_mmc4_documents_become_interleaved_samples_and_invalid_ones_are_dropped(tmp_path):
    images = {"/honda_fit_pics/3/2/index.90.jpg": jpeg(1), "/honda_fit_pics/3/2/index.91.jpg": jpeg(2),
              "/a.jpg": jpeg(3), "/b.jpg": jpeg(4)}
    with serving({path: Route(body=data) for path, data in images.items()}) as server:
        shard = tmp_path / "docs_shard_0_v2.jsonl"
        shard.write_text("".join(json.dumps(doc) + "\n" for doc in documents(server)))
        ledger = run(Recipe.model_validate({
            "inputs": [{"format": "mmc4", "path": str(shard), "download": FAST}],
            "ops": [{"interleaved_images": {"min_images": 1}}],
            "output": {"path": str(tmp_path / "run" / "out")}, "run_dir": str(tmp_path / "run" / "run")}),
            progress=False)
    kept = {s["id"]: s for s in output_rows(tmp_path, "run")}
    assert sorted(kept) == ["docs_shard_0_v2_0", "docs_shard_0_v2_1"]
    readme = kept["docs_shard_0_v2_0"]
    assert readme["messages"] == [{"role": "assistant", "content": (
        "When you lock the door using the lock tab on the driver’s door, all of the other doors and tailgate lock "
        "at the same time.<image>\nPress the master door lock switch in as shown to lock or unlock all doors and "
        "the tailgate.<image>\nWhen you lock/unlock the driver’s door and tailgate using the master lock switch, "
        "all the other doors lock/ unlock at the same time.")}]
    # images in the order their sentences come: index.91 (sentence 1) before index.90 (sentence 2)
    assert [ref["bytes"] for ref in readme["images"]] == [jpeg(2), jpeg(1)]
    assert readme["task"] == "interleaved" and readme["meta"]["failed_images"] == []
    half = kept["docs_shard_0_v2_1"]
    assert half["messages"][0]["content"] == "A <IMAGE> tag in the text. Second.<image>\n<image>\nThird."
    assert [ref["bytes"] for ref in half["images"]] == [jpeg(3), jpeg(4)]  # one sentence: document order
    assert [(f["index"], f["error"].split(":")[0]) for f in half["meta"]["failed_images"]] == [
        (1, "download http_status")]
    dropped = pq.read_table(tmp_path / "run" / "run" / "dropped").to_pylist()
    assert [(row["id"], row["reason"]) for row in dropped] == [("docs_shard_0_v2_2", "all 1 images failed")]
    quarantine = pq.read_table(tmp_path / "run" / "run" / "quarantine").to_pylist()
    assert [row["id"] for row in quarantine] == ["docs_shard_0_v2_3"]
    assert "matched_text_index 5 is not a sentence" in quarantine[0]["error"]
    assert (ledger["input"], ledger["output"], ledger["dropped"], ledger["quarantined"]) == (4, 2, 1, 1)


@pytest.mark.parametrize(("kept", "failed", "params", "reason"), [
    (0, 3, {}, "all 3 images failed"), (1, 2, {"min_images": 2}, "1 image(s) < min_images 2"),
    (2, 1, {"require_all": True}, "1 of 3 images failed"), (2, 1, {}, None), (0, 0, {"min_images": 0}, None)])
def test_invalid_document_reasons(kept, failed, params, reason):
    drop = op_class("interleaved_images")(**params).decide((kept, failed))
    assert (drop.reason if drop else None) == reason


def test_top_fraction_per_input_shard_matches_vilas_coyo_rule():
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"id": [f"s{i:03d}" for i in range(230)],
                          "input_shard": [f"part-{i % 3}.parquet" for i in range(230)],
                          "clip_similarity_vitb32": rng.uniform(0.2, 0.4, 230),
                          "clip_similarity_vitl14": rng.uniform(0.2, 0.4, 230)})
    candidates = pa.table({"id": frame["id"], "input_shard": frame["input_shard"],
                           "scores": [orjson.dumps({k: row[k] for k in ("clip_similarity_vitb32",
                                                                          "clip_similarity_vitl14")}).decode()
                                      for _, row in frame.iterrows()]})
    op = op_class("score_range")(score="clip_similarity_vitb32+clip_similarity_vitl14", mode="top", fraction=0.2,
                                 per="input_shard")
    # NVlabs/VILA@b760c34 data_prepare/coyo/coyo_downloader.py, per metadata shard of n rows
    expected = set()
    for _, shard in frame.groupby("input_shard"):
        shard = shard.assign(clip_sim=shard["clip_similarity_vitb32"] + shard["clip_similarity_vitl14"])
        expected |= set(shard.sort_values(by="clip_sim", ascending=False).head(int(len(shard) * 0.2))["id"])
    selected = op.select(candidates, 0)
    assert set(selected) == expected and len(selected) == 15 + 15 + 15  # 77, 77, 76 rows: int(n * 0.2) each


def test_per_shard_selection_in_a_run_over_a_folder_of_url_tables(tmp_path):
    folder = tmp_path / "coyo"
    folder.mkdir()
    with serving({f"/{i}.jpg": Route(body=jpeg(i)) for i in range(20)}) as server:
        for part in range(2):
            rows = [{"url": server.url(f"/{part * 10 + i}.jpg"), "text": f"t{i}", "clip": (i * 7 % 10) / 10}
                    for i in range(10)]
            pq.write_table(pa.Table.from_pylist(rows), folder / f"part-{part}.parquet")
        run(Recipe.model_validate({
            "inputs": [{"format": "urls", "path": str(folder), "text_column": "text", "score_columns": ["clip"],
                        "download": FAST}],
            "ops": [{"score_range": {"score": "clip", "mode": "top", "fraction": 0.2, "per": "input_shard"}}],
            "output": {"path": str(tmp_path / "run" / "out")}, "run_dir": str(tmp_path / "run" / "run"),
            "executor": {"shard_rows": 6}}), progress=False)
    kept = sorted((s["meta"]["input_shard"], s["scores"]["clip"]) for s in output_rows(tmp_path, "run"))
    assert kept == [("part-0.parquet", 0.8), ("part-0.parquet", 0.9), ("part-1.parquet", 0.8),
                    ("part-1.parquet", 0.9)]


def test_the_vila_recipes_load():
    recipes = Path(__file__).parents[1] / "recipes"
    coyo = Recipe.from_yaml(recipes / "vila_coyo.yaml")
    assert (coyo.inputs[0].text_column, coyo.build_ops()[-1].fraction) == ("text", 0.2)
    mmc4 = Recipe.from_yaml(recipes / "vila_mmc4.yaml")
    assert (mmc4.inputs[0].format, mmc4.build_ops()[0].require_all) == ("mmc4", True)


def test_zipped_shards_read_as_their_jsonl(tmp_path):
    """MMC4 distributes shards as `docs_shard_{SHARD}_v2.jsonl.zip` (allenai/mmc4@5304ddd, README.md); a zip
    reads as its JSONL members in the archive's order, documents numbered across them."""
    docs = [json.loads(json.dumps(README_DOCUMENT)) for _ in range(3)]
    docs[1]["url"], docs[2]["url"] = "http://x.test/2", "http://x.test/3"
    lines = [json.dumps(doc) + "\n" for doc in docs]
    plain = tmp_path / "plain" / "docs_shard_7_v2.jsonl"
    plain.parent.mkdir()
    plain.write_text("".join(lines))
    one, several = tmp_path / "one" / "docs_shard_7_v2.jsonl.zip", tmp_path / "several" / "docs_shard_7_v2.jsonl.zip"
    for archive, members in ((one, {"docs_shard_7_v2.jsonl": lines}),
                             (several, {"b.jsonl": lines[:2], "notes.txt": ["x"], "a.jsonl": lines[2:] + ["[1]\n"]})):
        archive.parent.mkdir()
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as handle:
            for name, content in members.items():
                handle.writestr(name, "".join(content))

    def records(path: Path) -> list:
        return [item if isinstance(item, Rejected) else {**item, "meta": {**item["meta"], "input_shard": None}}
                for item in read_documents(path)]

    expected = records(plain.parent)
    assert [r["id"] for r in expected] == ["docs_shard_7_v2_0", "docs_shard_7_v2_1", "docs_shard_7_v2_2"]
    assert records(one.parent) == expected
    got = records(several.parent)
    assert got[:3] == expected  # b.jsonl's two documents, then a.jsonl's (the archive's order), not notes.txt
    assert got[3].message() == f"{several}/a.jsonl, line 2: not a JSON object: list"
    (tmp_path / "bad.jsonl.zip").write_bytes(b"PK not really")
    with pytest.raises(FormatError, match=r"bad.jsonl.zip: not a zip archive: "):
        list(read_documents(tmp_path / "bad.jsonl.zip"))
    with zipfile.ZipFile(tmp_path / "empty.jsonl.zip", "w") as handle:
        handle.writestr("readme.txt", "no documents")
    with pytest.raises(FormatError, match=r"empty.jsonl.zip: no .jsonl member in the archive$"):
        list(read_documents(tmp_path / "empty.jsonl.zip"))
