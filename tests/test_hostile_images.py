"""Hostile image references: files outside the image root, devices, FIFOs, oversized, bombs, non-images.

Each must be quarantined with its reason, in `convert` as in `run`, and no outside byte may reach
the output.
"""

import io
import json
import os
import struct
import zlib

import orjson
import pyarrow.parquet as pq
import pytest
from PIL import Image
from typer.testing import CliRunner

import synthloop.images
from synthloop.cli import app
from synthloop.engine import Recipe, run
from synthloop.formats.parquet import read_samples
from synthloop.images import ImageError, ImageRoot, image_bytes

SECRET = b"root:x:0:0:secret-bytes-outside-the-root"


def png(size=(8, 8), colour=(200, 30, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="PNG")
    return buffer.getvalue()


def png_bomb(width=30000, height=30000) -> bytes:
    """A PNG whose header claims width x height pixels (a decompression bomb), with one tiny IDAT."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 16))
            + chunk(b"IEND", b""))


@pytest.fixture
def hostile(tmp_path):
    """An image root with one good image and a record per hostile reference; returns (jsonl, root)."""
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / "good.png").write_bytes(png())
    (root / "sub" / "inside.png").write_bytes(png(colour=(1, 2, 3)))
    outside = tmp_path / "outside.png"
    outside.write_bytes(SECRET)
    (root / "escape.png").symlink_to(outside)
    (root / "inner_link.png").symlink_to(root / "sub" / "inside.png")
    os.mkfifo(root / "fifo.png")
    (root / "empty.png").write_bytes(b"")
    (root / "text.png").write_bytes(b"this is text posing as an image\n")
    (root / "truncated.png").write_bytes(png((64, 64))[:60])
    (root / "bomb.png").write_bytes(png_bomb())
    refs = {"good": "good.png", "inner_link": "inner_link.png", "dotdot": "../outside.png",
            "absolute": str(outside), "escape": "escape.png", "fifo": "fifo.png", "zero": "/dev/zero",
            "empty": "empty.png", "text": "text.png", "truncated": "truncated.png", "bomb": "bomb.png",
            "missing": "nope.png", "dir": "sub", "nested_dotdot": "sub/../../outside.png"}
    lines = [json.dumps({"id": sid, "image": path, "conversations": [
        {"from": "human", "value": "<image>\nWhat is it?"}, {"from": "gpt", "value": "A square."}]})
        for sid, path in refs.items()]
    data = tmp_path / "data.jsonl"
    data.write_text("\n".join(lines) + "\n")
    return data, root


QUARANTINE_REASONS = {"dotdot": "holds '..'", "nested_dotdot": "holds '..'", "absolute": "is absolute",
                      "escape": "leads out of the image root", "fifo": "not a regular file",
                      "zero": "is absolute", "empty": "cannot read image header", "text": "not an image format",
                      "bomb": "decompression bomb", "missing": "No such file", "dir": "not a regular file"}


@pytest.mark.parametrize("to", ["parquet", "webdataset"])
def test_convert_quarantines_every_hostile_reference(hostile, tmp_path, to):
    data, root = hostile
    out, bad = tmp_path / f"out_{to}", tmp_path / "bad.jsonl"
    result = CliRunner().invoke(app, ["convert", str(data), str(out), "--from", "llava", "--to", to,
                                      "--image-root", str(root), "--quarantine", str(bad)])
    assert result.exit_code == 0, result.output
    assert "read 14, written 3, quarantined 11" in result.output  # truncated.png has a good header
    rows = [orjson.loads(line) for line in bad.read_bytes().splitlines()]
    assert {row["file"] for row in rows} == {str(out)}  # the output's name, not its staging folder's
    reasons = {row["id"]: row["reason"] for row in rows}
    assert set(reasons) == set(QUARANTINE_REASONS)
    for sid, reason in QUARANTINE_REASONS.items():
        assert reason in reasons[sid] and "\n" not in reasons[sid], (sid, reasons[sid])
    every_byte = b"".join(p.read_bytes() for p in out.rglob("*") if p.is_file())
    assert SECRET not in every_byte
    assert b"root:x:0:0" not in every_byte


def test_convert_verify_decodes_fully_and_absolute_paths_need_the_flag(hostile, tmp_path):
    data, root = hostile
    out, bad = tmp_path / "out", tmp_path / "bad.jsonl"
    result = CliRunner().invoke(app, ["convert", str(data), str(out), "--from", "llava", "--to", "parquet",
                                      "--image-root", str(root), "--quarantine", str(bad), "--verify",
                                      "--allow-absolute-paths"])
    assert result.exit_code == 0, result.output
    reasons = {row["id"]: row["reason"] for row in map(orjson.loads, bad.read_bytes().splitlines())}
    assert "cannot decode image" in reasons["truncated"]
    assert "not a regular file" in reasons["zero"]  # allowed as absolute, still never read
    assert "not an image format" in reasons["absolute"]  # the outside file is read, and is no image
    kept = {s["id"]: s for s in read_samples(out)}
    assert set(kept) == {"good", "inner_link"}
    assert kept["inner_link"]["images"][0]["bytes"] == png(colour=(1, 2, 3))


def test_convert_without_quarantine_stops_with_one_line(hostile, tmp_path):
    data, root = hostile
    lines = data.read_text().splitlines()
    data.write_text("\n".join([lines[0], lines[2]]) + "\n")  # good, dotdot
    result = CliRunner().invoke(app, ["convert", str(data), str(tmp_path / "o"), "--from", "llava",
                                      "--to", "parquet", "--image-root", str(root)])
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert "id 'dotdot': image 0: image path '../outside.png' holds '..'" in result.output


def test_run_quarantines_hostile_references_as_input(hostile, tmp_path):
    data, root = hostile
    spec = {"inputs": [{"format": "llava", "path": str(data), "image_root": str(root)}],
            "ops": [{"image_decodable": {}}], "output": {"path": str(tmp_path / "out")},
            "run_dir": str(tmp_path / "run")}
    ledger = run(Recipe.model_validate(spec), progress=False)
    assert ledger["input"] == 14 and ledger["output"] == 2
    assert ledger["input"] == ledger["output"] + ledger["dropped"] + ledger["quarantined"]
    rows = {r["id"]: r for r in pq.read_table(tmp_path / "run" / "quarantine").to_pylist()}
    by_input = {sid for sid, r in rows.items() if r["op"] == "input"}
    assert by_input == {"dotdot", "nested_dotdot", "absolute", "escape", "zero"}
    for sid, reason in QUARANTINE_REASONS.items():
        assert reason in rows[sid]["error"], (sid, rows[sid]["error"])
    assert "decode" in rows["truncated"]["error"]
    out = {s["id"] for s in read_samples(tmp_path / "out")}
    assert out == {"good", "inner_link"}


def test_image_root_rules():
    root = ImageRoot("/srv/images")
    with pytest.raises(ImageError, match="absolute"):
        root.resolve("/etc/passwd")
    with pytest.raises(ImageError, match=r"holds '\.\.'"):
        root.resolve("a/../../b.png")
    with pytest.raises(ImageError, match="NUL"):
        root.resolve("a\0.png")
    assert root.resolve("a/./b.png") == os.path.realpath("/srv/images/a/b.png")
    assert ImageRoot("/srv/images", allow_absolute=True).resolve("/x/y.png") == "/x/y.png"


def test_size_cap(tmp_path, monkeypatch):
    (tmp_path / "big.png").write_bytes(png((64, 64)))
    monkeypatch.setattr(synthloop.images, "MAX_IMAGE_BYTES", 100)
    with pytest.raises(ImageError, match="bytes > the 100-byte limit"):
        image_bytes({"bytes": None, "path": "big.png"}, tmp_path)


def test_run_with_absolute_paths_allowed_still_reads_no_device_or_fifo(hostile, tmp_path):
    data, root = hostile
    lines = [line for line in data.read_text().splitlines() if '"id": "zero"' in line or '"id": "good"' in line]
    lines.append(lines[0].replace('"id": "good"', '"id": "fifo_abs"').replace('"good.png"', f'"{root / "fifo.png"}"'))
    data.write_text("\n".join(lines) + "\n")
    spec = {"inputs": [{"format": "llava", "path": str(data), "image_root": str(root), "allow_absolute_paths": True}],
            "ops": [{"image_decodable": {}}], "output": {"path": str(tmp_path / "out")},
            "run_dir": str(tmp_path / "run")}
    ledger = run(Recipe.model_validate(spec), progress=False)
    assert (ledger["input"], ledger["output"], ledger["quarantined"]) == (3, 1, 2)
    rows = {r["id"]: r for r in pq.read_table(tmp_path / "run" / "quarantine").to_pylist()}
    assert rows["zero"]["op"] == rows["fifo_abs"]["op"] == "image_decodable"
    assert "not a regular file" in rows["zero"]["error"] and "not a regular file" in rows["fifo_abs"]["error"]
