"""Ingest throughput and memory: synthetic VQAv2-schema files -> DataOptim-style LLaVA JSONL.

    .venv/bin/python benchmarks/ingest.py [--sizes 100000,1000000]

For each size N, writes a questions file and an annotations file in VQAv2's official schema (ten
answers per question, as the real files) with one COCO image name per 5 questions up to COCO
train2014's 82,783 (empty files: the ingest only checks they exist), then ingests them in a fresh
process (so the peak RSS is its own) and prints samples/s per wall second and per CPU second (what
a busy shared machine does not distort) and the peak RSS. Flat RSS across N shows the ingest streams.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import orjson

COCO_TRAIN_IMAGES = 82_783
WORDS = ["laptop", "dog", "bus", "kite", "pizza", "clock", "train", "horse"]


def _write_list(path: Path, head: dict, key: str, items) -> None:  # noqa: ANN001  (an iterator of dicts)
    with open(path, "wb") as file:
        file.write(orjson.dumps(head)[:-1] + b', "' + key.encode() + b'": [')
        for n, item in enumerate(items):
            file.write((b",\n" if n else b"\n") + orjson.dumps(item))
        file.write(b"\n]}\n")


def generate(folder: Path, size: int) -> None:
    images = min(max(size // 5, 1), COCO_TRAIN_IMAGES)
    (folder / "images" / "coco").mkdir(parents=True)
    for image_id in range(images):
        (folder / "images" / "coco" / f"COCO_train2014_{image_id:012d}.jpg").touch()
    head = {"info": {"description": "synthetic"}, "license": {}, "data_subtype": "train2014"}

    def question(n: int) -> dict:
        return {"image_id": n % images, "question": f"Is that a {WORDS[n % 8]} next to the {WORDS[n % 5]}?",
                "question_id": n * 10 + 1}

    def annotation(n: int) -> dict:
        answers = [{"answer": "yes" if (n + j) % 3 else "no", "answer_confidence": "yes", "answer_id": j + 1}
                   for j in range(10)]
        return {"question_type": "is that a", "multiple_choice_answer": "yes", "answers": answers,
                "image_id": n % images, "answer_type": "yes/no", "question_id": n * 10 + 1}

    _write_list(folder / "questions.json", {**head, "task_type": "Open-Ended"}, "questions",
                (question(n) for n in range(size)))
    _write_list(folder / "annotations.json", head, "annotations", (annotation(n) for n in range(size)))


def run_one(folder: Path) -> None:
    """Child process: ingest and print samples/s and peak RSS as one JSON line."""
    from synthloop.formats import registry
    from synthloop.formats.ingest import ingest

    from convert import print_measured  # benchmarks/convert.py: this script's folder is on sys.path

    samples = ingest("vqav2", [folder / "questions.json", folder / "annotations.json"], folder / "images")
    print_measured(lambda: registry.write("llava", samples, folder / "vqav2.jsonl"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000", help="comma-separated question counts")
    parser.add_argument("--child", metavar="FOLDER", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_one(Path(args.child))
        return
    for size in (int(s) for s in args.sizes.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            generate(Path(tmp), size)
            mib = sum((Path(tmp) / f).stat().st_size for f in ("questions.json", "annotations.json")) / 2**20
            output = subprocess.run([sys.executable, __file__, "--child", tmp], check=True, capture_output=True,
                                    text=True).stdout
            result = orjson.loads(output.strip().splitlines()[-1])
            print(f"vqav2 {size:>9,} questions ({mib:,.0f} MiB JSON): {result['samples'] / result['seconds']:>8,.0f} "
                  f"samples/s wall ({result['seconds']:.1f} s), {result['samples'] / result['cpu_seconds']:>8,.0f} "
                  f"samples/CPU-s, peak RSS {result['peak_rss_mib']:.0f} MiB")


if __name__ == "__main__":
    main()
