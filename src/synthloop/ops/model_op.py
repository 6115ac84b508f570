"""What every model op shares: the `model`/`device`/`cache_dir` parameters, lazy loading in
`setup()`, building requests from a `Batch`, and cached batched calls.

A model op builds one request per sample (or several), drops the samples whose images cannot be
read into `Quarantine`, and makes ONE batched, cached call for the rest.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator
from PIL import Image

from synthloop.images import ImageError
from synthloop.models.cache import ModelCache, cache_key
from synthloop.models.device import Device
from synthloop.models.protocols import Generation, ModelError, Request
from synthloop.models.uri import load_model, parse_uri
from synthloop.ops.base import Batch, Quarantine
from synthloop.sample import IMAGE_TOKEN


class ModelParams(BaseModel):
    """Mixin for ops that call a model, listed first so its `setup()` wins:
    `class Caption(ModelParams, Mapper)`."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    protocol: ClassVar[type]  # what the op calls (`models.protocols`); checked when the model loads
    model: str = Field(description="model URI: builtin:CKPT, hf:<id or folder>, openai:<url>#<model> or pkg:NAME")
    device: Device = Field("auto", description="torch device: auto, cpu or cuda")
    batch_size: int | None = Field(None, ge=1, le=65_536, description="requests per forward pass of the model; "
                                   "none: the backend's own (hf 16, pkg 32 or 64, builtin 64)")
    cache_dir: str | None = Field(None, description="output cache; none: <run dir>/cache, else $SYNTHLOOP_CACHE_DIR")
    _loaded: Any = PrivateAttr(None)
    _cache: ModelCache | None = PrivateAttr(None)

    @field_validator("model")
    @classmethod
    def _a_model_uri(cls, model: str) -> str:
        parse_uri(model)  # ValueError saying what is wrong with it, when the recipe is read
        return model

    def __getstate__(self) -> dict[Any, Any]:
        """Pickled for worker processes without the loaded model or the open cache: each loads its own."""
        state = super().__getstate__()
        return {**state, "__pydantic_private__": {"_loaded": None, "_cache": None}}

    def setup(self) -> None:
        loaded = load_model(self.model, device=self.device, **self.batch_option())
        protocol = self.needed_protocol()
        if not isinstance(loaded, protocol):
            methods = ", ".join(name for name in vars(protocol) if not name.startswith("_"))
            raise ModelError(f"{getattr(self, 'name', type(self).__name__)}: model {self.model} is not a "
                             f"{protocol.__name__} (its backend has no {methods}); choose a model that is")
        self._loaded = loaded

    def batch_option(self) -> dict[str, int]:
        """`batch_size` as a `load_model` option and a part of the cache keys, when the recipe sets it (a
        model's outputs can depend on its batch: padding)."""
        return {"batch_size": self.batch_size} if self.batch_size else {}

    def needed_protocol(self) -> type:
        return self.protocol

    def use_cache_dir(self, folder: str) -> None:
        self._cache = ModelCache(self.cache_dir or folder)

    @property
    def loaded(self) -> Any:
        if self._loaded is None:
            self.setup()
        return self._loaded

    @property
    def cache(self) -> ModelCache:
        if self._cache is None:
            self._cache = ModelCache.from_env(self.cache_dir)
        return self._cache

    def cached_call(self, kind: str, prompts: Sequence[Any], hashes: Sequence[Sequence[str]],
                    compute: Callable[[list[int]], list[Any]], **params: Any) -> list[Any]:
        """One batched model call for the prompts not yet in the cache; values must be JSON."""
        keys = [cache_key(self.model, kind, p, h, **params, **self.batch_option())
                for p, h in zip(prompts, hashes, strict=True)]
        return self.cache.cached(keys, compute)

    def generate_cached(self, requests: list[Request], hashes: list[list[str]], max_new_tokens: int,
                        temperature: float, seeds: list[int]) -> list[Generation]:
        """Generations for `requests`, one seed each when sampling (callers use few distinct seeds,
        e.g. one per caption index); requests sharing a seed go to the model as one batch."""

        def compute(indices: list[int]) -> list[Any]:
            by_seed: dict[int, list[int]] = {}
            for i in indices:
                by_seed.setdefault(seeds[i] if temperature > 0 else 0, []).append(i)
            out: dict[int, Any] = {}
            for seed, group in by_seed.items():
                generations = self.loaded.generate([requests[i] for i in group], max_new_tokens=max_new_tokens,
                                                   temperature=temperature, seed=seed)
                out.update({i: [g.text, list(g.token_logprobs)] for i, g in zip(group, generations, strict=True)})
            return [out[i] for i in indices]

        keys = [cache_key(self.model, "generate", r.messages, h, max_new_tokens=max_new_tokens,
                          temperature=temperature, seed=s if temperature > 0 else 0, **self.batch_option())
                for r, h, s in zip(requests, hashes, seeds, strict=True)]
        return [Generation(text, logprobs) for text, logprobs in self.cache.cached(keys, compute)]


def sample_images(batch: Batch, i: int) -> tuple[list[Image.Image], list[str]]:
    """Decoded images of sample `i` and their content hashes; raises ImageError."""
    count = len(batch.samples[i]["images"])
    return [batch.image(i, j) for j in range(count)], [batch.image_hash(i, j) for j in range(count)]


def image_requests(batch: Batch, build: Callable[[int, dict], list[dict] | None], first_image_only: bool = True
                   ) -> tuple[list[int], list[Request], list[list[str]], dict[int, Quarantine]]:
    """Requests for the samples of a batch. `build(i, sample)` returns the messages (with one
    `<image>`) or None to skip the sample. Unreadable images become quarantines."""
    rows, requests, hashes, failed = [], [], [], {}
    for i, sample in enumerate(batch.samples):
        messages = build(i, sample)
        if messages is None:
            continue
        try:
            images, digests = sample_images(batch, i)
        except ImageError as err:
            failed[i] = Quarantine(f"image: {err}")
            continue
        if not images:
            failed[i] = Quarantine("sample has no image")
            continue
        if first_image_only:
            images, digests = images[:1], digests[:1]
        rows.append(i)
        requests.append(Request(images, messages))
        hashes.append(digests)
    return rows, requests, hashes, failed


def strip_image_tokens(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace(IMAGE_TOKEN, " ")).strip()


def qa_turns(sample: dict) -> list[tuple[str, str]]:
    """Every user turn (placeholders removed) followed by an assistant reply, with that reply, in order."""
    messages = sample["messages"]
    return [(strip_image_tokens(message["content"]), messages[k + 1]["content"].strip())
            for k, message in enumerate(messages[:-1])
            if message["role"] == "user" and messages[k + 1]["role"] == "assistant"]


def first_qa(sample: dict) -> tuple[str, str] | None:
    """The first user turn (placeholders removed) and the assistant reply that follows it."""
    turns = qa_turns(sample)
    return turns[0] if turns else None
