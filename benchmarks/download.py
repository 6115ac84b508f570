"""synthloop's URL download beside img2dataset's on one loopback server: images/s, CPU seconds, peak RSS
and the count of each outcome, every URL accounted for.

The server (tests/url_server.py, its own process) serves N generated JPEGs; by position, 20% of the
URLs answer 404, 5% answer after the timeout, 5% are corrupt bytes, 3% redirect to a good image, 2%
are a 1.6 MB JPEG over the 1 MB cap and 1% carry `X-Robots-Tag: noai`. Both tools run with one
process, the same number of requests in flight, the same timeout and no retries; img2dataset
(pip, its own venv: `--img2dataset-python`) with `resize_mode no` (it still decodes and re-encodes,
as synthloop decodes) and WebDataset output, synthloop with a `urls` input and `webdataset` output.
img2dataset has no size cap, so it keeps the oversized images.

    .venv/bin/python benchmarks/download.py --n 2000 4000 --concurrency 32 \\
        --img2dataset-python /work/peers-venv/bin/python
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
import psutil
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SERVER = ROOT / "tests" / "url_server.py"
TIMEOUT = 2
MAX_BYTES = 1 << 20
I2D_SCRIPT = """
import sys, img2dataset
img2dataset.download(url_list=sys.argv[1], output_folder=sys.argv[2], input_format="parquet", url_col="url",
    caption_col="caption", output_format="webdataset", processes_count=1, thread_count=int(sys.argv[3]),
    timeout=int(sys.argv[4]), retries=0, resize_mode="no", number_sample_per_shard=10000, compute_hash=None,
    extract_exif=False, distributor="multiprocessing")
