"""What the evaluation's prediction cache costs and saves: a small TinyVLM (random weights) scored on N
world benchmark samples without the cache, with it (cold), and rerun with every prediction cached
(what a resumed evaluation pays for the part it had done). Prints seconds and samples/s of each.

Run: .venv/bin/python benchmarks/eval_cache.py [N]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from synthloop.evaluate.prediction_cache import PredictionCache, model_fingerprint
from synthloop.evaluate.runner import evaluate
from synthloop.lab.world.generate import benchmark
from synthloop.models.tinyvlm.checkpoint import load_checkpoint, save_checkpoint
from synthloop.models.tinyvlm.network import TinyVLM, TinyVLMConfig
from synthloop.models.tinyvlm.tokenizer import train_tokenizer


def main(n: int = 512) -> None:
    samples = benchmark(n, seed=0, image_size=64)
    folder = Path(tempfile.mkdtemp())
    tokenizer = train_tokenizer((m["content"] for s in samples for m in s["messages"]), vocab_size=512)
    config = TinyVLMConfig(vocab_size=tokenizer.get_vocab_size())
    save_checkpoint(TinyVLM(config), tokenizer, folder / "ckpt")
    model = load_checkpoint(folder / "ckpt")
    fingerprint = model_fingerprint(f"builtin:{folder / 'ckpt'}")
    runs = [("no cache", None), ("cache, cold", folder / "cached"), ("cache, all cached", folder / "cached")]
    results = []
    for name, out in runs:
        cache = PredictionCache(out, fingerprint) if out is not None else None
        start = time.perf_counter()
        results.append(evaluate(model, samples, out or folder / "plain", batch_size=64, max_new_tokens=16,
                                cache=cache))
        seconds = time.perf_counter() - start
        if cache is not None:
            cache.close()
        print(f"{name:<20} {seconds:8.2f} s {n / seconds:10.1f} samples/s")
    assert results[0] == results[1] == results[2], "the cache changed the results"
    print(f"cache file: {(folder / 'cached' / 'predictions.cache.jsonl').stat().st_size / n:.0f} bytes per sample")


if __name__ == "__main__":
    main(*(int(arg) for arg in sys.argv[1:]))
