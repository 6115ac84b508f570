"""The demo's curation step on a small noisy pool: noise caught by kind, selection budget, DataOptim outputs."""

from __future__ import annotations

import orjson

from synthloop import demo
from synthloop.formats.parquet import read_samples


def test_demo_curation_catches_the_mechanical_noise(tmp_path, monkeypatch):
    monkeypatch.setattr(demo, "WORLD_SAMPLES", 240)
    monkeypatch.setattr(demo, "EASY_VQA_SAMPLES", 40)
    monkeypatch.setattr(demo, "NOISE_RATE", 0.2)
    monkeypatch.setattr(demo, "CURATED_BUDGET", 160)
    pool = demo.build_seed_pool(tmp_path / "pool", seed=1)
    curated, curation = demo.curate_pool(tmp_path / "pool", tmp_path / "curate", seed=1)
    assert curation["samples"] == len(pool) and curation["noisy"] == sum(1 for s in pool if s["meta"].get("noise"))
    for kind in ("corrupt_image", "truncated_image", "empty_answer", "exact_duplicate", "image_token_mismatch"):
        assert curation["kinds"][kind]["recall"] == 1.0, kind
    assert curation["precision"] > 0.8
    kept = list(read_samples(curated))
    assert len(kept) == curation["curated"] == 160
    assert not any(s["meta"].get("noise") in ("corrupt_image", "empty_answer") for s in kept)
    demo.write_dataoptim(curated, tmp_path / "dataoptim")
    assert (tmp_path / "dataoptim" / "ids.txt").read_text().split() == [s["id"] for s in kept]
    byod = orjson.loads((tmp_path / "dataoptim" / "byod.json").read_bytes())
    assert [r["id"] for r in byod] == [s["id"] for s in kept]
    assert all((tmp_path / "dataoptim" / r["image"]).is_file() for r in byod)  # self-contained
