"""Per-op throughput of the pure-compute filters and dedups (a benchmark, not a test).

    python benchmarks/ops.py [--samples 2000] [--keys 100000]

Builds JPEG samples (rendered shapes, 256x256, captions), times each op's batch method on
batches of 256 with the batch decoding at the op's declared pixel need (scale and grey or RGB,
as the engine would for a stage of that op alone), then times the global
`resolve` of each dedup on `--keys` synthetic keys with planted duplicates. Decoding is counted
inside the first pixel op of each batch, as in the engine (the Batch caches decoded pixels).
"""

from __future__ import annotations

import argparse
import io
import time

import numpy as np
from PIL import Image, ImageDraw

from synthloop.engine.plan import decode_mode, decode_side
from synthloop.ops import op_class
from synthloop.ops.base import Batch, Dedup
from synthloop.sample import new_sample

BATCH = 256
WORDS = "a the red blue green small large circle square triangle left right of above below near and".split()


def make_samples(n: int, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    samples = []
    for k in range(n):
        img = Image.new("RGB", (256, 256), tuple(rng.integers(0, 256, 3).tolist()))
        draw = ImageDraw.Draw(img)
        for _ in range(3):
            x, y = rng.integers(0, 200, 2).tolist()
            draw.ellipse([x, y, x + 50, y + 50], fill=tuple(rng.integers(0, 256, 3).tolist()))
        buffer = io.BytesIO()
        img.save(buffer, "JPEG", quality=85)
        caption = " ".join(rng.choice(WORDS, int(rng.integers(5, 25))).tolist())
        samples.append(new_sample(f"s{k:07d}", [{"role": "user", "content": "<image>\nDescribe."},
                                                {"role": "assistant", "content": caption}],
                                  [{"bytes": buffer.getvalue(), "path": None}]))
    return samples


def time_op(name: str, params: dict, samples: list[dict]) -> float:
    op = op_class(name)(**params)
    side, mode = decode_side([op]), decode_mode([op])
    start = time.perf_counter()
    for b in range(0, len(samples), BATCH):
        batch = Batch([dict(s, scores={}) for s in samples[b : b + BATCH]], max_side=side, mode=mode)
        op.key(batch) if isinstance(op, Dedup) else op.process(batch)
    return len(samples) / (time.perf_counter() - start)


def synthetic_keys(name: str, n: int, rng: np.random.Generator) -> list[tuple[str, object]]:
    """n keys of the op's kind, 10% of them near or exact copies of another key."""
    copies = rng.integers(0, n, n // 10)
    if name == "image_near_dedup":
        hashes = rng.integers(0, 2**64, n, dtype=np.uint64)
        hashes[: len(copies)] = hashes[copies] ^ (np.uint64(1) << rng.integers(0, 64, len(copies)).astype(np.uint64))
        return [(f"s{k:07d}", [h]) for k, h in enumerate(hashes.tolist())]
    if name == "text_minhash_dedup":
        sigs = rng.integers(0, 2**32, (n, 128), dtype=np.uint32)
        sigs[: len(copies)] = sigs[copies]
        sigs[: len(copies), :10] = rng.integers(0, 2**32, (len(copies), 10), dtype=np.uint32)  # J ~ 0.92
        return [(f"s{k:07d}", row.astype("<u4").tobytes()) for k, row in enumerate(sigs)]
    digests = [v.to_bytes(16, "little") for v in rng.integers(0, 2**63, n).tolist()]
    return [(f"s{k:07d}", digests[copies[k]] if k < len(copies) else d) for k, d in enumerate(digests)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--keys", type=int, default=100_000)
    args = parser.parse_args()
    samples = make_samples(args.samples)
    print(f"per-op throughput on {args.samples} JPEG samples (256x256), batches of {BATCH}:")
    for name, params in [("image_decodable", {}), ("image_size", {"min_side": 32}),
                         ("image_aspect_ratio", {}), ("image_file_size", {"min_bytes": 100}),
                         ("image_blur", {}), ("text_length", {"min_words": 1}), ("special_char_ratio", {}),
                         ("text_repetition", {}), ("image_token_match", {}), ("answer_nonempty", {}),
                         ("exact_dedup", {"on": "both"}), ("image_near_dedup", {}), ("text_minhash_dedup", {})]:
        print(f"  {name:<20} {time_op(name, params, samples):>10,.0f} samples/s")
    rng = np.random.default_rng(0)
    print(f"dedup resolve on {args.keys:,} keys (10% planted copies):")
    for name in ("exact_dedup", "image_near_dedup", "text_minhash_dedup"):
        keys = synthetic_keys(name, args.keys, rng)
        start = time.perf_counter()
        drops = op_class(name)().resolve(keys)
        print(f"  {name:<20} {time.perf_counter() - start:>8.2f} s, {len(drops):,} duplicates")


if __name__ == "__main__":
    main()
