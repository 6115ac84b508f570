"""The world judge: a TinyVLM judge (Genixer's yes/no filter) trained on world scenes that no demo pool or
benchmark draws, shipped in the package and regenerated bit for bit by

    python -m synthloop.lab.world_judge            # writes src/synthloop/lab/world_judge_checkpoint/

Every turn of a world conversation becomes one judge question about the image (`turn_samples`): the
demo's pool holds 4-turn conversations whose wrong answer may sit in any turn, so the `judge` op scores a
sample by its least likely turn (`turns: all`). The keep threshold is chosen on held-out judge data
(`choose_threshold`): 4-turn scenes of another seed with the world's wrong-answer noise, the threshold that
maximises F1 of "drop" against those labels, weighted to the demo pool's share of wrong answers. The judge
sees pixels, question and answer only; it never reads a sample's scene metadata. The weights, tokenizer,
config and threshold regenerate bit for bit; `training.json` also records timings and paths."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import orjson

from synthloop.lab import world
from synthloop.lab.probes.judge import corrupted_pairs, judge_training_samples
from synthloop.sample import IMAGE_TOKEN, derive_id

CHECKPOINT = Path(__file__).parent / "world_judge_checkpoint"
MODEL_URI = f"builtin:{CHECKPOINT}"
QTYPES = ("exist", "count", "color", "shape", "position", "size", "relation", "ocr")
FOLLOW_UPS = ("exist", "count", "color", "shape", "position", "relation", "size")
TRAIN_SEED = 7_000_000  # world seeds of the judge's training and held-out scenes: the demo's pools use 0-6
HELD_OUT_SEED = 7_000_001
SCENES = 5_000
HELD_OUT_SCENES = 1_000
EPOCHS = (2, 4)  # training phases, each continuing from the last (the first was measured alone, then extended)
# The demo pool's share of wrong answers (139 of 8,577 samples at seed 0): the threshold is chosen for it.
PREVALENCE = 0.016
SETTINGS = {"vision": "efficientnet-lite0", "drop_background": True, "image_pos_scale": 1.0,
            "aux_losses": {"judge": {"weight": 1.0}}}


def turn_samples(samples: list[dict]) -> list[dict]:
    """Each question-answer turn of each sample as a single-turn sample about the same image, with the
    turn's own qtype (a follow-up's family, else the sample's)."""
    out = []
    for s in samples:
        follow_ups = list(s["meta"].get("follow_ups", []))
        qtypes = [f["qtype"] for f in follow_ups]
        qtypes.insert(s["meta"].get("turn", 0), s["qtype"])
        messages = s["messages"]
        for t in range(len(messages) // 2):
            question = messages[2 * t]["content"].replace(IMAGE_TOKEN, "").strip()
            out.append({**s, "id": derive_id(s["id"], "turn", t), "qtype": qtypes[t] if t < len(qtypes) else s["qtype"],
                        "messages": [{"role": "user", "content": f"{IMAGE_TOKEN}\n{question}"}, messages[2 * t + 1]]})
    return out


def scenes(n: int, seed: int) -> list[dict]:
    """The demo's kind of world conversations: 4 turns, all follow-up families."""
    return world.generate(n, mix=dict.fromkeys(QTYPES, 1.0), seed=seed, turns=4, follow_up_qtypes=FOLLOW_UPS,
                          workers=2)


def choose_threshold(scores: np.ndarray, wrong: np.ndarray, prevalence: float | None = None) -> dict:
    """The drop threshold (drop when score < threshold) that maximises F1 on labelled samples, with the
    precision and recall it gets there. With `prevalence`, wrong and right samples are weighted so that
    wrong ones make up that share (held-out data holds more of them than the pool it is chosen for)."""
    order = np.argsort(scores, kind="stable")
    share = wrong.mean()
    weight = np.where(wrong, prevalence / share, (1 - prevalence) / (1 - share)) if prevalence else np.ones(len(wrong))
    hits = np.cumsum((weight * wrong)[order])
    dropped = np.cumsum(weight[order])
    f1 = 2 * hits / (dropped + (weight * wrong).sum())
    best = int(np.argmax(f1))
    threshold = float(scores[order[best]]) if best + 1 == len(scores) else \
        float((scores[order[best]] + scores[order[best + 1]]) / 2)
    return {"threshold": threshold, "f1": float(f1[best]), "precision": float(hits[best] / dropped[best]),
            "recall": float(hits[best] / (weight * wrong).sum())}


def held_out_scores(model: str, n: int = HELD_OUT_SCENES, seed: int = HELD_OUT_SEED) -> tuple[np.ndarray, np.ndarray]:
    """The judge's score (least likely turn) of `n` held-out conversations, 15 % of them given a wrong
    answer by the world's noise, and which of them are wrong."""
    from synthloop.ops.base import Batch
    from synthloop.ops.filters.judge import Judge

    samples = world.noise.inject(scenes(n, seed), rate=0.15, seed=seed, kinds=("wrong_answer",))
    Judge(model=model, low=0.0, high=1.0, turns="all").process(Batch(samples))
    scores = np.array([s["scores"]["judge_p"] for s in samples])
    return scores, np.array([s["meta"].get("noise") == "wrong_answer" for s in samples])


def train_world_judge(out: Path, n: int = SCENES, epochs: tuple[int, ...] = EPOCHS, **overrides: object) -> None:
    """Train the judge into `out`: deterministic (fixed epochs, no time budget); each phase of `epochs`
    continues from the previous one's weights with a fresh schedule."""
    import synthloop.lab.probes  # noqa: F401  (registers the judge probes)
    from synthloop.train.trainer import train

    samples = judge_training_samples(corrupted_pairs(turn_samples(scenes(n, TRAIN_SEED)), seed=TRAIN_SEED))
    with tempfile.TemporaryDirectory() as phases:
        init = None
        for phase, phase_epochs in enumerate(epochs):
            target = out if phase == len(epochs) - 1 else Path(phases) / f"phase{phase}"
            train(samples, target, stage="2", epochs=phase_epochs, global_batch_size=64, show_progress=True,
                  init=init, **SETTINGS, **overrides)
            init = target


def write_threshold(out: Path, held_out: int = HELD_OUT_SCENES) -> dict:
    """Choose the judge's threshold on held-out conversations and write it to `threshold.json`."""
    scores, wrong = held_out_scores(f"builtin:{out}", held_out)
    choice = {**choose_threshold(scores, wrong, PREVALENCE), "held_out_samples": len(scores),
              "held_out_wrong": int(wrong.sum()), "prevalence": PREVALENCE, "roc_auc": roc_auc(scores, ~wrong)}
    (out / "threshold.json").write_bytes(orjson.dumps(choice, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
    return choice


def roc_auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Probability that a positive scores above a negative (ties count half)."""
    from scipy.stats import rankdata

    ranks = rankdata(scores)
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def threshold() -> float:
    """The packaged judge's drop threshold, chosen on its held-out data."""
    return orjson.loads((CHECKPOINT / "threshold.json").read_bytes())["threshold"]


def main() -> None:
    parser = argparse.ArgumentParser(description="Regenerate the packaged world judge (bit for bit).")
    parser.add_argument("--out", type=Path, default=CHECKPOINT)
    parser.add_argument("--scenes", type=int, default=SCENES)
    parser.add_argument("--epochs", type=int, nargs="*", default=list(EPOCHS), help="epochs of each phase")
    parser.add_argument("--threshold-only", action="store_true", help="keep the checkpoint, choose the threshold again")
    args = parser.parse_args()
    if not args.threshold_only:
        train_world_judge(args.out, args.scenes, tuple(args.epochs))
    print(orjson.dumps(write_threshold(args.out)).decode())


if __name__ == "__main__":
    main()
