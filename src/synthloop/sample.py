"""The canonical sample: one record every format converts to and from.

In Python a sample is a plain dict (fast to build and to move between processes):

    {"id": str, "images": [{"bytes": bytes | None, "path": str | None}, ...],
     "messages": [{"role": "user" | "assistant" | "system", "content": str}, ...],
     "task": str, "qtype": str, "source": str, "meta": dict, "scores": dict[str, float]}

`images` follow the Hugging Face `Image` feature layout, in the order of the `<image>`
placeholders in `messages`. On disk `meta` and `scores` are JSON text, because Hugging Face
`datasets` has no Arrow map type and both hold free-form keys.
"""

from __future__ import annotations

import builtins
import hashlib
from typing import Any, Literal

import orjson
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

IMAGE_TOKEN = "<image>"
ROLES = ("user", "assistant", "system")

IMAGE_TYPE = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
MESSAGE_TYPE = pa.struct([("role", pa.string()), ("content", pa.string())])

SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("images", pa.list_(IMAGE_TYPE)),
        ("messages", pa.list_(MESSAGE_TYPE)),
        ("task", pa.string()),
        ("qtype", pa.string()),
        ("source", pa.string()),
        ("meta", pa.string()),
        ("scores", pa.string()),
    ]
)

# Feature metadata that lets `datasets.load_dataset("parquet", ...)` decode `images`.
HF_FEATURES = {
    "id": {"dtype": "string", "_type": "Value"},
    "images": {"feature": {"_type": "Image"}, "_type": "List"},
    "messages": {
        "feature": {"role": {"dtype": "string", "_type": "Value"}, "content": {"dtype": "string", "_type": "Value"}},
        "_type": "List",
    },
    **{name: {"dtype": "string", "_type": "Value"} for name in ("task", "qtype", "source", "meta", "scores")},
}
SCHEMA_WITH_HF = SCHEMA.with_metadata({"huggingface": orjson.dumps({"info": {"features": HF_FEATURES}}).decode()})


class SampleError(ValueError):
    """A sample that breaks the canonical contract; the message names the sample id."""


class ImageRef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    bytes: builtins.bytes | None = None
    path: str | None = None

    @model_validator(mode="after")
    def _has_content(self) -> ImageRef:
        if self.bytes is None and not self.path:
            raise ValueError("an image needs bytes or a path")
        return self


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["user", "assistant", "system"]
    content: str


class Sample(BaseModel):
    """Validation model for the canonical dict; use `validate_sample` in pipelines."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1)
    images: list[ImageRef] = []
    messages: list[Message] = Field(min_length=1)
    task: str = ""
    qtype: str = ""
    source: str = ""
    meta: dict[str, Any] = {}
    scores: dict[str, float] = {}

    @model_validator(mode="after")
    def _placeholders_match_images(self) -> Sample:
        found = sum(m.content.count(IMAGE_TOKEN) for m in self.messages)
        if found != len(self.images):
            raise ValueError(f"{found} {IMAGE_TOKEN} placeholder(s) but {len(self.images)} image(s)")
        return self


def new_sample(id: str, messages: list[dict], images: list[dict] | None = None, **fields: Any) -> dict:
    """A canonical dict with defaults filled in (not validated)."""
    sample = {"id": id, "images": images or [], "messages": messages, "task": "", "qtype": "", "source": "",
              "meta": {}, "scores": {}}
    sample.update(fields)
    return sample


def validate_sample(sample: dict) -> dict:
    """Return the sample unchanged, or raise SampleError naming its id and the first problem."""
    try:
        Sample.model_validate(sample)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        problem = first["msg"].removeprefix("Value error, ")
        sample_id = sample.get("id") if isinstance(sample, dict) else None
        raise SampleError(f"sample {sample_id!r}: {where + ': ' if where else ''}{problem}") from None
    return sample


def derive_id(parent_id: str, op: str, index: int = 0) -> str:
    """Deterministic id for a sample an op derives from `parent_id` (its `index`-th output)."""
    digest = hashlib.blake2b(f"{parent_id}\0{op}\0{index}".encode(), digest_size=6).hexdigest()
    return f"{parent_id}~{op}{index}_{digest}"


def to_table(samples: list[dict]) -> pa.Table:
    """Canonical dicts -> Arrow table in `SCHEMA_WITH_HF`."""
    columns = {name: [s.get(name, "") for s in samples] for name in ("id", "task", "qtype", "source")}
    columns["images"] = [[{"bytes": im.get("bytes"), "path": im.get("path")} for im in s["images"]] for s in samples]
    columns["messages"] = [[{"role": m["role"], "content": m["content"]} for m in s["messages"]] for s in samples]
    columns["meta"] = [orjson.dumps(s.get("meta") or {}, option=orjson.OPT_SORT_KEYS).decode() for s in samples]
    columns["scores"] = [orjson.dumps(s.get("scores") or {}, option=orjson.OPT_SORT_KEYS).decode() for s in samples]
    return pa.Table.from_pydict({name: columns[name] for name in SCHEMA.names}, schema=SCHEMA_WITH_HF)


def from_table(table: pa.Table | pa.RecordBatch) -> list[dict]:
    """Arrow table or record batch in `SCHEMA` -> canonical dicts."""
    samples = table.select(SCHEMA.names).to_pylist()
    for s in samples:
        s["meta"] = orjson.loads(s["meta"]) if s["meta"] else {}
        s["scores"] = orjson.loads(s["scores"]) if s["scores"] else {}
        for field in ("task", "qtype", "source"):
            s[field] = s[field] or ""
    return samples


def image_count(sample: dict) -> int:
    """Number of `<image>` placeholders in the sample's messages."""
    return sum(m["content"].count(IMAGE_TOKEN) for m in sample["messages"])
