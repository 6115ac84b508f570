"""Canonical samples from the rendered world: a qtype mix, n and a seed in, deterministic samples out.

Seed ranges: training data uses seeds below `BENCH_SEED_BASE` (10**9); `benchmark(seed=s)` renders with
seed `BENCH_SEED_BASE + s`, so no benchmark scene comes from a training random stream. Sample k of seed s
draws everything from `random.Random(f"world/{s}/{k}")`, so any sample can be rebuilt alone, chunks can
be rendered in parallel, and the output bytes depend only on the arguments.

Disjoint seeds do not make disjoint images: simple scenes (a word on a plain background) come out pixel
for pixel the same from different streams. So the image space is split by content: a render whose PNG
hash falls in the benchmark's share (`in_bench_share`) is only ever a benchmark image, any other only a
training image, and each split draws again until its render is its own. No generated training image
equals a benchmark image, whatever the seeds and sizes.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator

from synthloop.engine.executors.local import process_pool
from synthloop.images import content_hash
from synthloop.lab.world import describe, questions
from synthloop.lab.world.followups import ASKERS, FOLLOW_UP_QTYPES, follow_ups
from synthloop.lab.world.questions import QA, NoRoom
from synthloop.lab.world.render import render_png
from synthloop.lab.world.scene import LEVELS, Level
from synthloop.sample import IMAGE_TOKEN, new_sample

QTYPES: tuple[str, ...] = ("exist", "count", "color", "shape", "position", "relation", "size", "ocr", "mc",
                           "caption", "rec", "reg")
FAMILIES: dict[str, Callable[[random.Random, Level, int], QA]] = {
    "exist": questions.exist, "count": questions.count, "color": questions.color, "shape": questions.shape,
    "position": questions.position, "relation": questions.relation, "size": questions.size,
    "ocr": questions.ocr, "mc": describe.mc, "caption": describe.caption, "rec": describe.rec, "reg": describe.reg,
}
TASKS = {"mc": "mcvqa", "caption": "caption", "rec": "rec", "reg": "reg"}  # every other family is "vqa"
# Families whose answer is a short phrase scored with 10-answer VQA accuracy.
OPEN_QTYPES = frozenset(QTYPES) - {"caption", "rec"}
BENCH_SEED_BASE = 10**9
DEFAULT_LEVEL = 1
MAX_TRIES = 200  # scenes drawn for one sample: room for its objects, and a render of its split's share
BENCH_SHARE = 4  # one image in BENCH_SHARE (by content hash) belongs to the benchmark split


def normalise_mix(mix: dict[str, float] | None) -> dict[str, float]:
    """Weights over QTYPES summing to 1 (None = uniform); unknown qtypes and bad weights raise ValueError."""
    if mix is None:
        return {q: 1 / len(QTYPES) for q in QTYPES}
    unknown = sorted(set(mix) - set(QTYPES))
    if unknown:
        raise ValueError(f"unknown qtype {unknown[0]!r} in mix; known: {', '.join(QTYPES)}")
    if any(not w >= 0 for w in mix.values()):
        raise ValueError(f"mix weights must be >= 0, got {mix}")
    total = sum(mix.values())
    if total <= 0:
        raise ValueError("mix weights sum to zero")
    return {q: mix[q] / total for q in QTYPES if mix.get(q, 0) > 0}


def levels_for(difficulty: dict[str, int] | None) -> dict[str, int]:
    """Difficulty level (0 easiest .. 3 hardest) per qtype; missing ones get DEFAULT_LEVEL."""
    difficulty = difficulty or {}
    for qtype, level in difficulty.items():
        if qtype not in QTYPES:
            raise ValueError(f"unknown qtype {qtype!r} in difficulty; known: {', '.join(QTYPES)}")
        if not isinstance(level, int) or not 0 <= level < len(LEVELS):
            raise ValueError(f"difficulty for {qtype!r} must be an int 0..{len(LEVELS) - 1}, got {level!r}")
    return {q: difficulty.get(q, DEFAULT_LEVEL) for q in QTYPES}


def schedule(mix: dict[str, float], n: int) -> list[str]:
    """The qtype of each of n samples by smooth weighted round robin: every prefix follows the mix to
    within one sample per qtype, and sample k's qtype does not depend on n."""
    credit = dict.fromkeys(mix, 0.0)
    order = []
    for _ in range(n):
        for qtype, weight in mix.items():
            credit[qtype] += weight
        chosen = max(credit, key=credit.__getitem__)
        credit[chosen] -= 1.0
        order.append(chosen)
    return order


