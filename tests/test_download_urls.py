"""URL inputs against a loopback server: every URL kept or quarantined with its failure kind; refused
schemes, redirects and bodies; `--retry-failed` after the server recovers equals a clean run; a
killed download resumes to identical output."""

from __future__ import annotations

import hashlib
import io
import json
import signal
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from synthloop.download.checks import ImageRejected, checked_image
from synthloop.engine import Recipe, run
from synthloop.engine.rundir import RunDirError
from synthloop.sample import from_table
from test_engine_resume import run_until
from url_server import Route, serving

TESTS = Path(__file__).parent
FAST = {"timeout": 10.0, "retries": 0, "backoff": 0.0, "max_bytes": 200_000, "concurrency": 8, "per_host": 4}


def jpeg(seed: int, size: int = 24) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (size, size + seed % 5), ((seed * 37) % 256, (seed * 91) % 256, 128)).save(buffer, "JPEG")
    return buffer.getvalue()


def write_table(path: Path, rows: list[dict]) -> Path:
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def recipe(tmp: Path, table: Path, name: str = "run", ops: list | None = None, shard_rows: int = 4,
           **download) -> Recipe:
    return Recipe.model_validate({
        "inputs": [{"format": "urls", "path": str(table), "hash_column": "sha256", "download": {**FAST, **download}}],
        "ops": ops or [], "output": {"format": "parquet", "path": str(tmp / name / "out")},
        "run_dir": str(tmp / name / "run"), "executor": {"batch_size": 4, "shard_rows": shard_rows}})


def output_rows(tmp: Path, name: str) -> list[dict]:
    parts = sorted((tmp / name / "out").glob("part-*.parquet"))
    return [row for part in parts for row in from_table(pq.read_table(part))]


def quarantined(tmp: Path, name: str) -> dict[str, str]:
    """id -> failure kind of every quarantined URL."""
    parts = sorted((tmp / name / "run" / "quarantine").glob("*.parquet"))
    rows = [row for part in parts for row in pq.read_table(part, columns=["id", "error"]).to_pylist()]
    return {row["id"]: row["error"].split(":", 1)[0].removeprefix("download ") for row in rows}


def test_every_url_is_kept_or_quarantined_with_its_failure_kind(tmp_path):
    images = {f"/img/{i}.jpg": jpeg(i) for i in range(4)}
    routes = {**{path: Route(body=data) for path, data in images.items()},
              "/missing.jpg": Route(404, b"gone"),
              "/slow.jpg": Route(body=jpeg(9), delay=6.0),
              "/corrupt.jpg": Route(body=b"\xff\xd8\xff\xe0 not really a jpeg"),
              "/huge-declared.jpg": Route(body=b"\0" * 300_000),
              "/huge-streamed.jpg": Route(body=b"\0" * 65_536, repeat=64),
              "/noai.jpg": Route(body=jpeg(5), headers={"Content-Type": "image/jpeg", "X-Robots-Tag": "noai"}),
              "/ours-noimageai.jpg": Route(body=jpeg(6), headers={"X-Robots-Tag": "synthloop: noimageai, nofollow"}),
              "/other-bot-noai.jpg": Route(body=jpeg(7), headers={"X-Robots-Tag": "otherbot: noai"}),
              "/to-ftp.jpg": Route(302, headers={"Location": "ftp://127.0.0.1/a.jpg"}),
              "/to-file.jpg": Route(302, headers={"Location": "file:///etc/passwd"}),
              "/to-huge.jpg": Route(301, headers={"Location": "/huge-streamed.jpg"}),
              "/hop.jpg": Route(302, headers={"Location": "/img/0.jpg"}),
              "/loop.jpg": Route(302, headers={"Location": "/loop.jpg"})}
    with serving(routes) as server:
        expected = {  # row -> (url, sha256 given, outcome)
            0: (server.url("/img/0.jpg"), None, "kept"),
            1: (server.url("/img/1.jpg"), hashlib.sha256(images["/img/1.jpg"]).hexdigest(), "kept"),
            2: (server.url("/img/2.jpg"), hashlib.sha256(b"other").hexdigest(), "hash_mismatch"),
            3: (server.url("/missing.jpg"), None, "http_status"),
            4: (server.url("/slow.jpg"), None, "timeout"),
            5: ("http://no-such-host.invalid/a.jpg", None, "dns"),
            6: ("http://127.0.0.1:9/a.jpg", None, "connection"),
            7: (server.url("/corrupt.jpg"), None, "not_an_image"),
            8: (server.url("/huge-declared.jpg"), None, "too_large"),
            9: (server.url("/huge-streamed.jpg"), None, "too_large"),
            10: (server.url("/noai.jpg"), None, "opted_out"),
            11: (server.url("/ours-noimageai.jpg"), None, "opted_out"),
            12: (server.url("/other-bot-noai.jpg"), None, "kept"),
            13: (server.url("/to-ftp.jpg"), None, "bad_scheme"),
            14: (server.url("/to-file.jpg"), None, "bad_scheme"),
            15: (server.url("/to-huge.jpg"), None, "too_large"),
            16: (server.url("/hop.jpg"), None, "kept"),
            17: (server.url("/loop.jpg"), None, "too_many_redirects"),
            18: ("file:///etc/passwd", None, "bad_scheme"),
        }
        rows = [{"url": url, "caption": f"caption {i}", "sha256": sha} for i, (url, sha, _) in expected.items()]
        table = write_table(tmp_path / "urls.parquet", rows)
        ledger = run(recipe(tmp_path, table, timeout=2.0), progress=False)
    kept = {row["id"]: row for row in output_rows(tmp_path, "run")}
    assert sorted(kept) == sorted(f"urls_{i}" for i, e in expected.items() if e[2] == "kept")
    assert quarantined(tmp_path, "run") == {f"urls_{i}": e[2] for i, e in expected.items() if e[2] != "kept"}
    assert (ledger["input"], ledger["output"], ledger["quarantined"]) == (19, 4, 15)
    sample = kept["urls_1"]
    assert sample["images"][0]["bytes"] == images["/img/1.jpg"]
    assert sample["messages"][1]["content"] == "caption 1"
    assert sample["meta"]["url"] == expected[1][0] and sample["meta"]["input_shard"] == "urls.parquet"
    assert kept["urls_16"]["images"][0]["bytes"] == images["/img/0.jpg"]  # redirect followed


