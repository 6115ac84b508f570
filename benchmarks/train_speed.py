"""TinyVLM training speed: samples/s and achieved FLOP/s as a fraction of this CPU's measured matmul peak.

    python benchmarks/train_speed.py [--threads 2] [--steps 10] [--batch 32] [--turns 4] [--repeats 5]
                                     [--set KEY=VALUE ...]

It times the trainer's own optimiser step (`train_step`: forward, backward, the auxiliary losses, gradient
clipping and the AdamW update) on world conversations, with the model and settings that
`benchmarks/tinyvlm_world.py` trains for the accuracy goal (its `SETTINGS`, global batch 32, 4 turns): a
frozen encoder's image features are computed once before the steps, as in training. `--set vision=\"conv\"
drop_background=false d_model=128 aux_losses={} --turns 1 --batch 64` times the
bare defaults instead.

Each of `--repeats` timed passes over the same steps (the optimiser keeps updating) is paired with a
peak measured right after it: the best float32 GEMM rate over a few square sizes with the same thread
count. The fraction printed is the median of the passes' own fractions, so a pass slowed by a busy machine
is set against a peak measured on the same busy machine. Step FLOPs (forward + backward) are counted by
`torch.utils.flop_counter` on the same steps in an untimed pass; the optimiser update is timed but not
counted.
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as `import synthloop` does, before torch loads

import numpy as np
import torch
from tinyvlm_world import SETTINGS
from torch.utils.flop_counter import FlopCounterMode

from synthloop.models.tinyvlm.network import TinyVLM
from synthloop.models.tinyvlm.tokenizer import train_tokenizer
import synthloop.lab.probes  # noqa: F401  (registers the lab's auxiliary losses)
from synthloop.train.aux import build_aux_losses
from synthloop.train.data import encode_samples, global_batches
from synthloop.train.trainer import (
    fixed_image_features,
    make_optimizer,
    micro_batching,
    split_overrides,
    stage_parameters,
    train_step,
)
from synthloop.lab.world import generate


def matmul_peak(sizes: tuple[int, ...] = (512, 1024, 2048), repeats: int = 3) -> float:
    best = 0.0
    for n in sizes:
        a, b = torch.randn(n, n), torch.randn(n, n)
        a @ b
        for _ in range(repeats):
            start = time.perf_counter()
            a @ b
            best = max(best, 2 * n**3 / (time.perf_counter() - start))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--batch", type=int, default=32, help="global batch size")
    parser.add_argument("--turns", type=int, default=4, help="questions per world conversation")
    parser.add_argument("--repeats", type=int, default=5, help="timed passes over the steps")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                        help="TinyVLM/TrainConfig settings over tinyvlm_world's")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)  # as the trainer runs
    torch.utils.deterministic.fill_uninitialized_memory = False
    torch.manual_seed(0)
    overrides = {**SETTINGS, **{k: json.loads(v) for k, v in (s.split("=", 1) for s in args.set)}}
    model_cfg, train_cfg = split_overrides(overrides)

    samples = generate(args.batch * (args.steps + 1), seed=0, turns=args.turns)
    tokenizer = train_tokenizer((m["content"] for s in samples for m in s["messages"]), model_cfg.vocab_size)
    model_cfg.vocab_size = tokenizer.get_vocab_size()
    model = TinyVLM(model_cfg)
    data = encode_samples(samples, tokenizer, model_cfg.image_tokens, model_cfg.image_size, model_cfg.max_seq_len,
                          image_cells=model.image_cells)
    aux_losses = build_aux_losses(train_cfg.aux_losses, model, samples, data, tokenizer)
    params = stage_parameters(model, None, aux_losses)
    optimizer = make_optimizer(params, train_cfg)
    features = fixed_image_features(model, data)
    model.train()
    micro = micro_batching(args.batch, train_cfg.micro_batch_size, len(data))
    batches = list(global_batches(data, args.batch, micro, np.random.default_rng(0)))

    def step(micro_batches: list) -> None:
        train_step(model, data, features, micro_batches, aux_losses, params, optimizer, train_cfg)

    timed = batches[1: args.steps + 1]
    step(batches[0])  # warm-up
    counter = FlopCounterMode(display=False)
    with counter:  # count each timed step's forward + backward in an untimed pass
        for micro_batches in timed:
            step(micro_batches)
    flops = counter.get_total_flops()

    rates, peaks = [], []
    for _ in range(args.repeats):  # each pass paired with a peak measured just after it, on the same machine state
        start = time.perf_counter()
        for micro_batches in timed:
            step(micro_batches)
        rates.append(flops / (time.perf_counter() - start))
        peaks.append(matmul_peak())
    fractions = sorted(rate / peak for rate, peak in zip(rates, peaks, strict=True))
    seen = sum(b.size for micro_batches in timed for b in micro_batches)
    achieved, peak = float(np.median(rates)), float(np.median(peaks))
    trained = sum(p.numel() for _, p in params)
    tokens = float(np.mean([len(ids) for ids in data.ids]))
    image_tokens = float(data.cells.sum(dim=1).float().mean())
    print(f"model: {trained / 1e6:.2f} M trained parameters, {image_tokens:.1f} of {model_cfg.image_tokens} image tokens "
          f"per image, {tokens:.1f} tokens/sample on average")
    print(f"settings: {json.dumps(overrides)}; {len(aux_losses)} auxiliary loss(es)")
    print(f"threads: {args.threads}; global batch {args.batch}; {args.turns} turn(s); {args.steps} timed steps")
    print(f"training: {achieved / flops * seen:.1f} samples/s, {flops / seen / 1e6:.1f} MFLOP/sample")
    print(f"achieved: {achieved / 1e9:.2f} GFLOP/s; matmul peak {peak / 1e9:.2f} GFLOP/s (medians of {args.repeats})")
    print(f"fraction of peak: {np.median(fractions):.1%} (median of the passes; "
          f"range {fractions[0]:.1%} to {fractions[-1]:.1%})")


if __name__ == "__main__":
    main()