"""


def plan(n: int) -> list[str]:
    """The outcome planned for each URL, by position (every 100 URLs: 20 missing, 5 slow, ...)."""
    kinds = ["missing"] * 20 + ["slow"] * 5 + ["corrupt"] * 5 + ["redirect"] * 3 + ["huge"] * 2 + ["noai"]
    kinds += ["ok"] * (100 - len(kinds))
    order = np.random.default_rng(0).permutation(100)
    return [kinds[order[i % 100]] for i in range(n)]


def jpeg(rng: np.random.Generator, side: int, quality: int = 85) -> bytes:
    pixels = rng.integers(0, 256, (side, side, 3), dtype=np.uint8)
    pixels = (pixels // 32 * 32).astype(np.uint8)  # coarser noise: sizes like photos', not incompressible
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def serve_plan(folder: Path, n: int, port: int) -> tuple[list[str], list[str]]:
    """Write the images and the routes file; the URLs and their planned outcomes."""
    rng = np.random.default_rng(1)
    images = folder / "images"
    images.mkdir()
    huge = images / "huge.jpg"
    huge.write_bytes(jpeg(rng, 1200, 95))
    corrupt = images / "corrupt.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff\xe0" + rng.bytes(5000))
    routes, urls, kinds = {}, [], plan(n)
    base = f"http://127.0.0.1:{port}"
    for i, kind in enumerate(kinds):
        path = f"/{i}.jpg"
        if kind in ("ok", "slow", "redirect", "noai"):
            file = images / f"{i}.jpg"
            file.write_bytes(jpeg(rng, int(rng.integers(96, 320))))
            target = f"/img/{i}.jpg" if kind == "redirect" else path
            routes[target] = {"file": str(file), "delay": TIMEOUT * 2 if kind == "slow" else 0.0}
            if kind == "noai":
                routes[target]["headers"] = {"Content-Type": "image/jpeg", "X-Robots-Tag": "noai"}
            if kind == "redirect":
                routes[path] = {"status": 302, "headers": {"Location": target}}
        elif kind in ("huge", "corrupt"):
            routes[path] = {"file": str(huge if kind == "huge" else corrupt)}
        urls.append(base + path)
    (folder / "routes.json").write_text(json.dumps(routes))
    captions = [f"image number {i}" for i in range(n)]
    pq.write_table(pa.table({"url": urls, "caption": captions}), folder / "urls.parquet")
    return urls, kinds


def measured(command: list[str], env: dict | None = None) -> dict:
    """Run a command; its wall seconds, CPU seconds (it and its children) and peak RSS of its process tree."""
    start = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    root, peak = psutil.Process(process.pid), 0
    while process.poll() is None:
        try:
            tree = [root, *root.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
        except psutil.NoSuchProcess:
            pass
        time.sleep(0.05)
    wall = time.perf_counter() - start
    usage = resource_of_children()
    if process.returncode != 0:
        sys.exit(f"{command[0]} failed:\n{process.stderr.read().decode()[-3000:]}")
    return {"wall": wall, "cpu": usage, "rss_mib": peak / 2**20}


_cpu_before = 0.0


def resource_of_children() -> float:
    """CPU seconds of the children waited for since the last call."""
    import resource

    global _cpu_before
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = usage.ru_utime + usage.ru_stime
    spent, _cpu_before = total - _cpu_before, total
    return spent


def run_synthloop(folder: Path, concurrency: int) -> tuple[dict, Counter]:
    recipe = folder / "recipe.yaml"
    download = {"concurrency": concurrency, "per_host": concurrency, "timeout": TIMEOUT, "retries": 0,
                "max_bytes": MAX_BYTES}
    recipe.write_text(json.dumps({
        "inputs": [{"format": "urls", "path": str(folder / "urls.parquet"), "download": download}],
        "output": {"format": "webdataset", "path": str(folder / "synthloop-out")},
        "run_dir": str(folder / "synthloop-run"), "executor": {"workers": 1}}))
    synthloop = str(Path(sys.executable).with_name("synthloop"))
    figures = measured([synthloop, "run", str(recipe)])
    ledger = json.loads((folder / "synthloop-run" / "ledger.json").read_bytes())
    outcomes = Counter({"kept": ledger["output"]})
    for part in sorted((folder / "synthloop-run" / "quarantine").glob("*.parquet")):
        for error in pq.read_table(part, columns=["error"])["error"].to_pylist():
            outcomes[error.split(":", 1)[0].removeprefix("download ")] += 1
    assert ledger["input"] == sum(outcomes.values()), (ledger, outcomes)
    return figures, outcomes


def run_img2dataset(folder: Path, python: str, concurrency: int) -> tuple[dict, Counter]:
    out = folder / "img2dataset-out"
    figures = measured([python, "-c", I2D_SCRIPT, str(folder / "urls.parquet"), str(out), str(concurrency),
                        str(TIMEOUT)], env={**os.environ, "NO_ALBUMENTATIONS_UPDATE": "1", "PYTHONPATH": ""})
    outcomes: Counter = Counter()
    for part in sorted(out.glob("*.parquet")):
        for row in pq.read_table(part, columns=["status", "error_message"]).to_pylist():
            outcomes["kept" if row["status"] == "success" else _i2d_kind(row)] += 1
    return figures, outcomes


def _i2d_kind(row: dict) -> str:
    message = (row["error_message"] or "").lower()
    if "http error" in message:
        return "http_status"
    if "timed out" in message:
        return "timeout"
    if "x-robots-tag" in message:
        return "opted_out"
    return "not_an_image" if row["status"] == "failed_to_resize" else f"other: {message[:40]}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[2000], help="URL counts to run (RSS flat in N?)")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--img2dataset-python", default="/work/peers-venv/bin/python",
                        help="a Python with img2dataset installed (not synthloop's venv)")
    parser.add_argument("--port", type=int, default=18742)
    parser.add_argument("--synthloop-only", action="store_true", help="skip img2dataset (RSS in N, quickly)")
    args = parser.parse_args()
    print(f"{'tool':12s} {'N':>6s} {'images/s':>9s} {'wall s':>7s} {'CPU s':>7s} {'peak RSS MiB':>13s}  outcomes")
    for n in args.n:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            _, kinds = serve_plan(folder, n, args.port)
            server = subprocess.Popen([sys.executable, str(SERVER), str(args.port), str(folder / "routes.json")])
            try:
                time.sleep(1.0)
                runs = {"synthloop": lambda: run_synthloop(folder, args.concurrency),
                        "img2dataset": lambda: run_img2dataset(folder, args.img2dataset_python, args.concurrency)}
                for tool, measure in runs.items():
                    if tool == "img2dataset" and args.synthloop_only:
                        continue
                    figures, outcomes = measure()
                    accounted = sum(outcomes.values())
                    print(f"{tool:12s} {n:6d} {outcomes['kept'] / figures['wall']:9.1f} {figures['wall']:7.1f} "
                          f"{figures['cpu']:7.1f} {figures['rss_mib']:13.0f}  "
                          f"{dict(sorted(outcomes.items()))} (accounted {accounted}/{n})")
            finally:
                server.terminate()
                server.wait()
        print(f"{'planned':12s} {n:6d} {dict(sorted(Counter(kinds).items()))}")


if __name__ == "__main__":
    main()
