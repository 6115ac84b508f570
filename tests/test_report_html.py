"""The HTML report: built from a run directory's files, self-contained, renders in headless Chromium."""

from __future__ import annotations

import io
import re
import shutil
import subprocess

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image
from test_engine_fixtures import noisy_samples, recipe_dict, write_dataset
from typer.testing import CliRunner

from synthloop.cli import app
from synthloop.engine import Recipe, run
from synthloop.formats.parquet import write_samples
from synthloop.report import write_report
from synthloop.report.collect import collect, thresholds_for
from synthloop.sample import new_sample, to_table

SECTIONS = ("summary", "funnel", "scores", "accuracy", "added", "judge", "gallery", "recipe")


def png(color: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), color).save(buffer, format="PNG")
    return buffer.getvalue()


def sample(i: int, image: bytes, side: float) -> dict:
    return new_sample(f"world_{i}", [{"role": "user", "content": "<image>\nWhat colour is the circle?"},
                                     {"role": "assistant", "content": "red"}],
                      [{"bytes": image, "path": None}], task="vqa", qtype="color", source="world",
                      scores={"image_size": side})


@pytest.fixture()
def run_dir(tmp_path):
    kept = [sample(i, png((200, 10 * i, 0)), 64.0) for i in range(5)]
    write_samples(kept, tmp_path / "curate" / "output")
    dropped = to_table([sample(9, png((0, 0, 0)), 8.0), sample(10, b"not an image", 0.0)])
    dropped = dropped.append_column("op", pa.array(["image_size", "image_decodable"]))
    dropped = dropped.append_column("reason", pa.array(["min_side 8 < 32", "cannot decode image"]))
    (tmp_path / "curate" / "dropped").mkdir()
    pq.write_table(dropped, tmp_path / "curate" / "dropped" / "part-00000.parquet")
    ledger = {"input": 7, "output": 5, "dropped": 2, "quarantined": 0,
              "ops": [{"op": "image_decodable", "in": 7, "kept": 6, "dropped": 1, "quarantined": 0},
                      {"op": "image_size", "in": 6, "kept": 5, "dropped": 1, "quarantined": 0}]}
    (tmp_path / "curate" / "ledger.json").write_bytes(orjson.dumps(ledger))
    (tmp_path / "curate" / "recipe.yaml").write_text(
        f"ops:\n  - image_size: {{min_side: 32}}\noutput: {{path: {tmp_path / 'curate' / 'output'}}}\n")
    write_samples(kept, tmp_path / "curate" / "stages" / "s0" / "data")  # engine internals: not read
    rounds = [{"round": 0, "arm": arm, "overall": 0.5, "per_qtype": {"color": 0.9, "count": 0.1}, "added": {}}
              for arm in ("loop", "baseline")]
    rounds += [{"round": 1, "arm": "loop", "overall": 0.7, "per_qtype": {"color": 0.9, "count": 0.5},
                "added": {"count": 40}},
               {"round": 1, "arm": "baseline", "overall": 0.6, "per_qtype": {"color": 0.92, "count": 0.3},
                "added": {"count": 20, "color": 20}}]
    (tmp_path / "loop.json").write_bytes(orjson.dumps({"rounds": rounds}))
    (tmp_path / "curation.json").write_bytes(orjson.dumps({"precision": 0.93, "recall": 0.88}))
    return tmp_path


def test_collect_reads_every_part(run_dir):
    run = collect(run_dir)
    assert [ledger.name for ledger in run.ledgers] == ["curate"]
    assert sorted(run.scores["image_size"]) == [0.0, 8.0] + [64.0] * 5
    assert thresholds_for("image_min_side", run.thresholds) == {"min_side": 32.0}
    assert thresholds_for("image_size", run.thresholds) == {"min_side": 32.0}
    assert thresholds_for("judge_p", run.thresholds) == {}
    assert [e.status for e in run.examples] == ["kept"] * 5 + ["dropped"] * 2
    assert run.examples[-1].reason == "image_decodable cannot decode image"
    assert run.loop["rounds"][3]["added"] == {"count": 20, "color": 20}


def test_report_is_self_contained_and_has_every_section(run_dir):
    html = write_report(run_dir).read_text()
    for section in SECTIONS:
        assert f'<section id="{section}">' in html
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)  # nothing fetched from a network
    assert html.count('<img alt="sample image" src="data:image/png;base64,') == 6  # the corrupt one has none
    assert "unreadable image" in html and "min_side 8 &lt; 32" in html
    assert "min_side=32" in html  # the threshold line on the image_size histogram
    assert html.count("<svg") == 4  # funnel, histogram, accuracy, added


