"""The packaged world judge per question type, on its held-out conversations: what would it take to reach
wrong-answer recall 0.9 at the demo's overall precision 0.95?

    PYTHONPATH=src .venv/bin/python benchmarks/judge_qtypes.py [--n 1000] [--judge scene [--seed S]]

The held-out data is `world_judge.held_out_scores`'s: `--n` 4-turn conversations of the held-out seed,
15 % of them with a wrong answer (always in the conversation's family turn, whose qtype is the
sample's). Every turn is judged on its own (`world_judge.turn_samples`); a conversation scores as its
least likely turn, as the demo's `judge` (`turns: all`) scores it. Prints, per qtype:

- turn level: ROC AUC of the wrong turns against the right turns of that qtype (can the judge tell a
  wrong answer from a right one of the same kind?);
- sample level (the demo's score): ROC AUC of wrong conversations against clean ones of the qtype, the
  wrong-answer recall and the clean false-drop rate at the packaged threshold;

with `--judge scene`, the scene judge (lab/scene_judge, `py:` URI and its packaged threshold) on held-out
conversations of its own seeds (7,200,000 chose its threshold; 7,200,001 and up are unseen), the turn
level's recall and clean false-drop rate at the threshold too, and its speed; then the recall / clean
false-drop tradeoff of one threshold against one threshold per sample qtype and
one per turn qtype (a conversation drops when any turn scores below its qtype's threshold), all chosen
on this same data, so optimistic bounds; and what each needs for recall 0.9. On the demo's pool at seed 0
(8,577 samples, 7,609 clean, 139 wrong answers, 823 other noisy samples removed by the other filters at
precision ~1), overall precision 0.95 at wrong-answer recall 0.9 allows (823 + 125) / 0.95 - 948 = 49
clean samples dropped: a clean false-drop rate of at most 0.66 %.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from synthloop.lab import world, world_judge
from synthloop.lab.scene_judge import judge as scene_judge
from synthloop.lab.scene_judge.train import HELD_OUT_SEED as SCENE_HELD_OUT_SEED
from synthloop.models.uri import load_model
from synthloop.ops.base import Batch
from synthloop.ops.filters.judge import Judge

CLEAN_IN_POOL, WRONG_IN_POOL, OTHER_REMOVED = 7609, 139, 823  # the demo's pool at seed 0 (docs/experiments.md)


JUDGES = {"tinyvlm": (world_judge.MODEL_URI, world_judge.threshold, world_judge.HELD_OUT_SEED),
          "scene": (scene_judge.URI, scene_judge.threshold, SCENE_HELD_OUT_SEED)}


def turn_scores(samples: list[dict], model: str) -> list[np.ndarray]:
    """Each sample's per-turn P(Yes), each turn judged as a single-turn sample."""
    turns = [{**t, "scores": {}} for t in world_judge.turn_samples(samples)]  # the op writes into `scores`
    Judge(model=model, low=0.0, high=1.0, turns="first").process(Batch(turns))
    flat = np.array([t["scores"]["judge_p"] for t in turns])
    counts = [len(s["messages"]) // 2 for s in samples]
    return np.split(flat, np.cumsum(counts)[:-1])


def turn_qtypes(sample: dict) -> list[str]:
    """The qtype of each turn (a follow-up's family, else the sample's), as `turn_samples` gives them."""
    qtypes = [f["qtype"] for f in sample["meta"].get("follow_ups", [])]
    qtypes.insert(sample["meta"].get("turn", 0), sample["qtype"])
    return qtypes


def tradeoff(scores: np.ndarray, wrong: np.ndarray, groups: np.ndarray | None) -> list[tuple[float, float]]:
    """(recall, clean false-drop rate) points of dropping `score < threshold`: one threshold, or one per
    group chosen together (for each cost per clean drop, each group takes the threshold that maximises
    wrong drops minus cost times clean drops: the upper hull of the per-group tradeoffs)."""
    n_wrong, n_clean = wrong.sum(), (~wrong).sum()
    if groups is None:
        order = np.argsort(scores, kind="stable")
        return [(0.0, 0.0)] + list(zip(np.cumsum(wrong[order]) / n_wrong, np.cumsum(~wrong[order]) / n_clean))
    per_group = []
    for g in np.unique(groups):
        order = np.argsort(scores[groups == g], kind="stable")
        w = wrong[groups == g][order]
        per_group.append((np.concatenate([[0], np.cumsum(w)]), np.concatenate([[0], np.cumsum(~w)])))
    points = []
    for cost in np.concatenate([[0.0], np.geomspace(1e-3, 1e3, 400), [np.inf]]):
        hits = drops = 0
        for h, c in per_group:
            best = int(np.argmax(h - c * cost)) if np.isfinite(cost) else 0
            hits, drops = hits + h[best], drops + c[best]
        points.append((hits / n_wrong, drops / n_clean))
    return sorted(points)


def right_turn_quantiles(turn_p: np.ndarray, turn_q: np.ndarray, turn_wrong: np.ndarray) -> np.ndarray:
    """Each turn's score as the share of right turns of its qtype scoring at most as high: one threshold
    on it is one threshold per turn qtype, each dropping the same share of that qtype's right turns."""
    out = np.empty(len(turn_p))
    for q in np.unique(turn_q):
        mine = turn_q == q
        right = np.sort(turn_p[mine & ~turn_wrong])
        out[mine] = np.searchsorted(right, turn_p[mine], side="right") / len(right)
    return out


def false_drops_at(points: list[tuple[float, float]], recall: float) -> float:
    """The least clean false-drop rate of a point reaching `recall`."""
    return min(f for r, f in points if r >= recall)


def recall_at(points: list[tuple[float, float]], false_drop: float) -> float:
    return max(r for r, f in points if f <= false_drop)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=world_judge.HELD_OUT_SCENES)
    parser.add_argument("--judge", choices=sorted(JUDGES), default="tinyvlm")
    parser.add_argument("--seed", type=int, help="world seed of the held-out conversations (default: the judge's)")
    args = parser.parse_args()
    model, threshold_of, seed = JUDGES[args.judge]
    seed = seed if args.seed is None else args.seed

    samples = world.noise.inject(world_judge.scenes(args.n, seed), rate=0.15, seed=seed, kinds=("wrong_answer",))
    per_turn = turn_scores(samples, model)
    scores, wrong = world_judge.held_out_scores(model, args.n, seed)  # the demo's sample scores
    load_model(model)  # loaded before the clock starts
    start = time.perf_counter()
    Judge(model=model, low=0.0, high=1.0, turns="all").process(Batch([{**s, "scores": {}} for s in samples]))
    seconds = time.perf_counter() - start
    if not np.array_equal(wrong, [s["meta"].get("noise") == "wrong_answer" for s in samples]):
        raise SystemExit("held_out_scores drew other samples than this script")
    qtypes = np.array([s["qtype"] for s in samples])
    threshold = threshold_of()
    least = np.array([t.min() for t in per_turn])
    print(f"{len(samples)} conversations, {wrong.sum()} wrong; threshold {threshold:.4f}; sample ROC AUC "
          f"{world_judge.roc_auc(scores, ~wrong):.3f}; least likely of the turns judged alone: largest "
          f"difference from the judge op's score {np.abs(least - scores).max():.2g}; the judge op scores "
          f"{len(samples) / seconds:.0f} conversations/s ({seconds:.1f} s, 4 turns each)")

    turn_q = [q for s in samples for q in turn_qtypes(s)]
    turn_p = np.concatenate(per_turn)
    turn_wrong = np.array([wrong[i] and t == s["meta"].get("turn", 0) for i, s in enumerate(samples)
                           for t in range(len(per_turn[i]))])
    turn_q = np.array(turn_q)
    allowed = ((OTHER_REMOVED + 0.9 * WRONG_IN_POOL) / 0.95 - OTHER_REMOVED - 0.9 * WRONG_IN_POOL) / CLEAN_IN_POOL
    print("\n| qtype | wrong | clean | turn ROC AUC | turn recall at threshold | right turns dropped | sample ROC AUC "
          f"| recall at threshold | clean false-drop rate | recall at its own threshold, false drops <= {allowed:.4f} "
          "|")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for q in world_judge.QTYPES:
        in_q, t_q = qtypes == q, turn_q == q
        auc_turn = world_judge.roc_auc(turn_p[t_q], ~turn_wrong[t_q]) if turn_wrong[t_q].any() else float("nan")
        auc = world_judge.roc_auc(scores[in_q], ~wrong[in_q]) if wrong[in_q].any() else float("nan")
        recall = (scores[in_q & wrong] < threshold).mean()
        false_drop = (scores[in_q & ~wrong] < threshold).mean()
        own = recall_at(tradeoff(scores[in_q], wrong[in_q], None), allowed)
        turn_recall = (turn_p[t_q & turn_wrong] < threshold).mean()
        turn_false = (turn_p[t_q & ~turn_wrong] < threshold).mean()
        print(f"| {q} | {(in_q & wrong).sum()} | {(in_q & ~wrong).sum()} | {auc_turn:.3f} | {turn_recall:.3f} | "
              f"{turn_false:.4f} | {auc:.3f} | {recall:.3f} | {false_drop:.4f} | {own:.3f} |")
    print(f"| all | {wrong.sum()} | {(~wrong).sum()} | {world_judge.roc_auc(turn_p, ~turn_wrong):.3f} | "
          f"{(turn_p[turn_wrong] < threshold).mean():.3f} | {(turn_p[~turn_wrong] < threshold).mean():.4f} | "
          f"{world_judge.roc_auc(scores, ~wrong):.3f} | {(scores[wrong] < threshold).mean():.3f} | "
          f"{(scores[~wrong] < threshold).mean():.4f} | {recall_at(tradeoff(scores, wrong, None), allowed):.3f} |")

    starts = np.cumsum([0] + [len(t) for t in per_turn[:-1]])
    by_turn_qtype = np.minimum.reduceat(right_turn_quantiles(turn_p, turn_q, turn_wrong), starts)
    rules = {"one (the demo's)": tradeoff(scores, wrong, None),
             "one per sample qtype": tradeoff(scores, wrong, qtypes),
             "one per turn qtype, equal right-turn share": tradeoff(by_turn_qtype, wrong, None)}
    print(f"\nclean false-drop rate the goal allows: {allowed:.4f}")
    print("| thresholds | recall at that rate | false-drop rate at recall 0.4 | at 0.9 | demo precision at recall 0.9 |")
    print("|---|---|---|---|---|")
    for name, points in rules.items():
        f90 = false_drops_at(points, 0.9)
        kept_right = OTHER_REMOVED + 0.9 * WRONG_IN_POOL
        print(f"| {name} | {recall_at(points, allowed):.3f} | {false_drops_at(points, 0.4):.4f} | {f90:.4f} | "
              f"{kept_right / (kept_right + f90 * CLEAN_IN_POOL):.3f} |")


if __name__ == "__main__":
    main()
