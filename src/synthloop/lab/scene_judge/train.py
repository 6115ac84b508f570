"""Train the scene judge's parts into one folder and choose its drop threshold, regenerating the packaged
checkpoint (`checkpoint/`) bit for bit:

    python -m synthloop.lab.scene_judge [--out DIR] [--threshold-only]

Perception (objects.py) and the word reader (words.py) train on world scenes of seeds 7,100,000.., which no
demo pool (0-6), loop round, benchmark (>= 10**9) or the TinyVLM judge (7,000,000, 7,000,001) draws. The
threshold is chosen as lab/world_judge.py chooses the TinyVLM judge's (`choose_threshold`, weighted to the
demo pool's share of wrong answers) on held-out 4-turn conversations of seed 7,200,000 with 15 % wrong
answers (`world_judge.held_out_scores`, scored through the `judge` op by the judge in the folder), joined
by the demo pool's share of samples the judge cannot judge as clean ones at its neutral score, so that the
threshold keeps them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson

from synthloop.lab import world_judge
from synthloop.lab.scene_judge.judge import NEUTRAL, URI, load_dir
from synthloop.lab.scene_judge.objects import train_perception
from synthloop.lab.scene_judge.pixels import one_torch_thread
from synthloop.lab.scene_judge.words import train_reader
from synthloop.models.uri import register_loaded

SEED = 0  # train_perception's and train_reader's: their scenes come from world seeds 7,100,000 + a function of it
HELD_OUT_SEED = 7_200_000
HELD_OUT_CONVERSATIONS = 4_000
UNJUDGED_SHARE = 300 / 8_577  # the demo pool's easy-vqa samples at seed 0, whose images are no world images
JSON = orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS


def train_scene_judge(out: Path) -> None:
    """Train perception and the word reader into `out` (deterministic)."""
    out.mkdir(parents=True, exist_ok=True)
    train_perception(out, SEED)
    train_reader(out, SEED)


def choose(scores: np.ndarray, wrong: np.ndarray) -> dict:
    """`world_judge.choose_threshold` on the held-out scores plus the demo pool's share of samples the judge
    cannot judge (clean, scoring NEUTRAL), so that the threshold keeps those; with the figures it was
    chosen on."""
    unjudged = round(UNJUDGED_SHARE * len(scores))
    choice = world_judge.choose_threshold(np.append(scores, np.full(unjudged, NEUTRAL)),
                                          np.append(wrong, np.zeros(unjudged, dtype=bool)), world_judge.PREVALENCE)
    if choice["threshold"] >= NEUTRAL:
        raise ValueError(f"threshold {choice['threshold']:.4f} drops what the judge cannot judge (scored "
                         f"{NEUTRAL}): the judge is not good enough to ship")
    return {**choice, "held_out_samples": len(scores), "held_out_wrong": int(wrong.sum()), "unjudged": unjudged,
            "prevalence": world_judge.PREVALENCE, "roc_auc": world_judge.roc_auc(scores, ~wrong)}


def write_threshold(out: Path, n: int = HELD_OUT_CONVERSATIONS, seed: int = HELD_OUT_SEED) -> dict:
    """Choose the threshold of the judge in `out` on held-out conversations and write `threshold.json`, and
    `config.json` with how the parts were trained and the threshold chosen (in this process the judge's URI
    then names the judge in `out`)."""
    register_loaded(URI, load_dir(out))
    with one_torch_thread():
        scores, wrong = world_judge.held_out_scores(URI, n, seed)
    choice = choose(scores, wrong)
    config = {"uri": URI, "seed": SEED, "held_out_seed": seed, "held_out_conversations": n,
              "wrong_answer_rate": 0.15, "prevalence": world_judge.PREVALENCE, "unjudged_share": UNJUDGED_SHARE}
    (out / "config.json").write_bytes(orjson.dumps(config, option=JSON))
    (out / "threshold.json").write_bytes(orjson.dumps(choice, option=JSON))
    return choice