def test_report_renders_in_headless_chromium(run_dir):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("Debian `chromium` is not installed (scripts/install.sh installs it where apt is available)")
    report = write_report(run_dir)
    result = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--enable-logging=stderr", "--v=0", "--dump-dom", report.local.resolve().as_uri()],
        capture_output=True, text=True, timeout=120, check=True)
    console = [line for line in result.stderr.splitlines() if ":CONSOLE" in line]
    assert console == []
    for section in SECTIONS:
        assert f'id="{section}"' in result.stdout
    assert result.stdout.count("<svg") == 4
    assert "Per-qtype accuracy per round" in result.stdout


def test_judge_section_shows_the_band_and_what_the_judge_kept_and_dropped(tmp_path):
    def judged(i: int, p: float) -> dict:
        s = sample(i, png((10 * i, 0, 0)), 64.0)
        s["messages"] += [{"role": "user", "content": "How many?"}, {"role": "assistant", "content": str(i)}]
        return {**s, "scores": {"judge_p": p}}

    write_samples([judged(i, 0.5 + i / 10) for i in range(3)], tmp_path / "output")
    dropped = to_table([judged(7, 0.125), judged(8, 0.25), sample(9, png((0, 0, 0)), 8.0)])
    dropped = dropped.append_column("op", pa.array(["judge", "judge", "image_size"]))
    (tmp_path / "dropped").mkdir()
    pq.write_table(dropped, tmp_path / "dropped" / "part-00000.parquet")
    (tmp_path / "ledger.json").write_bytes(orjson.dumps({"input": 6, "output": 3, "dropped": 3, "ops": []}))
    (tmp_path / "recipe.yaml").write_text(f"ops:\n  - judge: {{model: 'builtin:x', turns: all, low: 0.3, high: 1.0}}\n"
                                          f"output: {{path: {tmp_path / 'output'}}}\n")
    run = collect(tmp_path)
    assert [(e.status, e.id, e.reason) for e in run.judged] == [
        ("kept", "world_0", "judge_p 0.500"), ("kept", "world_1", "judge_p 0.600"), ("kept", "world_2", "judge_p 0.700"),
        ("dropped", "world_7", "judge_p 0.125"), ("dropped", "world_8", "judge_p 0.250")]
    assert run.judged[0].question == "What colour is the circle? | How many?" and run.judged[0].answer == "red | 0"
    html = write_report(tmp_path).read_text()
    judge = html[html.index('<section id="judge">'):html.index('<section id="gallery">')]
    assert "low=0.3" in judge and "high=1" in judge  # the band's lines on the histogram
    assert "kept: 0.300 &lt;= P(Yes) &lt;= 1.000" in judge
    assert judge.count('class="card kept"') == 3 and judge.count('class="card dropped"') == 2


def test_a_run_on_an_object_store_reports_as_the_same_run_on_disk(tmp_path):
    """`synthloop report memory://...`: the report reads the run directory and its output through
    synthloop.storage (fsspec's memory filesystem standing in for an object store)."""
    fsspec = pytest.importorskip("fsspec")
    data = write_dataset(tmp_path / "data", noisy_samples(30))
    local = recipe_dict(tmp_path, data, [{"image_decodable": {}}, {"image_size": {"min_side": 16}},
                                         {"answer_nonempty": {}}])
    remote = {**local, "run_dir": "memory://r/run", "output": {"format": "parquet", "path": "memory://r/out"}}
    try:
        for spec in (local, remote):
            run(Recipe.model_validate(spec), progress=False)
        on_disk, stored = collect(tmp_path / "run"), collect("memory://r/run")
        assert stored.scores == on_disk.scores and len(stored.scores["image_min_side"]) == 30 - 3  # 3 truncated JPEGs
        assert stored.examples == on_disk.examples
        assert {e.status for e in stored.examples} == {"kept", "dropped", "quarantined"}
        assert [ledger.data["ops"] for ledger in stored.ledgers] == [ledger.data["ops"] for ledger in on_disk.ledgers]
        assert stored.thresholds == on_disk.thresholds != []
        result = CliRunner().invoke(app, ["report", "memory://r/run"])
        assert result.exit_code == 0 and result.output == "wrote memory://r/run/report.html\n"
        html = fsspec.filesystem("memory").cat("/r/run/report.html").decode()
        assert html.count('class="card kept"') == write_report(tmp_path / "run").read_text().count('class="card kept"')
        missing = CliRunner().invoke(app, ["report", "memory://r/nothing"])
        assert missing.exit_code == 2 and "memory://r/nothing: no such run directory" in missing.output
    finally:
        fsspec.filesystem("memory").rm("/r", recursive=True)
