"""Model backends: each module is one URI scheme, named after it (`hf.py` serves `hf:...`), and
defines `load(uri: ModelUri, device: str)` returning the loaded model (`models.uri.load_model`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelUri:
    scheme: str
    target: str
    model: str = ""  # openai: the served model name after '#'

    def __str__(self) -> str:
        return f"{self.scheme}:{self.target}" + (f"#{self.model}" if self.model else "")
