"""The scene judge's perception against the world's ground truth: exact scene match per level and speed.

    python benchmarks/scene_perception.py [--checkpoint DIR] [--n 2000] [--levels 0 1 2 3]

Scenes are world samples of every family, rendered from held-out seeds (`pixels.HELD_OUT_SEED + level`) that
no training scene uses; a scene matches when perception finds the same objects as `seen.from_annotation`,
each with the same box and the same most likely colour and shape. Speed: images/s with one torch thread,
the PNG decode included, by the wall clock and per second of the process's CPU time (the one core's
throughput, which other processes on a shared machine do not take from).
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path

import torch

from synthloop.images import decode
from synthloop.lab.scene_judge import pixels
from synthloop.lab.scene_judge.objects import load_perception
from synthloop.lab.scene_judge.seen import SeenObject, SeenScene, from_annotation
from synthloop.lab.world.generate import QTYPES, make_sample

CHECKPOINT = Path(__file__).parents[1] / "src/synthloop/lab/scene_judge/checkpoint"


def held_out(n: int, level: int) -> list[dict]:
    return [make_sample(pixels.HELD_OUT_SEED + level, k, QTYPES[k % len(QTYPES)], level) for k in range(n)]


def summary(obj: SeenObject) -> tuple:
    return obj.box, max(obj.color, key=obj.color.get), max(obj.shape, key=obj.shape.get)


def mismatch(seen: SeenScene, truth: SeenScene) -> str | None:
    """None when the scenes agree, else what differs first: count, box, colour or shape."""
    if len(seen.objects) != len(truth.objects):
        return "count"
    found = {o.box: summary(o) for o in seen.objects}
    for obj in truth.objects:
        box, color, shape = summary(obj)
        if box not in found:
            return "box"
        if found[box][1] != color:
            return "colour"
        if found[box][2] != shape:
            return "shape"
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=CHECKPOINT)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--levels", type=int, nargs="+", default=[0, 1, 2, 3])
    args = parser.parse_args()
    torch.set_num_threads(1)
    perception = load_perception(args.checkpoint)
    for level in args.levels:
        samples = held_out(args.n, level)
        start, cpu_start = time.perf_counter(), time.process_time()
        seen = perception.perceive([decode(s["images"][0]["bytes"]) for s in samples])
        seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
        errors = Counter(mismatch(scene, from_annotation(s["meta"])) for scene, s in zip(seen, samples))
        exact = errors.pop(None, 0)
        print(f"level {level}: exact {exact}/{len(samples)} = {exact / len(samples):.4f}  "
              f"errors {dict(errors)}  {len(samples) / seconds:.0f} images/s wall, "
              f"{len(samples) / cpu_seconds:.0f} per CPU second")


if __name__ == "__main__":
    main()
