"""The small loop the loop tests share: a recipe that runs in seconds, and digests of what it writes."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

import orjson

import synthloop.lab.loop_world  # noqa: F401  (registers the world's pools and synthesizer)

QTYPES = {"color": 1.0, "shape": 1.0, "count": 1.0}
TINY_TRAIN = {"stage": "2", "epochs": 1, "global_batch_size": 16, "warm_start": True, "replay": 40,
              "settings": {"d_model": 32, "n_layers": 1, "n_heads": 2, "max_seq_len": 128, "vision_width": 16}}
# loop.json of `small_recipe` (seed 3). A change of this digest is a change of the loop's results: make it
# deliberately, say so in the commit, and paste the new digest here.
LOOP_JSON_SHA256 = "6d7440cd5704fbd34735318f9b83f585e6bca13ab2d79e5445cea298a009e998"


def small_recipe(run_dir: Path) -> dict:
    return {"run_dir": str(run_dir), "seed": 3,
            "seed_pool": {"world": 96, "mix": QTYPES}, "benchmark": {"world": 48, "mix": QTYPES},
            "curate": [{"answer_nonempty": {}}, {"stratified": {"by": "qtype", "budget": 90}}],
            "synthesis": {"budget": 32, "synthesizer": {"turns": 2},
                          "ops": [{"image_decodable": {}}, {"answer_nonempty": {}}, {"exact_dedup": {"on": "both"}}]},
            "rounds": 2, "train": TINY_TRAIN}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def samples_digest(samples: Iterable[dict]) -> str:
    """A digest of canonical samples' content in order (image bytes by their hash): Parquet files also
    hold the writer's version, so their bytes are not what to pin."""
    digest = hashlib.sha256()
    for sample in samples:
        images = [hashlib.sha256(im["bytes"] or b"").hexdigest() for im in sample["images"]]
        digest.update(orjson.dumps({**sample, "images": images}, option=orjson.OPT_SORT_KEYS) + b"\n")
    return digest.hexdigest()