def test_retry_failed_after_the_server_recovers_equals_a_clean_run(tmp_path):
    images = {f"/img/{i}.jpg": jpeg(i) for i in range(10)}
    flaky = {"/img/2.jpg", "/img/7.jpg", "/img/8.jpg"}
    ops = [{"image_size": {"min_side": 8}}, {"exact_dedup": {"on": "image", "same_image": "drop"}}]
    routes = {path: Route(503, b"busy") if path in flaky else Route(body=data) for path, data in images.items()}
    with serving(routes) as server:
        rows = [{"url": server.url(f"/img/{i % 10}.jpg"), "caption": f"c{i}", "sha256": None} for i in range(12)]
        table = write_table(tmp_path / "urls.parquet", rows)
        first = run(recipe(tmp_path, table, "retried", ops), progress=False)
        assert (first["quarantined"], set(quarantined(tmp_path, "retried").values())) == (3, {"http_status"})
        for path in flaky:  # the server recovers
            routes[path] = Route(body=images[path])
        hits_before = dict(server.hits)
        retried = run(recipe(tmp_path, table, "retried", ops), retry_failed=True, progress=False)
        refetched = {path: server.hits[path] - hits_before.get(path, 0) for path in server.hits}
        clean = run(recipe(tmp_path, table, "clean", ops), progress=False)
    assert {path for path, n in refetched.items() if n} == flaky  # only the failed URLs were fetched again
    assert output_rows(tmp_path, "retried") == output_rows(tmp_path, "clean")
    assert quarantined(tmp_path, "retried") == {}
    assert _counts(retried) == _counts(clean) and retried["output"] == 10  # 12 rows, 2 exact duplicates dropped


def test_retries_with_backoff_and_the_per_host_bound(tmp_path):
    routes = {f"/{i}.jpg": Route(body=jpeg(i), delay=0.05) for i in range(12)}
    routes["/flaky.jpg"] = Route(body=jpeg(20), fail_first=2)
    with serving(routes) as server:
        rows = [{"url": server.url(f"/{i}.jpg"), "caption": "c", "sha256": None} for i in range(12)]
        rows.append({"url": server.url("/flaky.jpg"), "caption": "c", "sha256": None})
        table = write_table(tmp_path / "urls.parquet", rows)
        once = run(recipe(tmp_path, table, "once", retries=1, per_host=2, shard_rows=16), progress=False)
        assert quarantined(tmp_path, "once") == {"urls_12": "http_status"} and server.hits["/flaky.jpg"] == 2
        assert server.most_in_flight == 2  # 8 allowed per process, 2 per host
        twice = run(recipe(tmp_path, table, "twice", retries=2, per_host=2, shard_rows=16), progress=False)
    assert (once["output"], twice["output"], server.hits["/flaky.jpg"]) == (12, 13, 3)


