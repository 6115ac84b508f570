"""Speed of the hf trainer (TRL's SFTTrainer through `synthloop.train.hf_sft`): samples/s of a tiny
from-config model (tests/tiny_vlms.py) fine-tuned on world conversations, on the CPU and, where one is,
on a CUDA GPU (bf16 there, as the trainer chooses).

    python benchmarks/hf_train.py [--arch llava|idefics3] [--samples 256] [--batch 32] [--micro 8]
                                  [--turns 2] [--image-size 64] [--threads 2] [--set KEY=VALUE ...]

samples/s counts the samples of the optimiser steps taken over the time `trainer.train()` takes (data
collation, forward, backward, AdamW; not loading the model or the data); `--set lora=true` times LoRA
(and its merge is not timed). Prints one JSON line per device.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import torch
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from tiny_vlms import tiny_idefics3, tiny_llava_15  # noqa: E402

from synthloop.lab.world import generate  # noqa: E402
from synthloop.train.hf_sft import train_hf  # noqa: E402

BUILDERS = {"llava": tiny_llava_15, "idefics3": tiny_idefics3}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", choices=sorted(BUILDERS), default="llava")
    parser.add_argument("--samples", type=int, default=256)
    parser.add_argument("--batch", type=int, default=32, help="global batch size")
    parser.add_argument("--micro", type=int, default=8, help="micro-batch size")
    parser.add_argument("--turns", type=int, default=2)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="hf trainer settings")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    settings = {"micro_batch_size": args.micro}
    for item in args.set:
        key, _, value = item.partition("=")
        settings[key] = yaml.safe_load(value)
    samples = generate(args.samples, seed=0, image_size=args.image_size, turns=args.turns)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    with tempfile.TemporaryDirectory() as tmp:
        base = BUILDERS[args.arch](Path(tmp) / "base")
        for device in devices:
            out = train_hf(samples, Path(tmp) / device, str(base), global_batch_size=args.batch, show_progress=False,
                           device=device, **settings)
            record = json.loads((out / "training.json").read_text())
            stage = record["stages"][0]
            print(json.dumps({"arch": args.arch, "device": device, "dtype": record["dtype"],
                              "gpu": torch.cuda.get_device_name() if device == "cuda" else None,
                              "threads": torch.get_num_threads(), "samples": stage["samples"], "steps": stage["steps"],
                              "global_batch_size": args.batch, "micro_batch_size": stage["micro_batch_size"],
                              "seconds": stage["seconds"], "samples_per_s": stage["samples_per_s"],
                              "first_loss": stage["losses"][0], "last_loss": stage["losses"][-1]}))


if __name__ == "__main__":
    main()
