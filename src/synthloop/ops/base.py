"""What an op is: typed parameters (pydantic) and one batch method, executor-agnostic.

Kinds (docs/design.md "Ops"):
- `Mapper.process(batch)` -> one outcome per input sample: a list of 0..N output samples,
  a `Drop`, or a `Quarantine`.
- `Filter.compute(batch)` -> one value per sample (or a `Quarantine`); the base class stores it in
  `scores[score_key]` and `decide(value)` keeps the sample or returns a `Drop`.
- `Dedup.key(batch)` runs per batch in workers and returns compact keys; `Dedup.resolve(keys)`
  runs once over all keys and names, for each duplicate, the survivor it matched (a
  `dedup_resolve.ColumnarDedup` resolves over Arrow key columns instead, for the engine).
- `Selector.select(candidates, seed)` runs once over compact columns and returns the kept ids.

Every op works on a `Batch`, which decodes pixels once for all image ops of a batch.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa
from pydantic import BaseModel, ConfigDict
from PIL import Image

from synthloop.images import ImageError, content_hash, decode_opened, image_bytes, open_image


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


@dataclass
class _LoadedImage:
    """One image's encoded bytes plus what has been derived from them so far."""

    data: bytes
    hash: str
    size: tuple[int, int] | ImageError | None = None
    opened: Image.Image | None = None  # header parsed, pixels not decoded yet
    pixels: Image.Image | ImageError | None = None


class Batch:
    """Samples plus their images. Each image file is read once, and its header parsed and its
    pixels decoded at most once per content (duplicates share the work), for all ops of a stage."""

    def __init__(self, samples: list[dict], image_root: str | Path | None = None, max_side: int | None = None,
                 mode: str = "RGB"):
        self.samples = samples
        self.image_root = image_root
        self.max_side = max_side  # decode JPEGs at reduced scale when every image op needs only this much
        self.mode = mode  # "L" when every image op reads grey levels only (JPEGs then decode luma only)
        self._loaded: dict[tuple[int, int], _LoadedImage | ImageError] = {}
        self._by_content: dict[str, _LoadedImage] = {}

    def __len__(self) -> int:
        return len(self.samples)

    def _load(self, i: int, j: int) -> _LoadedImage:
        if (i, j) not in self._loaded:
            try:
                data = image_bytes(self.samples[i]["images"][j], self.image_root)
                key = content_hash(data)
                self._loaded[i, j] = self._by_content.setdefault(key, _LoadedImage(data, key))
            except ImageError as err:
                self._loaded[i, j] = err
        return _value_or_raise(self._loaded[i, j])

    def _open(self, loaded: _LoadedImage) -> tuple[int, int]:
        """Parse the header once (the pixels decode from the same opened image later); the size."""
        if loaded.size is None:
            try:
                loaded.opened = open_image(loaded.data)
                loaded.size = loaded.opened.size
            except ImageError as err:
                loaded.size = err
        return _value_or_raise(loaded.size)

    def image_bytes(self, i: int, j: int = 0) -> bytes:
        """Encoded bytes of image `j` of sample `i`; raises ImageError if unreadable."""
        return self._load(i, j).data

    def image_hash(self, i: int, j: int = 0) -> str:
        """`images.content_hash` of the encoded bytes (computed once, when the image is read)."""
        return self._load(i, j).hash

    def size(self, i: int, j: int = 0) -> tuple[int, int]:
        """True (width, height) from the header, whatever scale the pixels decode at; raises ImageError
        for unreadable data and decompression bombs."""
        return self._open(self._load(i, j))

    def image(self, i: int, j: int = 0) -> Image.Image:
        """Decoded image `j` of sample `i` in the batch's mode (RGB, or L for grey-only stages),
        possibly reduced to `max_side`; raises ImageError."""
        loaded = self._load(i, j)
        if loaded.pixels is None:
            try:
                self._open(loaded)
                loaded.pixels = decode_opened(loaded.opened, self.max_side, self.mode)
            except ImageError as err:
                loaded.pixels = err
            loaded.opened = None
        return _value_or_raise(loaded.pixels)

    def images(self, i: int) -> list[Image.Image]:
        return [self.image(i, j) for j in range(len(self.samples[i]["images"]))]

    def decode_all(self) -> None:
        """Decode every image now (an unreadable one keeps its error for the op that asks for it)."""
        for i, sample in enumerate(self.samples):
            for j in range(len(sample["images"])):
                with suppress(ImageError):
                    self.image(i, j)

    def narrow(self, samples: list[dict], origins: list[int]) -> Batch:
        """A batch of `samples` (what an op kept or produced) that reuses what this batch already read
        and decoded; `origins[k]` is the index here that `samples[k]` came from unchanged, or -1."""
        narrowed = Batch(samples, self.image_root, self.max_side, self.mode)
        narrowed._by_content = self._by_content
        for new, old in enumerate(origins):
            if old >= 0:
                for j in range(len(samples[new]["images"])):
                    if (old, j) in self._loaded:
                        narrowed._loaded[new, j] = self._loaded[old, j]
        return narrowed


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
    # True: grey levels are enough, so `Batch.image` may give mode "L" (when every pixel op of the stage agrees).
    grey: ClassVar[bool] = False

    def setup(self) -> None:
        """Load models or other heavy state; called once per worker before the first batch it works on."""

    def use_cache_dir(self, folder: str) -> None:
        """The run's cache folder (`<run dir>/cache`), given to every op before its first batch: ops that
        call models cache the calls there."""

    def uses_images(self) -> bool:
        """True for an op about images: the engine passes text-only samples around it untouched."""
        return self.pixels is not None


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

    def key_type(self) -> pa.DataType | None:
        """The Arrow type of the keys (None: inferred from them)."""
        return None

    def merges(self) -> bool:
        """True: each duplicate's distinct turns go into its survivor (`ops.merge_turns`) instead of away."""
        return False

    def resolve(self, keys: Iterable[tuple[str, Any]]) -> dict[str, Drop]:
        """`(id, key)` for every sample -> `{duplicate_id: Drop(reason naming the survivor, value)}`.

        The survivor of a group is the first by id, so the result does not depend on order.
        """
        raise NotImplementedError


class Selector(Op):
    kind: ClassVar[str] = "selector"

    def count_tokens(self, samples: list[dict]) -> list[int]:
        """Each sample's length for token budgets (the `tokens` candidate column): whitespace words."""
        return [sum(len(m["content"].split()) for m in s["messages"]) for s in samples]

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