def test_output_bytes_do_not_depend_on_the_order_answers_arrive_in(tmp_path):
    routes = {f"/{i}.jpg": Route(body=jpeg(i), delay=(7 * i % 5) / 50) for i in range(10)}  # later rows answer first
    with serving(routes) as server:
        rows = [{"url": server.url(f"/{i}.jpg"), "caption": f"c{i}", "sha256": None} for i in range(11)]  # /10: 404
        table = write_table(tmp_path / "urls.parquet", rows)
        for name, concurrency in (("one", 1), ("many", 8)):
            run(recipe(tmp_path, table, name, concurrency=concurrency, shard_rows=16), progress=False)
    parts = {name: [part.read_bytes() for part in sorted((tmp_path / name / "out").glob("*.parquet"))]
             for name in ("one", "many")}
    assert parts["one"] == parts["many"] and len(output_rows(tmp_path, "one")) == 10


def test_image_checks_hash_bomb_and_resize():
    data = jpeg(1, size=64)
    assert checked_image(data, hashlib.md5(data).hexdigest().upper(), "md5", None) == data
    with pytest.raises(ImageRejected) as mismatch:
        checked_image(data, "0" * 32, "md5", None)
    assert mismatch.value.kind == "hash_mismatch"
    shrunk = Image.open(io.BytesIO(checked_image(data, None, "sha256", 16)))
    assert (shrunk.format, max(shrunk.size)) == ("JPEG", 16)
    assert checked_image(data, None, "sha256", 65) == data  # 64x65, not larger than the side: bytes kept as they came
    bomb = io.BytesIO()
    Image.new("1", (10_000, 10_000)).save(bomb, "PNG")
    with pytest.raises(ImageRejected) as too_many_pixels:
        checked_image(bomb.getvalue(), None, "sha256", None)
    assert too_many_pixels.value.kind == "too_large" and "decompression bomb" in str(too_many_pixels.value)


def test_retry_failed_needs_a_finished_run(tmp_path):
    rows = [{"url": "http://127.0.0.1:9/a.jpg", "caption": "c", "sha256": None}]
    table = write_table(tmp_path / "urls.parquet", rows)
    with pytest.raises(RunDirError, match="no finished run"):
        run(recipe(tmp_path, table), retry_failed=True, progress=False)


def _counts(ledger: dict) -> dict:
    return {k: v for k, v in ledger.items() if not k.endswith("_path")}


@pytest.mark.slow
def test_a_killed_download_resumes_to_identical_output(tmp_path):
    routes = {f"/img/{i}.jpg": Route(body=jpeg(i), delay=0.02) for i in range(24)}
    routes["/img/5.jpg"] = Route(404)
    with serving(routes) as server:
        rows = [{"url": server.url(f"/img/{i}.jpg"), "caption": f"c{i}", "sha256": None} for i in range(24)]
        table = write_table(tmp_path / "urls.parquet", rows)
        run(recipe(tmp_path, table, "clean", concurrency=1), progress=False)
        spec = recipe(tmp_path, table, "killed", concurrency=1).model_dump(mode="json")
        downloads = tmp_path / "killed" / "run" / "downloads"
        code = run_until(spec, lambda: len(list(downloads.glob("*.parquet"))) >= 2)
        assert code == -signal.SIGKILL
        assert run_until(spec, lambda: False) == 0
    assert output_rows(tmp_path, "killed") == output_rows(tmp_path, "clean")
    assert quarantined(tmp_path, "killed") == quarantined(tmp_path, "clean") == {"urls_5": "http_status"}
    ledger = json.loads((tmp_path / "killed" / "run" / "ledger.json").read_bytes())
    assert (ledger["input"], ledger["output"], ledger["quarantined"]) == (24, 23, 1)


def test_cli_retry_failed_merges_the_urls_that_answer_now(tmp_path):
    from typer.testing import CliRunner

    from synthloop.cli import app

    with serving({"/a.jpg": Route(body=jpeg(1)), "/b.jpg": Route(body=jpeg(2), fail_first=1)}) as server:
        table = write_table(tmp_path / "urls.parquet", [{"url": server.url(p), "caption": "c", "sha256": None}
                                                         for p in ("/a.jpg", "/b.jpg")])
        path = tmp_path / "recipe.yaml"
        path.write_text(json.dumps(recipe(tmp_path, table).model_dump(mode="json")))
        first = CliRunner().invoke(app, ["run", str(path)])
        again = CliRunner().invoke(app, ["run", str(path), "--retry-failed"])
    assert "input 2 -> output 1 (dropped 0, quarantined 1" in " ".join(first.output.split())
    assert "input 2 -> output 2 (dropped 0, quarantined 0" in " ".join(again.output.split())
    assert len(output_rows(tmp_path, "run")) == 2