def make_sample(seed: int, k: int, qtype: str, level: int = DEFAULT_LEVEL, image_size: int = 64,
                split: str = "train", turns: int = 1,
                follow_up_qtypes: tuple[str, ...] = FOLLOW_UP_QTYPES) -> dict:
    """Sample k of `seed`: render a scene for `qtype` at `level` and pose its question; with `turns` > 1,
    also ask up to `turns - 1` follow-up questions about the same scene (`meta.follow_ups`, in order),
    with the family's question at a random turn (`meta.turn`): the first turn, whose question the
    image tokens can read under prefix-LM attention, then asks every family, not only the sample's.
    Follow-ups are drawn from the families `follow_up_qtypes` (exist, count, colour and shape by default;
    position, relation and size can be asked too)."""
    rng = random.Random(f"world/{seed}/{k}")
    for _ in range(MAX_TRIES):
        try:
            qa = FAMILIES[qtype](rng, LEVELS[level], image_size)
        except NoRoom:
            continue
        png = render_png(qa.scene)
        if in_bench_share(png) == (split == "bench"):
            break
    else:
        raise RuntimeError(f"world sample {seed}/{k}: no {split} {qtype} scene at {image_size}px in {MAX_TRIES} draws")
    meta = {**qa.scene.annotation(), "answer": qa.answer, "difficulty": level, "seed": seed, "index": k,
            "split": split, "template": qa.template, **qa.extra}
    if qtype in OPEN_QTYPES:
        meta["answers"] = [qa.answer] * 10
    asked = [(qa.question, qa.answer)]
    if turns > 1:
        meta["follow_ups"] = follow_ups(rng, qa.scene, turns - 1, {qa.question}, follow_up_qtypes)
        meta["turn"] = rng.randrange(len(meta["follow_ups"]) + 1)
        asked = [(t["question"], t["answer"]) for t in meta["follow_ups"]]
        asked.insert(meta["turn"], (qa.question, qa.answer))
    messages = [m for question, answer in asked for m in ({"role": "user", "content": question},
                                                          {"role": "assistant", "content": answer})]
    messages[0]["content"] = f"{IMAGE_TOKEN}\n{messages[0]['content']}"
    return new_sample(f"world_{seed}_{k}", messages, [{"bytes": png, "path": None}],
                      task=TASKS.get(qtype, "vqa"), qtype=qtype, source="world", meta=meta)


def in_bench_share(png: bytes) -> bool:
    """Whether a rendered image belongs to the benchmark split's share of the image space."""
    return int(content_hash(png), 16) % BENCH_SHARE == 0


def family_messages(sample: dict) -> list[dict]:
    """A world sample's own question and answer as a single-turn conversation, image placeholder first."""
    turn = sample["meta"].get("turn", 0)
    question, answer = (m["content"] for m in sample["messages"][2 * turn: 2 * turn + 2])
    prefix = f"{IMAGE_TOKEN}\n"
    return [{"role": "user", "content": prefix + question.removeprefix(prefix)}, {"role": "assistant", "content": answer}]


def _chunk(seed: int, start: int, qtypes: list[str], levels: dict[str, int], image_size: int,
           split: str, turns: int, follow_up_qtypes: tuple[str, ...]) -> list[dict]:
    return [make_sample(seed, start + i, q, levels[q], image_size, split, turns, follow_up_qtypes)
            for i, q in enumerate(qtypes)]


