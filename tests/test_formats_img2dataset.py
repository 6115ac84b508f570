"""img2dataset output folders (webdataset, files, parquet) read as caption samples; failed rows quarantined.

The fixtures follow rom1504/img2dataset@95523bc `img2dataset/writer.py`: one shard `00000`, its meta
Parquet (input columns, then key/status/error_message/width/height/original_width/original_height),
and the images in `00000.tar`, in `00000/`, or in the Parquet's `jpg` column (with the caption in `txt`).
"""

import io
import json
import tarfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from synthloop.formats import registry
from synthloop.formats.common import FormatError

ROWS = [("http://a/1.jpg", "a red square", "000000000", "success", None),
        ("http://a/2.jpg", "a blue square", "000000001", "success", None),
        ("http://a/3.jpg", "gone", "000000002", "failed_to_download", "HTTP Error 404")]
SCHEMA = pa.schema([("url", pa.string()), ("caption", pa.string()), ("key", pa.string()), ("status", pa.string()),
                    ("error_message", pa.string()), ("width", pa.int32()), ("height", pa.int32()),
                    ("original_width", pa.int32()), ("original_height", pa.int32())])


def _jpg(colour: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), colour).save(buffer, format="JPEG")
    return buffer.getvalue()


IMAGES = {"000000000": _jpg("red"), "000000001": _jpg("blue")}


def _meta(row: tuple) -> dict:
    url, caption, key, status, error = row
    size = 8 if status == "success" else None
    return {"url": url, "caption": caption, "key": key, "status": status, "error_message": error, "width": size,
            "height": size, "original_width": size, "original_height": size}


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def make_output(folder: Path, mode: str) -> Path:
    folder.mkdir(parents=True)
    metas = [_meta(row) for row in ROWS]
    schema = SCHEMA
    if mode == "parquet":
        schema = SCHEMA.append(pa.field("jpg", pa.binary())).append(pa.field("txt", pa.string()))
        for meta in metas:
            ok = meta["status"] == "success"
            meta.update(jpg=IMAGES.get(meta["key"]) if ok else None, txt=meta["caption"] if ok else None)
    pq.write_table(pa.Table.from_pylist(metas, schema=schema), folder / "00000.parquet")
    successes = [m for m in metas if m["status"] == "success"]
    if mode == "webdataset":
        with tarfile.open(folder / "00000.tar", "w") as tar:
            for meta in successes:
                key = meta["key"]
                _add(tar, f"{key}.jpg", IMAGES[key])
                _add(tar, f"{key}.txt", meta["caption"].encode())
                _add(tar, f"{key}.json", json.dumps(meta, indent=4).encode())
    elif mode == "files":
        (folder / "00000").mkdir()
        for meta in successes:
            key = meta["key"]
            (folder / "00000" / f"{key}.jpg").write_bytes(IMAGES[key])
            (folder / "00000" / f"{key}.txt").write_text(meta["caption"])
            (folder / "00000" / f"{key}.json").write_text(json.dumps(meta, indent=4))
    return folder


@pytest.mark.parametrize("mode", ["webdataset", "files", "parquet"])
def test_each_output_layout_reads_as_caption_samples(tmp_path, mode):
    folder = make_output(tmp_path / mode, mode)
    assert registry.detect(folder) == "img2dataset"
    rejected = []
    samples = list(registry.read("img2dataset", folder, on_bad=rejected.append))
    assert [s["id"] for s in samples] == ["img2dataset_000000000", "img2dataset_000000001"]
    assert [s["messages"][1]["content"] for s in samples] == ["a red square", "a blue square"]
    assert all(s["messages"][0]["content"].startswith("<image>\n") for s in samples)
    assert [s["images"][0]["bytes"] for s in samples] == list(IMAGES.values())
    assert samples[0]["meta"] == {"url": "http://a/1.jpg", "key": "000000000", "status": "success", "width": 8,
                                  "height": 8, "original_width": 8, "original_height": 8}
    assert (samples[0]["task"], samples[0]["source"]) == ("caption", "img2dataset")
    [failed] = rejected
    assert failed.message().endswith("key '000000002': status 'failed_to_download' (HTTP Error 404)")


def test_a_single_tar_reads_with_its_json_meta_and_never_as_our_webdataset(tmp_path):
    tar = make_output(tmp_path / "wds", "webdataset") / "00000.tar"
    assert registry.detect(tar) == "img2dataset"
    samples = list(registry.read("img2dataset", tar))
    assert [s["meta"]["url"] for s in samples] == ["http://a/1.jpg", "http://a/2.jpg"]
    with pytest.raises(FormatError, match=r"key '000000000': its .json is not a synthloop sample \(an img2dataset tar"):
        list(registry.read("webdataset", tar))


def test_the_meta_parquet_is_not_canonical(tmp_path):
    folder = make_output(tmp_path / "wds", "webdataset")
    with pytest.raises(FormatError, match="not synthloop's canonical Parquet"):
        list(registry.read("parquet", folder))
