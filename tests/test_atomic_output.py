"""Outputs appear whole or not at all: refused when they exist, replaced whole with --overwrite, nothing
left that reads as complete after a failure or a kill; truncated tars are reported."""

from __future__ import annotations

import errno
import io
import json
import os
import random
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from synthloop.cli import app
from synthloop.formats import registry
from synthloop.formats.common import FormatError
from synthloop.formats.parquet import read_samples, write_samples
from synthloop.formats.staged import COMPLETE_MARKER
from synthloop.sample import new_sample


def samples(n: int, start: int = 0) -> list[dict]:
    out = []
    for i in range(start, start + n):
        buffer = io.BytesIO()
        Image.new("RGB", (8, 8), (i % 256, 7, 9)).save(buffer, format="PNG")
        out.append(new_sample(f"s{i}", [{"role": "user", "content": "<image>\nWhat colour?"},
                                        {"role": "assistant", "content": f"colour {i}"}],
                              [{"bytes": buffer.getvalue(), "path": None}]))
    return out


def convert(*args) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["convert", *map(str, args)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, " ".join(result.output.split())


def visible(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))


def test_existing_output_is_refused_then_replaced_whole(tmp_path):
    write_samples(samples(25), tmp_path / "big")
    write_samples(samples(3, 100), tmp_path / "small")
    assert convert(tmp_path / "big", tmp_path / "out", "--from", "parquet", "--to", "parquet")[0] == 0
    assert (tmp_path / "out" / COMPLETE_MARKER).exists()
    code, output = convert(tmp_path / "small", tmp_path / "out", "--from", "parquet", "--to", "parquet")
    assert code == 2 and f"{tmp_path / 'out'}: already exists; pass --overwrite to replace it" in output
    (tmp_path / "out" / "part-00007.parquet").write_bytes((tmp_path / "big" / "part-00000.parquet").read_bytes())
    assert convert(tmp_path / "small", tmp_path / "out", "--from", "parquet", "--to", "parquet", "--overwrite")[0] == 0
    assert [s["id"] for s in read_samples(tmp_path / "out")] == ["s100", "s101", "s102"]  # nothing of the old one
    assert visible(tmp_path) == ["big", "out", "small"]


