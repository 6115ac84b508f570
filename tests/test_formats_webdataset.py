import json
import tarfile

import pytest
from test_formats_fixture import write_fixture

from synthloop.formats import registry, webdataset
from synthloop.formats.common import FormatError


def test_export_holds_images_and_json_per_sample(tmp_path):
    src = write_fixture(tmp_path)
    registry.write("webdataset", registry.read("llava", src), tmp_path / "out.tar", image_root=tmp_path)
    with tarfile.open(tmp_path / "out.tar") as tar:
        names = tar.getnames()
        assert names[:6] == ["000000000.json", "000000000.png", "000000001.json",
                             "000000002.json", "000000002.0.png", "000000002.1.jpg"]
        assert len(names) == 6 + 2 + 2 + 2
        record = json.loads(tar.extractfile("000000002.json").read())
        jpg = tar.extractfile("000000002.1.jpg").read()
    assert record["id"] == "multi_3"
    assert record["images"] == [{"path": "img/wide.png", "file": "000000002.0.png"},
                                {"path": "img/tall.jpg", "file": "000000002.1.jpg"}]
    assert record["messages"][0] == {"role": "user", "content": "Compare <image> with <image>: which is taller?"}
    assert jpg == (tmp_path / "img" / "tall.jpg").read_bytes()


def test_sharded_export_reads_back_with_bytes_and_is_deterministic(tmp_path):
    src = write_fixture(tmp_path)
    samples = list(registry.read("llava", src))
    for folder in ("a", "b"):
        webdataset.write(samples, tmp_path / folder, print, image_root=tmp_path, shard_samples=4)
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["part-00000.tar", "part-00001.tar"]
    assert (tmp_path / "a" / "part-00001.tar").read_bytes() == (tmp_path / "b" / "part-00001.tar").read_bytes()
    back = list(registry.read("webdataset", tmp_path / "a"))
    assert [s["id"] for s in back] == [s["id"] for s in samples]
    assert back[3]["images"] == [{"bytes": (tmp_path / "img/tall.jpg").read_bytes(), "path": "img/tall.jpg"}]


def test_key_without_json_is_rejected(tmp_path):
    path = tmp_path / "bad.tar"
    with tarfile.open(path, "w") as tar:
        tar.add(write_fixture(tmp_path).parent / "img" / "wide.png", arcname="k1.png")
    bad = []
    assert list(registry.read("webdataset", path, on_bad=bad.append)) == []
    assert bad[0].message() == f"{path}, sample #1: key 'k1' has no .json member"


def test_a_file_that_is_not_a_tar_is_a_format_error(tmp_path):
    path = tmp_path / "fake.tar"
    path.write_text("not a tar")
    with pytest.raises(FormatError, match=r"fake.tar: not a readable tar"):
        list(registry.read("webdataset", path))
