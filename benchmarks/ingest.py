"""Ingest throughput and memory: synthetic VQAv2-schema files -> DataOptim-style LLaVA JSONL.

    .venv/bin/python benchmarks/ingest.py [--sizes 100000,1000000] [--baseline OTHER/src --repeat 5]

For each size N, writes a questions file and an annotations file in VQAv2's official schema (ten
answers per question, as the real files) with one COCO image name per 5 questions up to COCO
train2014's 82,783 (empty files: the ingest only checks they exist), then ingests them in a fresh
process (so the peak RSS is its own) and prints samples/s per wall second and per CPU second (what
a busy shared machine distorts least) and the peak RSS. Flat RSS across N shows the ingest streams.
With `--baseline`, another checkout's `src/` (main's, say) ingests the same files, alternating with
this one's `--repeat` times, so that a change is measured against it in the same minutes; the medians
are printed and the two outputs compared byte for byte.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import orjson

SRC = Path(__file__).resolve().parents[1] / "src"
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


def run_one(folder: Path, output: str) -> None:
    """Child process: ingest and print samples/s and peak RSS as one JSON line."""
    from synthloop.formats import registry
    from synthloop.formats.ingest import ingest

    from convert import print_measured  # benchmarks/convert.py: this script's folder is on sys.path

    samples = ingest("vqav2", [folder / "questions.json", folder / "annotations.json"], folder / "images")
    print_measured(lambda: registry.write("llava", samples, folder / output, overwrite=True))


def measure(folder: Path, output: str, src: str | None) -> dict:
    env = {**os.environ, "PYTHONPATH": src} if src else None
    done = subprocess.run([sys.executable, __file__, "--child", str(folder), output], check=True, capture_output=True,
                          text=True, env=env)
    return orjson.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000", help="comma-separated question counts")
    parser.add_argument("--baseline", metavar="SRC", help="another checkout's src/ to run alternately with this one's")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each per size; medians are printed")
    parser.add_argument("--child", nargs=2, metavar=("FOLDER", "OUTPUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_one(Path(args.child[0]), args.child[1])
        return
    runs = {"this": str(SRC), "baseline": args.baseline} if args.baseline else {"": None}
    for size in (int(s) for s in args.sizes.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            generate(Path(tmp), size)
            mib = sum((Path(tmp) / f).stat().st_size for f in ("questions.json", "annotations.json")) / 2**20
            results: dict[str, list[dict]] = {label: [] for label in runs}
            for _ in range(args.repeat):
                for label, src in runs.items():
                    results[label].append(measure(Path(tmp), f"vqav2{label}.jsonl", src))
            for label, measured in results.items():
                samples, seconds = measured[0]["samples"], statistics.median(r["seconds"] for r in measured)
                cpu = statistics.median(r["cpu_seconds"] for r in measured)
                print(f"vqav2 {size:>9,} questions ({mib:,.0f} MiB JSON){' ' + label if label else ''}: "
                      f"{samples / seconds:>8,.0f} samples/s wall ({seconds:.1f} s), {samples / cpu:>8,.0f} "
                      f"samples/CPU-s ({cpu:.2f} s), peak RSS {max(r['peak_rss_mib'] for r in measured):.0f} MiB")
            if args.baseline:
                same = filecmp.cmp(Path(tmp) / "vqav2this.jsonl", Path(tmp) / "vqav2baseline.jsonl", shallow=False)
                print(f"outputs byte-identical: {'yes' if same else 'NO'}")


if __name__ == "__main__":
    main()
