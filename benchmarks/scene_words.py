"""The scene judge's word reader on held-out world OCR scenes: exact reads per level, how well p_word
separates the right word from a wrong one, and reading speed on one core.

    PYTHONPATH=src .venv/bin/python benchmarks/scene_words.py [--n 1000] [--reader DIR] [--rapidocr 200]

For each level 0-3, `--n` held-out scenes (words.held_out_scenes: seeds 7_200_000 +, disjoint from
training's) with their word and a wrong word as the world's noise picks one (another vocabulary word of
the level's lengths). Prints the exact-read rate, p_word's lowest score of a right word and highest of a
wrong word, and the recall of wrong words at the threshold that rejects at most 0.2 % of right words
(the largest score below which at most that share of right words fall); and images per second of `read`
and `p_word` with torch on one thread, counted in this process's CPU time (time.process_time), so that
other programs on a shared machine do not slow the figure down. With `--rapidocr N`, RapidOCR (the
`ocr` op's engine, rapidocr-onnxruntime) reads the first N scenes of each level beside it, as in
benchmarks/world.py (letters a-z of its lower-cased text).
"""

from __future__ import annotations

import argparse
import re
import time
from pathlib import Path

import numpy as np
import torch

from synthloop.lab.scene_judge.judge import CHECKPOINT
from synthloop.lab.scene_judge.words import held_out_scenes, load_reader

FALSE_REJECT = 0.002


def rapidocr_exact(scenes: list[tuple]) -> float:
    from rapidocr_onnxruntime import RapidOCR

    engine = RapidOCR()
    reads = [engine(np.asarray(image))[0] or [] for image, _, _ in scenes]
    return float(np.mean([re.sub("[^a-z]", "", "".join(t for _, t, _ in read).lower()) == word
                          for read, (_, word, _) in zip(reads, scenes)]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="held-out scenes per level")
    parser.add_argument("--reader", type=Path, default=CHECKPOINT, help="folder with words.safetensors")
    parser.add_argument("--rapidocr", type=int, default=0, help="scenes per level RapidOCR reads too (0 skips)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    reader = load_reader(args.reader)
    print(f"reader {args.reader}, {args.n} held-out scenes per level, torch on 1 thread, img/s in CPU time")
    print("level  exact read  min p(right)  max p(wrong)  threshold  wrong recall  read img/s  p_word img/s")
    for level in range(4):
        scenes = held_out_scenes(args.n, level)
        images = [s[0] for s in scenes]
        start = time.process_time()
        reads = reader.read(images)
        read_speed = len(images) / (time.process_time() - start)
        start = time.process_time()
        right = np.array(reader.p_word(images, [s[1] for s in scenes]))
        p_word_speed = len(images) / (time.process_time() - start)
        wrong = np.array(reader.p_word(images, [s[2] for s in scenes]))
        exact = np.mean([read == s[1] for read, s in zip(reads, scenes)])
        threshold = np.sort(right)[int(FALSE_REJECT * len(right))]
        recall = np.mean(wrong < threshold)
        print(f"{level:5d}  {exact:10.4f}  {right.min():12.3g}  {wrong.max():12.3g}  {threshold:9.3g}  "
              f"{recall:12.4f}  {read_speed:10.0f}  {p_word_speed:12.0f}")
        misread = [(s[1], read) for read, s in zip(reads, scenes) if read != s[1]]
        if misread:
            print(f"       misread (word, read): {misread[:8]}")
        if args.rapidocr:
            print(f"       RapidOCR reads {rapidocr_exact(scenes[:args.rapidocr]):.4f} of the first {args.rapidocr}")


if __name__ == "__main__":
    main()
