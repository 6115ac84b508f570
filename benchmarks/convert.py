"""Conversion throughput: a generated LLaVA file -> Parquet and -> Data-Juicer JSONL.

    .venv/bin/python benchmarks/convert.py [--samples 200000]

Each conversion runs in a fresh process (so peak RSS is its own) and prints samples/s (per wall
second, and per CPU second, which is what a busy shared machine does not distort) and peak RSS.
Images are tiny files, so llava->parquet measures record handling plus reading and embedding them.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import orjson
from PIL import Image

IMAGES = 64
QUESTIONS = ["What colour is the {}?", "How many {}s are there?", "Where is the {} [0.12, 0.3, 0.56, 0.78]?",
             "Is there a {} in the picture?", "Describe the {} in detail."]
OBJECTS = ["cat", "bus", "circle", "square", "tree", "car", "person", "dog"]


def generate(folder: Path, samples: int) -> Path:
    """A LLaVA JSON list with mix665k-like variety: 1-4 turn pairs, some text-only, some multi-image."""
    (folder / "img").mkdir(parents=True)
    for i in range(IMAGES):
        Image.new("RGB", (32, 24), (i * 4, 100, 200)).save(folder / "img" / f"{i}.png")
    records = []
    for n in range(samples):
        turns = []
        for t in range(1 + n % 4):
            question = QUESTIONS[(n + t) % len(QUESTIONS)].format(OBJECTS[(n * 7 + t) % len(OBJECTS)])
            turns += [{"from": "human", "value": question}, {"from": "gpt", "value": f"Answer {n} to turn {t}."}]
        record: dict = {"id": f"bench_{n:07d}"}
        if n % 10 == 9:
            pass  # text-only
        elif n % 10 == 8:
            record["image"] = [f"img/{n % IMAGES}.png", f"img/{(n + 1) % IMAGES}.png"]
            turns[0]["value"] = "Compare <image> and <image>. " + turns[0]["value"]
        else:
            record["image"] = f"img/{n % IMAGES}.png"
            turns[0]["value"] = "<image>\n" + turns[0]["value"]
        record["conversations"] = turns
        records.append(record)
    path = folder / "bench.json"
    path.write_bytes(orjson.dumps(records))
    return path


def run_one(src: Path, fmt: str, dst: Path) -> None:
    """Child process: convert and print samples/s and peak RSS as one JSON line."""
    from synthloop.formats import registry

    print_measured(lambda: registry.write(fmt, registry.read("llava", src), dst, image_root=src.parent))


def print_measured(work: Callable[[], int]) -> None:
    """Run `work` (it returns its sample count) and print the count, wall and CPU seconds and this
    process's peak RSS as one JSON line (benchmarks/ingest.py shares it)."""
    start, cpu_start = time.perf_counter(), time.process_time()
    count = work()
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(orjson.dumps({"samples": count, "seconds": seconds, "cpu_seconds": cpu_seconds,
                        "peak_rss_mib": peak_mib}).decode())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=200_000)
    parser.add_argument("--child", nargs=3, metavar=("SRC", "FMT", "DST"), help=argparse.SUPPRESS)
    parser.add_argument("--generate", metavar="FOLDER", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_one(Path(args.child[0]), args.child[1], Path(args.child[2]))
        return
    if args.generate:
        generate(Path(args.generate), args.samples)
        return
    with tempfile.TemporaryDirectory() as tmp:
        # generate in a child too: Linux keeps a process's peak RSS across exec, so a parent that
        # built 200k records in memory would lend its peak to every conversion child
        subprocess.run([sys.executable, __file__, "--generate", tmp, "--samples", str(args.samples)], check=True)
        src = Path(tmp) / "bench.json"
        size_mib = src.stat().st_size / 2**20
        print(f"generated {args.samples} LLaVA samples ({size_mib:.1f} MiB JSON)")
        for fmt, dst in (("parquet", "out_parquet"), ("dj", "out.jsonl")):
            output = subprocess.run([sys.executable, __file__, "--child", str(src), fmt, str(Path(tmp) / dst)],
                                    check=True, capture_output=True, text=True).stdout
            result = orjson.loads(output.strip().splitlines()[-1])
            print(f"llava -> {fmt:8s} {result['samples'] / result['seconds']:>8,.0f} samples/s wall "
                  f"({result['seconds']:.1f} s), {result['samples'] / result['cpu_seconds']:>8,.0f} samples/CPU-s, "
                  f"peak RSS {result['peak_rss_mib']:.0f} MiB")


if __name__ == "__main__":
    main()
