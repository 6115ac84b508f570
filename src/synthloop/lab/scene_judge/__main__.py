"""`python -m synthloop.lab.scene_judge [--out DIR] [--threshold-only]`: regenerate the packaged scene judge."""

from __future__ import annotations

import argparse
from pathlib import Path

import orjson

from synthloop.lab.scene_judge.judge import CHECKPOINT
from synthloop.lab.scene_judge.train import train_scene_judge, write_threshold


def main() -> None:
    parser = argparse.ArgumentParser(description="Regenerate the packaged scene judge (bit for bit).")
    parser.add_argument("--out", type=Path, default=CHECKPOINT)
    parser.add_argument("--threshold-only", action="store_true", help="keep the trained parts, choose the "
                        "threshold again")
    args = parser.parse_args()
    if not args.threshold_only:
        train_scene_judge(args.out)
    print(orjson.dumps(write_threshold(args.out)).decode())


if __name__ == "__main__":
    main()