def _iter(n: int, mix: dict[str, float] | None, seed: int, image_size: int, difficulty: dict[str, int] | None,
          workers: int, chunk: int, split: str, turns: int = 1,
          follow_up_qtypes: tuple[str, ...] = FOLLOW_UP_QTYPES) -> Iterator[dict]:
    """Check the arguments now (not at the first `next`), then stream the samples."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if turns < 1:
        raise ValueError(f"turns must be at least 1, got {turns}")
    if not follow_up_qtypes or not set(follow_up_qtypes) <= set(ASKERS):
        raise ValueError(f"follow-up qtypes must be some of {', '.join(ASKERS)}; got {list(follow_up_qtypes)}")
    if image_size < 32:
        raise ValueError(f"image_size must be at least 32 pixels, got {image_size}")
    order = schedule(normalise_mix(mix), n)
    levels = levels_for(difficulty)
    jobs = [(seed, start, order[start:start + chunk], levels, image_size, split, turns, tuple(follow_up_qtypes))
            for start in range(0, n, chunk)]
    return _run(jobs, workers)


def _run(jobs: list[tuple], workers: int) -> Iterator[dict]:
    if workers <= 1 or len(jobs) <= 1:
        for job in jobs:
            yield from _chunk(*job)
        return
    with process_pool(workers, [__name__]) as pool:
        # Keep at most 2 chunks per worker in flight so memory stays bounded for any n.
        window = 2 * workers
        pending = [pool.submit(_chunk, *job) for job in jobs[:window]]
        for next_job in range(window, len(jobs) + window):
            yield from pending.pop(0).result()
            if next_job < len(jobs):
                pending.append(pool.submit(_chunk, *jobs[next_job]))


def iter_generate(n: int, mix: dict[str, float] | None = None, seed: int = 0, image_size: int = 64,
                  difficulty: dict[str, int] | None = None, workers: int = 1, chunk: int = 1000,
                  turns: int = 1, follow_up_qtypes: tuple[str, ...] = FOLLOW_UP_QTYPES) -> Iterator[dict]:
    """Stream `generate`'s samples; `workers` > 1 renders chunks in a process pool (same output)."""
    if not 0 <= seed < BENCH_SEED_BASE:
        raise ValueError(f"training seeds are 0 <= seed < {BENCH_SEED_BASE}; larger ones belong to the benchmark")
    return _iter(n, mix, seed, image_size, difficulty, workers, chunk, "train", turns, follow_up_qtypes)


def generate(n: int, mix: dict[str, float] | None = None, seed: int = 0, image_size: int = 64,
             difficulty: dict[str, int] | None = None, workers: int = 1, turns: int = 1,
             follow_up_qtypes: tuple[str, ...] = FOLLOW_UP_QTYPES) -> list[dict]:
    """n canonical samples, qtypes following `mix`, ids `world_<seed>_<k>`; deterministic. `turns` > 1
    makes each a multi-turn conversation: the family's question, then follow-ups about the same scene
    from the families `follow_up_qtypes`."""
    return list(iter_generate(n, mix, seed, image_size, difficulty, workers, turns=turns,
                              follow_up_qtypes=follow_up_qtypes))


def benchmark(n: int = 1000, seed: int = 0, mix: dict[str, float] | None = None, image_size: int = 64,
              difficulty: dict[str, int] | None = None, workers: int = 1) -> list[dict]:
    """A fixed evaluation split rendered from seed `BENCH_SEED_BASE + seed`, disjoint from training seeds."""
    if seed < 0:
        raise ValueError(f"benchmark seed must be >= 0, got {seed}")
    return list(_iter(n, mix, BENCH_SEED_BASE + seed, image_size, difficulty, workers, 1000, "bench"))