def test_a_failed_conversion_leaves_no_output_and_keeps_the_old_one(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text('{"id": "a", "conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "yo"}]}\n'
                   "{broken\n")
    code, output = convert(src, tmp_path / "new.jsonl", "--from", "llava", "--to", "messages")
    assert code == 2 and "line 2" in output
    assert visible(tmp_path) == ["in.jsonl"] and os.listdir(tmp_path) == ["in.jsonl"]
    (tmp_path / "old.jsonl").write_text("old\n")
    assert convert(src, tmp_path / "old.jsonl", "--from", "llava", "--to", "messages", "--overwrite")[0] == 2
    assert (tmp_path / "old.jsonl").read_text() == "old\n"


@pytest.mark.parametrize("to, dst", [("parquet", "pq"), ("messages", "out.jsonl"), ("webdataset", "out.tar")])
def test_a_full_disk_is_one_line_and_leaves_nothing(tmp_path, monkeypatch, to, dst):
    writer = registry.WRITERS[to]

    def fill_the_disk(items, path, on_bad, image_root=None):
        writer(list(items)[:2], path, on_bad, image_root)  # some output written, then the disk is full
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setitem(registry.WRITERS, to, fill_the_disk)
    write_samples(samples(5), tmp_path / "in")
    code, output = convert(tmp_path / "in", tmp_path / dst, "--from", "parquet", "--to", to)
    assert code == 2 and output == f"error: {tmp_path / dst}: cannot write: No space left on device"
    assert sorted(os.listdir(tmp_path)) == ["in"]


def test_llava_images_written_beside_the_file_move_with_it(tmp_path):
    write_samples(samples(2), tmp_path / "in")
    assert convert(tmp_path / "in", tmp_path / "train.json", "--from", "parquet", "--to", "llava")[0] == 0
    assert visible(tmp_path) == ["in", "train.json", "train_images"]
    back = list(registry.read("llava", tmp_path / "train.json"))
    assert len(list((tmp_path / "train_images").iterdir())) == 2
    assert back[0]["images"][0]["path"] == "train_images/s0_0.png"


def test_readers_skip_staging_folders_and_markers(tmp_path):
    write_samples(samples(2), tmp_path / "data" / "pq")
    write_samples(samples(5), tmp_path / "data" / ".pq.staging-99999" / "pq")  # a killed conversion's leftovers
    assert len(list(registry.read("parquet", tmp_path / "data"))) == 2


def tar_of(n: int) -> bytes:
    buffer = io.BytesIO()
    turns = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for i in range(n):
            data = json.dumps({"id": f"t{i}", "messages": turns, "images": []}).encode()
            info = tarfile.TarInfo(f"{i:03d}.json")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_every_cut_of_a_tar_is_reported(tmp_path):
    data = tar_of(6)
    whole = tmp_path / "whole.tar"
    whole.write_bytes(data)
    assert len(list(registry.read("webdataset", whole))) == 6
    end = len(data) - data[::-1].find(b"}") // 512 * 512 - 512 * 2  # after the last member's data block
    cuts = sorted({*range(0, end + 512, 512), *random.Random(0).sample(range(1, end + 512), 40)})
    reported = 0
    for cut in cuts:
        file = tmp_path / "cut.tar"
        file.write_bytes(data[:cut])
        with pytest.raises(FormatError, match=r"cut\.tar: (truncated after|not a readable tar)"):
            list(registry.read("webdataset", file))
        reported += 1
    assert reported == len(cuts) > 40


def wait_for(predicate, timeout=60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.01)


@pytest.mark.slow
def test_a_killed_convert_leaves_no_output_that_reads_as_complete(tmp_path):
    write_samples(samples(400), tmp_path / "in", shard_rows=50)
    reference = tmp_path / "reference.jsonl"
    assert convert(tmp_path / "in", reference, "--from", "parquet", "--to", "messages")[0] == 0
    rng, cut_short = random.Random(0), 0
    for attempt in range(3):
        dst = tmp_path / f"out{attempt}.jsonl"

        def same_as_reference() -> bool:  # image paths name the output's own images folder
            return dst.read_bytes().replace(dst.stem.encode(), b"reference") == reference.read_bytes()

        process = subprocess.Popen([sys.executable, "-c", "from synthloop.cli import app; app()", "convert",
                                    str(tmp_path / "in"), str(dst), "--from", "parquet", "--to", "messages"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: any(p.name.startswith(f".{dst.name}.staging") for p in tmp_path.iterdir()))
        time.sleep(rng.uniform(0, 0.05))
        process.send_signal(signal.SIGKILL)
        process.wait()
        assert not dst.exists() or same_as_reference()
        cut_short += not dst.exists()
        assert convert(tmp_path / "in", dst, "--from", "parquet", "--to", "messages", "--overwrite")[0] == 0
        assert same_as_reference()
        assert not [p for p in tmp_path.iterdir() if ".staging" in p.name]  # the killed one's leftovers removed
    assert cut_short >= 1


def test_paths_rebased_to_the_output_folder_survive_the_move(tmp_path):
    (tmp_path / "data" / "img").mkdir(parents=True)
    Image.new("RGB", (4, 4), "red").save(tmp_path / "data" / "img" / "a.png")
    src = tmp_path / "data" / "in.jsonl"
    src.write_text('{"id": "a", "image": "img/a.png", "conversations": [{"from": "human", "value": "<image>hi"}, '
                   '{"from": "gpt", "value": "yo"}]}\n')
    assert convert(src, tmp_path / "out" / "train.jsonl", "--from", "llava", "--to", "dj")[0] == 0
    (sample,) = registry.read("dj", tmp_path / "out" / "train.jsonl", tmp_path / "out")
    assert sample["images"][0]["path"] == "../data/img/a.png"
    assert (tmp_path / "out" / sample["images"][0]["path"]).resolve() == (tmp_path / "data" / "img" / "a.png")
