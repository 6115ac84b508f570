"""TinyVLM training speed: samples/s and achieved FLOP/s as a fraction of this CPU's measured matmul peak.

    python benchmarks/train_speed.py [--threads 2] [--steps 10] [--batch 64] [--repeats 3] [--set KEY=VALUE ...]

The peak is the best float32 GEMM rate over a few square sizes with the same thread count, and the
training rate the best of `--repeats` passes over the same steps (the optimiser keeps updating). Step FLOPs
(forward + backward) are counted by `torch.utils.flop_counter` on real world batches (toy data if the
world package is missing); the optimiser update is timed but not counted.
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as `import synthloop` does, before torch loads

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from synthloop.train.data import encode_samples, global_batches
from synthloop.train.tinyvlm import TinyVLM
from synthloop.train.tokenizer import train_tokenizer
from synthloop.train.trainer import TrainConfig, _optimizer, split_overrides


def matmul_peak(sizes: tuple[int, ...] = (512, 1024, 2048), repeats: int = 5) -> float:
    best = 0.0
    for n in sizes:
        a, b = torch.randn(n, n), torch.randn(n, n)
        a @ b
        for _ in range(repeats):
            start = time.perf_counter()
            a @ b
            best = max(best, 2 * n**3 / (time.perf_counter() - start))
    return best


def training_samples(n: int) -> list[dict]:
    try:
        from synthloop.world import generate
    except ImportError:
        from synthloop.train.toy import toy_samples
        return toy_samples(n)
    return generate(n, seed=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3, help="timed passes over the steps; the best counts")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="TinyVLM/TrainConfig overrides")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)  # as the trainer runs
    torch.utils.deterministic.fill_uninitialized_memory = False
    torch.manual_seed(0)
    model_cfg, _ = split_overrides({k: json.loads(v) for k, v in (s.split("=", 1) for s in args.set)})

    samples = training_samples(args.batch * (args.steps + 1))
    tokenizer = train_tokenizer((m["content"] for s in samples for m in s["messages"]), model_cfg.vocab_size)
    model_cfg.vocab_size = tokenizer.get_vocab_size()
    model = TinyVLM(model_cfg).train()
    data = encode_samples(samples, tokenizer, model_cfg.image_tokens, model_cfg.image_size, model_cfg.max_seq_len,
                          image_cells=model.image_cells)
    batches = [step[0] for step in global_batches(data, args.batch, args.batch, np.random.default_rng(0))]
    optimizer = _optimizer(list(model.named_parameters()), TrainConfig())

    def step(batch, update: bool = True) -> None:
        losses = model.token_losses(batch.input_ids, batch.labels, model.image_features(data.pixels[batch.image_index]),
                                    data.cells[batch.image_index])
        losses.mean().backward()
        if update:
            optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    timed = batches[1: args.steps + 1]
    step(batches[0])  # warm-up
    counter = FlopCounterMode(display=False)
    with counter:  # count each timed batch's forward + backward in an untimed pass
        for batch in timed:
            step(batch, update=False)
    flops = counter.get_total_flops()

    seconds = float("inf")
    for _ in range(args.repeats):  # the best pass, as the peak is the best GEMM: both least disturbed
        start = time.perf_counter()
        for batch in timed:
            step(batch)
        seconds = min(seconds, time.perf_counter() - start)
    seen = sum(batch.size for batch in timed)
    flops_per_sample = flops / seen
    peak = matmul_peak()
    achieved = flops / seconds
    params = sum(p.numel() for p in model.parameters())
    tokens = float(np.mean([len(ids) for ids in data.ids]))
    image_tokens = float(data.cells.sum(dim=1).float().mean())
    print(f"model: {params / 1e6:.2f} M parameters, {image_tokens:.1f} of {model_cfg.image_tokens} image tokens "
          f"per image, {tokens:.1f} tokens/sample on average")
    print(f"threads: {args.threads}; batch {args.batch}; {args.steps} timed steps")
    print(f"training: {seen / seconds:.1f} samples/s, {flops_per_sample / 1e6:.1f} MFLOP/sample")
    print(f"achieved: {achieved / 1e9:.2f} GFLOP/s; matmul peak {peak / 1e9:.2f} GFLOP/s; "
          f"fraction of peak {achieved / peak:.1%}")


if __name__ == "__main__":
    main()
