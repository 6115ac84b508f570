"""The small protocols every model stage goes through (docs/design.md "Models").

Every method takes a whole batch: backends batch requests, and no op loops over samples calling
a model one at a time. A request is the images of a sample plus chat messages whose `<image>`
placeholders mark where each image goes (the canonical `messages` layout).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np
from PIL import Image


class ModelError(RuntimeError):
    """A model that cannot be loaded or called; the message names the URI and the problem."""


@dataclass(frozen=True)
class Request:
    images: list[Image.Image]
    messages: list[dict]  # [{"role": "user" | "assistant" | "system", "content": str}]


@dataclass(frozen=True)
class Generation:
    text: str
    token_logprobs: list[float] = field(default_factory=list)


@runtime_checkable
class Generator(Protocol):
    def generate(self, requests: list[Request], max_new_tokens: int = 64, temperature: float = 0.0,
                 seed: int = 0) -> list[Generation]: ...


@runtime_checkable
class OptionScorer(Protocol):
    def score_options(self, requests: list[Request], options: list[list[str]]) -> list[list[float]]:
        """Total log-likelihood of each option as the assistant's reply to each request."""
        ...


@runtime_checkable
class Judge(Protocol):
    def p_yes(self, requests: list[Request]) -> list[float]:
        """P("Yes") / (P("Yes") + P("No")) from the full next-token distribution."""
        ...


@runtime_checkable
class ImageEmbedder(Protocol):
    def embed_images(self, images: list[Image.Image]) -> np.ndarray:
        """(n, d) float32, L2-normalised."""
        ...


@runtime_checkable
class TextEmbedder(Protocol):
    def embed_texts(self, texts: list[str]) -> np.ndarray:
        """(n, d) float32, L2-normalised."""
        ...


@runtime_checkable
class ImageTextScorer(Protocol):
    def score(self, images: list[Image.Image], texts: list[str]) -> list[float]:
        """CLIP-style similarity of each image with its text."""
        ...


@dataclass(frozen=True)
class OcrToken:
    text: str
    box: tuple[float, float, float, float]  # normalised [x1, y1, x2, y2]
    confidence: float


@runtime_checkable
class Ocr(Protocol):
    def read(self, images: list[Image.Image]) -> list[list[OcrToken]]: ...


@runtime_checkable
class SafetyClassifier(Protocol):
    def unsafe_scores(self, images: list[Image.Image]) -> list[float]:
        """Probability-like score in [0, 1] that each image is unsafe (NSFW)."""
        ...


@runtime_checkable
class NextTokenScorer(Protocol):
    def next_token_logprobs(self, requests: list[Request], top_k: int = 20) -> list[list[tuple[str, float]]]:
        """The `top_k` most likely next tokens of the assistant's reply, as (text, log-prob), best first."""
        ...
