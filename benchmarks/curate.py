"""Curation throughput and memory: synthloop's recipe engine beside Data-Juicer on the same data.

    .venv/bin/python benchmarks/curate.py --n 100000
    .venv/bin/python benchmarks/curate.py --n 10000 --skip-dj      # synthloop only

Builds N LLaVA samples with JPEG images and captions (some tiny or extreme-aspect images, exact
duplicates, re-encoded / resized / cropped near-duplicates, repeated and near-repeated captions,
over-long captions), runs the issue's recipe (recipes/curate.yaml, paths rewritten) with
`synthloop run`, then the equivalent Data-Juicer recipe (py-data-juicer==1.6.1, core only, in its own
venv under --work, installed on first use). Prints wall time, samples/s, CPU seconds of the whole
process tree, peak RSS of the tree (sampled), and the throughput ratio. Run it at N and 10N to
see RSS stay flat.
"""

from __future__ import annotations

import argparse
import ctypes
import io
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import orjson
import psutil
import yaml
from PIL import Image

from synthloop.engine.yaml_lines import load_yaml_with_lines

REPO = Path(__file__).resolve().parent.parent
PR_SET_CHILD_SUBREAPER = 36
DJ_VERSION = "1.6.1"
VOCAB = [f"w{i}" for i in range(3000)]


def build_dataset(folder: Path, n: int, seed: int = 0) -> tuple[Path, Path]:
    """LLaVA JSON + Data-Juicer JSONL over the same JPEG files; reused when already built for this n."""
    llava, dj = folder / "llava.json", folder / "dj.jsonl"
    if llava.exists() and dj.exists():
        return llava, dj
    rng = np.random.default_rng(seed)
    images = folder / "images"
    images.mkdir(parents=True, exist_ok=True)
    records, dj_lines, captions, jpegs = [], [], [], []
    for i in range(n):
        data, caption = _image(rng, jpegs), _caption(rng, captions)
        _remember(jpegs, data, i)
        _remember(captions, caption, i)
        name = f"{i // 1000:04d}/{i:07d}.jpg"
        (images / name).parent.mkdir(exist_ok=True)
        (images / name).write_bytes(data)
        records.append({"id": f"bench_{i:07d}", "image": name, "conversations": [
            {"from": "human", "value": "<image>\nDescribe the image."}, {"from": "gpt", "value": caption}]})
        dj_lines.append(orjson.dumps({"id": f"bench_{i:07d}", "images": [str(images / name)],
                                      "text": f"<__dj__image> {caption} <|__dj__eoc|>"}))
    llava.write_bytes(orjson.dumps(records))
    dj.write_bytes(b"\n".join(dj_lines) + b"\n")
    return llava, dj


def _remember(pool: list, item: object, i: int, size: int = 2000) -> None:
    """Keep a bounded pool of recent items to copy duplicates from."""
    if len(pool) < size:
        pool.append(item)
    else:
        pool[i % size] = item


def _image(rng: np.random.Generator, earlier: list[bytes]) -> bytes:
    roll = rng.random()
    if earlier and roll < 0.03:  # exact duplicate
        return earlier[rng.integers(len(earlier))]
    if earlier and roll < 0.06:  # near duplicate: resized, slightly cropped, re-encoded
        with Image.open(io.BytesIO(earlier[rng.integers(len(earlier))])) as img:
            w, h = img.size
            img = img.convert("RGB").crop((1, 1, w - 1, h - 1)).resize((int(w * 0.95), int(h * 0.95)))
            return _jpeg(img, 70)
    size = (16, 20) if roll < 0.08 else (200, 40) if roll < 0.10 else (int(rng.integers(96, 160)), 96)
    smooth = Image.fromarray(rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)).resize(size, Image.BICUBIC)
    return _jpeg(smooth, 85)


def _jpeg(img: Image.Image, quality: int) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def _caption(rng: np.random.Generator, earlier: list[str]) -> str:
    roll = rng.random()
    if earlier and roll < 0.03:
        return earlier[rng.integers(len(earlier))]
    if earlier and roll < 0.05:  # one word changed
        words = earlier[rng.integers(len(earlier))].split()
        words[rng.integers(len(words))] = VOCAB[rng.integers(len(VOCAB))]
        return " ".join(words)
    length = 450 if roll < 0.055 else int(rng.integers(12, 30))
    return " ".join(VOCAB[k] for k in rng.integers(0, len(VOCAB), length))


def measure(command: list[str], log: Path, cwd: Path | None = None) -> tuple[float, tuple[int, int, int], int, float]:
    """(wall seconds, peak RSS bytes (tree, main, largest child), return code, CPU seconds (user + sys
    of the whole tree)); output to `log`."""
    _adopt_orphans()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as sink:
        process = psutil.Popen(command, cwd=cwd, stdout=sink, stderr=subprocess.STDOUT)
        peak = _wait_for_peak(process)
    elapsed = time.perf_counter() - start
    _reap_orphans()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    if process.returncode:
        sys.stderr.write(log.read_text(errors="replace")[-3000:])
    return elapsed, peak, process.returncode, cpu


def _adopt_orphans() -> None:
    """Become a child subreaper (Linux), so descendants that outlive their parent (a fork server)
    are reaped here and their CPU time counts in RUSAGE_CHILDREN."""
    if sys.platform == "linux":
        ctypes.CDLL(None).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def _reap_orphans() -> None:
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return


