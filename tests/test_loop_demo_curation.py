"""The demo's curation step on a small noisy pool (noise caught by kind, selection budget, DataOptim outputs),
and the demo command's options and summary."""

from __future__ import annotations

import orjson
from loop_small import samples_digest
from typer.testing import CliRunner

from synthloop.cli import app
from synthloop.formats.parquet import read_samples
from synthloop.lab import demo

# The curated samples of the small noisy pool below (seed 1): a change of this digest is a change of the
# curation's results; make it deliberately and paste the new digest here.
CURATED_SHA256 = "da433b4ee32ad1da6f44ae9f384af87cd6ed664aee7f1d782294db14d4630fbe"


def test_demo_curation_catches_the_mechanical_noise(tmp_path, monkeypatch):
    monkeypatch.setattr(demo, "WORLD_SAMPLES", 240)
    monkeypatch.setattr(demo, "EASY_VQA_SAMPLES", 40)
    monkeypatch.setattr(demo, "NOISE_RATE", 0.2)
    monkeypatch.setattr(demo, "CURATED_BUDGET", 160)
    pool = demo.build_seed_pool(tmp_path / "pool", seed=1)
    curated, curation = demo.curate_pool(tmp_path / "pool", tmp_path / "curate", seed=1)
    assert curation["samples"] == len(pool) and curation["noisy"] == sum(1 for s in pool if s["meta"].get("noise"))
    # the scene judge catches every wrong answer here (7 of 7) and drops no clean sample
    for kind in ("corrupt_image", "truncated_image", "empty_answer", "exact_duplicate", "image_token_mismatch",
                 "wrong_answer"):
        assert curation["kinds"][kind]["recall"] == 1.0, kind
    assert curation["kinds"]["wrong_answer"]["count"] == 7 and curation["precision"] == 1.0
    kept = list(read_samples(curated))
    assert len(kept) == curation["curated"] == 160
    assert samples_digest(kept) == CURATED_SHA256
    assert not any(s["meta"].get("noise") in ("corrupt_image", "empty_answer") for s in kept)
    demo.write_dataoptim(curated, tmp_path / "dataoptim")
    assert (tmp_path / "dataoptim" / "ids.txt").read_text().split() == [s["id"] for s in kept]
    byod = orjson.loads((tmp_path / "dataoptim" / "byod.json").read_bytes())
    assert [r["id"] for r in byod] == [s["id"] for s in kept]
    assert all((tmp_path / "dataoptim" / r["image"]).is_file() for r in byod)  # self-contained


def test_demo_command_passes_its_seed_and_prints_each_round(tmp_path, monkeypatch):
    calls = []

    def fake_run_demo(out, seed=0, log=print):
        calls.append((out, seed))
        rounds = [{"round": r, "arm": arm, "overall": 0.5 + r / 10, "per_qtype": {"ocr": r / 10}}
                  for r in (0, 1) for arm in ("loop", "baseline")]
        return {"curation": {"precision": 0.9, "recall": 0.8, "kinds": {}}, "rounds": rounds,
                "weak_qtypes": ["ocr"], "report": str(out / "report.html")}

    monkeypatch.setattr(demo, "run_demo", fake_run_demo)
    result = CliRunner().invoke(app, ["demo", "--out", str(tmp_path), "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert calls == [(tmp_path, 3)]
    assert "round 1 baseline overall 0.600   weak: ocr 0.100" in result.output
    assert "precision 0.900, recall 0.800" in result.output
