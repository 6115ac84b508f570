"""TinyVLM: a LLaVA-style model trained by synthloop on a CPU in minutes.

    from synthloop.train import train, load_checkpoint
    checkpoint = train(samples_or_parquet_path, "runs/ckpt", stage="both", epochs=1, seed=0)
    model = load_checkpoint(checkpoint)  # Generator + OptionScorer + Judge
"""

from synthloop.models.tinyvlm.checkpoint import load_checkpoint, save_checkpoint
from synthloop.models.tinyvlm.network import TinyVLM, TinyVLMConfig
from synthloop.train.trainer import BudgetError, TrainConfig, train

__all__ = ["BudgetError", "TinyVLM", "TinyVLMConfig", "TrainConfig", "load_checkpoint", "save_checkpoint", "train"]