def _wait_for_peak(process: psutil.Popen) -> tuple[int, int, int]:
    """Peak RSS of the whole tree, of the main process alone, and of the largest child."""
    peak = main = child = 0
    while process.poll() is None:
        try:
            own = process.memory_info().rss
            children = [p.memory_info().rss for p in process.children(recursive=True)]
        except psutil.Error:
            continue
        peak, main, child = max(peak, own + sum(children)), max(main, own), max(child, *children, 0)
        time.sleep(0.05)
    return peak, main, child


def synthloop_recipe(template: Path, work: Path, llava: Path, workers: int) -> Path:
    recipe, _ = load_yaml_with_lines(template.read_text())  # YAML 1.2: `on: image` keeps its key
    recipe["inputs"] = [{"format": "llava", "path": str(llava), "image_root": str(llava.parent / "images")}]
    recipe["output"] = {"format": "parquet", "path": str(work / "synthloop" / "out")}
    recipe["run_dir"] = str(work / "synthloop" / "run")
    recipe["executor"]["workers"] = workers
    path = work / "synthloop" / "recipe.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return path


def dj_config(work: Path, dj: Path, workers: int) -> Path:
    """The same curation in Data-Juicer terms (its image_shape_filter is our image_size; its
    image_size_filter is about file bytes); text length in characters for ~1..400 words."""
    config = {
        "project_name": "synthloop-bench", "dataset_path": str(dj), "np": workers,
        "export_path": str(work / "dj" / "out" / "result.jsonl"), "text_keys": "text", "image_key": "images",
        "process": [
            {"image_shape_filter": {"min_width": 32, "min_height": 32}},
            {"image_aspect_ratio_filter": {"min_ratio": 1 / 3, "max_ratio": 3.0}},
            {"text_length_filter": {"min_len": 1, "max_len": 2800}},
            {"image_deduplicator": {"method": "phash"}},
            {"document_minhash_deduplicator": {"tokenization": "space", "jaccard_threshold": 0.8}},
        ],
    }
    path = work / "dj" / "config.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def dj_venv(work: Path) -> Path:
    """Data-Juicer core in its own venv, plus what its ops import lazily (installed up front so the
    timing holds no installs): aiohttp (missing from 1.6.1's core) and imagededup (image_deduplicator)."""
    venv = work / "dj-venv"
    if not (venv / "bin" / "dj-process").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    packages = [f"py-data-juicer=={DJ_VERSION}", "aiohttp", "imagededup"]
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", *packages],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return venv


def report(name: str, n: int, seconds: float, peaks: tuple[int, int, int], code: int, cpu: float) -> None:
    status = "" if code == 0 else f"  (FAILED, exit {code})"
    tree, main, child = (p / 2**20 for p in peaks)
    print(f"{name:11s} {seconds:8.1f} s  {n / seconds:9.0f} samples/s  CPU {cpu:7.1f} s  peak RSS {tree:6.0f} MiB "
          f"(main process {main:.0f}, largest child {child:.0f}){status}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100_000, help="samples to build and curate")
    parser.add_argument("--work", type=Path, default=Path("/tmp/synthloop-bench"), help="data, outputs, DJ venv")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--recipe", type=Path, default=REPO / "recipes" / "curate.yaml",
                        help="synthloop recipe whose ops to run (inputs, output and run_dir are replaced)")
    parser.add_argument("--skip-dj", action="store_true", help="run synthloop only")
    args = parser.parse_args()

    data = args.work / f"data-{args.n}"
    start = time.perf_counter()
    llava, dj = build_dataset(data, args.n)
    print(f"dataset: {args.n:,} samples in {data} ({time.perf_counter() - start:.0f} s to build or reuse)")

    subprocess.run(["rm", "-rf", str(args.work / "synthloop"), str(args.work / "dj" / "out")], check=True)
    recipe = synthloop_recipe(args.recipe, args.work, llava, args.workers)
    ours = measure([str(REPO / ".venv" / "bin" / "synthloop"), "run", str(recipe)], args.work / "synthloop.log")
    report("synthloop", args.n, *ours)
    ledger = orjson.loads((args.work / "synthloop" / "run" / "ledger.json").read_bytes()) if ours[2] == 0 else None
    if ledger:
        print("  funnel: " + ", ".join(f"{e['op']} -{e['dropped'] + e['quarantined']}" for e in ledger["ops"]) +
              f" -> {ledger['output']:,} kept")
    if args.skip_dj:
        return
    venv = dj_venv(args.work)
    config = dj_config(args.work, dj, args.workers)
    theirs = measure([str(venv / "bin" / "dj-process"), "--config", str(config)], args.work / "dj.log",
                     cwd=args.work / "dj")
    report("data-juicer", args.n, *theirs)
    if theirs[2] == 0:
        out = args.work / "dj" / "out" / "result.jsonl"
        kept = sum(1 for _ in out.open()) if out.exists() else -1
        print(f"  data-juicer kept {kept:,}")
        print(f"throughput ratio synthloop / data-juicer: {theirs[0] / ours[0]:.1f}x (CPU seconds: "
              f"{theirs[3] / ours[3]:.1f}x)")


if __name__ == "__main__":
    main()
