"""What an op is: typed parameters (pydantic) and one batch method, executor-agnostic.

Kinds (DESIGN.md "Ops"):
- `Mapper.process(batch)` -> one outcome per input sample: a list of 0..N output samples,
  a `Drop`, or a `Quarantine`.
- `Filter.compute(batch)` -> one value per sample (or a `Quarantine`); the base class stores it in
  `scores[score_key]` and `decide(value)` keeps the sample or returns a `Drop`.
- `Dedup.key(batch)` runs per batch in workers and returns compact keys; `Dedup.resolve(keys)`
  runs once over all keys and names, for each duplicate, the survivor it matched.
- `Selector.select(candidates, seed)` runs once over compact columns and returns the kept ids.

Every op works on a `Batch`, which decodes pixels once for all image ops of a batch.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa
from pydantic import BaseModel, ConfigDict
from PIL import Image

from synthloop.images import ImageError, content_hash, decode, image_bytes


@dataclass(frozen=True)
class Drop:
    """A sample an op removed on purpose: `reason` in words, `value` that decided it."""

    reason: str
    value: Any = None


@dataclass(frozen=True)
class Quarantine:
    """A sample an op could not process; `error` says why."""

    error: str


Outcome = list[dict] | Drop | Quarantine


class Batch:
    """Samples plus their images, each image decoded at most once (cache keyed by content)."""

    def __init__(self, samples: list[dict], image_root: str | Path | None = None, max_side: int | None = None):
        self.samples = samples
        self.image_root = image_root
        self.max_side = max_side  # decode JPEGs at reduced scale when every image op needs only this much
        self._bytes: dict[tuple[int, int], bytes | ImageError] = {}
        self._decoded: dict[str, Image.Image | ImageError] = {}

    def __len__(self) -> int:
        return len(self.samples)

    def image_bytes(self, i: int, j: int = 0) -> bytes:
        """Encoded bytes of image `j` of sample `i`; raises ImageError if unreadable."""
        key = (i, j)
        if key not in self._bytes:
            try:
                self._bytes[key] = image_bytes(self.samples[i]["images"][j], self.image_root)
            except ImageError as err:
                self._bytes[key] = err
        return _value_or_raise(self._bytes[key])

    def image(self, i: int, j: int = 0) -> Image.Image:
        """Decoded RGB image `j` of sample `i` (possibly reduced to `max_side`); raises ImageError."""
        data = self.image_bytes(i, j)
        key = content_hash(data)
        if key not in self._decoded:
            try:
                self._decoded[key] = decode(data, self.max_side)
            except ImageError as err:
                self._decoded[key] = err
        return _value_or_raise(self._decoded[key])

    def images(self, i: int) -> list[Image.Image]:
        return [self.image(i, j) for j in range(len(self.samples[i]["images"]))]


def _value_or_raise(value: Any) -> Any:
    if isinstance(value, ImageError):
        raise value
    return value


class Op(BaseModel):
    """Base of every op; subclasses declare their parameters as pydantic fields."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: ClassVar[str]
    kind: ClassVar[str]
    # None: the op reads no pixels; 0: full resolution; N > 0: a thumbnail of side N is enough.
    pixels: ClassVar[int | None] = None

    def setup(self) -> None:
        """Load models or other heavy state; called once per worker before the first batch."""


class Mapper(Op):
    kind: ClassVar[str] = "mapper"

    def process(self, batch: Batch) -> list[Outcome]:
        raise NotImplementedError


class Filter(Op):
    kind: ClassVar[str] = "filter"

    @property
    def score_key(self) -> str:
        return self.name

    def compute(self, batch: Batch) -> list[Any | Quarantine]:
        raise NotImplementedError

    def decide(self, value: Any) -> Drop | None:
        raise NotImplementedError

    def process(self, batch: Batch) -> list[Outcome]:
        outcomes: list[Outcome] = []
        for sample, value in zip(batch.samples, self.compute(batch), strict=True):
            if isinstance(value, Quarantine):
                outcomes.append(value)
                continue
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                sample["scores"][self.score_key] = float(value)
            outcomes.append(self.decide(value) or [sample])
        return outcomes


class Dedup(Op):
    kind: ClassVar[str] = "dedup"

    def key(self, batch: Batch) -> list[Any | Quarantine]:
        """A compact, Arrow-friendly key per sample (hash, signature, ...)."""
        raise NotImplementedError

    def resolve(self, keys: Iterable[tuple[str, Any]]) -> dict[str, Drop]:
        """`(id, key)` for every sample -> `{duplicate_id: Drop(reason naming the survivor, value)}`.

        The survivor of a group is the first by id, so the result does not depend on order.
        """
        raise NotImplementedError


class Selector(Op):
    kind: ClassVar[str] = "selector"

    def select(self, candidates: pa.Table, seed: int) -> list[str]:
        """Candidates (columns `id`, `source`, `task`, `qtype`, `scores` JSON, `tokens`, and
        `embedding` when an earlier op stored one) -> the ids to keep."""
        raise NotImplementedError


REGISTRY: dict[str, type[Op]] = {}


def register(cls: type[Op]) -> type[Op]:
    """Class decorator: make an op available to recipes under `cls.name`."""
    if cls.name in REGISTRY and REGISTRY[cls.name] is not cls:
        raise ValueError(f"op name {cls.name!r} registered twice")
    REGISTRY[cls.name] = cls
    return cls
