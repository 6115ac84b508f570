"""Recipes: YAML validated by pydantic; every error names the key and the YAML line.

```yaml
inputs:
  - {format: llava, path: data.json, image_root: images/}
ops:
  - image_size: {min_side: 32}
  - exact_dedup: {on: image}
output: {format: parquet, path: out/}
run_dir: runs/demo
executor: {kind: local, workers: 2, batch_size: 256}   # engine.executors; kind local by default
seed: 0
```

Each op's parameters are validated by the op's own pydantic model and stored resolved (defaults
filled in), so `resolved_hash()` changes exactly when the work the recipe describes changes.
Relative paths are relative to the current directory.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Annotated, Any, Literal

import orjson
from pydantic import (BaseModel, BeforeValidator, ConfigDict, Field, SerializeAsAny, SerializerFunctionWrapHandler,
                      ValidationError, ValidationInfo, field_validator, model_serializer, model_validator)
from pydantic_core import PydanticCustomError

from synthloop.download.settings import DownloadSettings
from synthloop.engine.executors import executor_class
from synthloop.engine.executors.base import ExecutorSpec
from synthloop.engine.yaml_lines import CHECK_FILES, error_message, load_validated
from synthloop.ops import op_class
from synthloop.ops.base import Op


class RecipeError(ValueError):
    """A recipe that cannot run; the message is one line naming the file, line and key."""


class StrictModel(BaseModel):
    """A recipe section: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")


class InputSpec(StrictModel):
    format: str = "parquet"
    path: str
    # Image paths resolve under this folder (default: the input's folder); absolute ones only if allowed.
    image_root: str | None = None
    weight: float | None = Field(default=None, gt=0, le=1, description="share of this input to draw (mixtures)")
    cap: int | None = Field(default=None, ge=0, description="most samples to draw from this input (mixtures)")
    allow_absolute_paths: bool = False
    columns: str | None = Field(None, description="hf: map columns to a layout's fields, as --columns: "
                                                  "images=img,messages=chat")
    # URL inputs (`urls`, `mmc4`; engine.download); img2dataset's url_col / caption_col / verify_hash
    url_column: str = Field("url", min_length=1, description="urls: the column holding each image URL")
    text_column: str | None = Field("caption", description="urls: the caption column (null: no captions)")
    hash_column: str | None = Field(None, description="urls: a column with each image's expected hash")
    hash_type: Literal["sha256", "md5"] = Field("sha256", description="urls: the hash `hash_column` holds")
    score_columns: list[str] = Field([], description="urls: numeric columns copied into the samples' scores")
    download: DownloadSettings = Field(default_factory=DownloadSettings, description="urls, mmc4: fetching")

    @field_validator("format")
    @classmethod
    def _known_format(cls, value: str) -> str:
        from synthloop.engine.inputs import input_formats

        known = input_formats()
        if value not in known:
            raise ValueError(f"unknown input format {value!r}; known: {', '.join(known)}")
        return value

    @field_validator("columns")
    @classmethod
    def _column_pairs(cls, value: str | None) -> str | None:
        from synthloop.formats.hf import parse_columns

        parse_columns(value)  # FormatError (a ValueError) naming a pair that is not field=column
        return value

    @model_validator(mode="after")
    def _columns_for_hf_inputs(self) -> InputSpec:
        if self.columns is not None and self.format != "hf":
            raise ValueError(f"columns applies to hf inputs only, not {self.format}")
        return self

    @model_validator(mode="after")
    def _url_settings_for_url_inputs(self) -> InputSpec:
        if not self.fetches():
            given = sorted(self.model_fields_set & set(URL_FIELDS))
            if given:
                raise ValueError(f"{given[0]} applies to urls and mmc4 inputs only, not {self.format}")
        return self

    def fetches(self) -> bool:
        """Whether this input's records are downloaded (a `urls` or `mmc4` input)."""
        from synthloop.engine.inputs import URL_FORMATS

        return self.format in URL_FORMATS

    def reader_options(self) -> dict[str, Any]:
        """What the format's reader takes beyond the path and image root (`formats.registry.read`)."""
        return {} if self.columns is None else {"columns": self.columns}

    @model_serializer(mode="wrap")
    def _without_unused_settings(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Settings the input's format does not use are left out, so recipes (and hashes) are as before them."""
        unused = (*(() if self.fetches() else URL_FIELDS), *(() if self.columns is not None else ("columns",)))
        return {k: v for k, v in handler(self).items() if k not in unused}


URL_FIELDS = ("url_column", "text_column", "hash_column", "hash_type", "score_columns", "download")


class OutputSpec(StrictModel):
    format: str = "parquet"
    path: str
    images: Literal["keep", "copy", "embed"] = "keep"  # see engine.export
    # Audit folders; by default `dropped/` and `quarantine/` in the run directory.
    dropped: str | None = None
    quarantine: str | None = None

    @field_validator("format")
    @classmethod
    def _known_format(cls, value: str) -> str:
        from synthloop.formats.registry import writable  # imports every format, so the catalogue is full

        return writable(value)


def executor_spec(value: Any) -> ExecutorSpec:
    """The `executor` section validated by its kind's spec (`local` when the kind is not given)."""
    if isinstance(value, ExecutorSpec):
        return value
    if not isinstance(value, dict):
        raise ValueError("executor must be a mapping {kind: ..., ...}")  # noqa: TRY004 (pydantic reports ValueError)
    try:
        spec_class = executor_class(value.get("kind", "local")).spec_class
    except KeyError as err:
        raise section_error(["kind"], str(err.args[0])) from None
    try:
        return spec_class.model_validate(value)
    except ValidationError as err:
        first = err.errors()[0]
        raise section_error(list(first["loc"]), error_message(first)) from None


Executor = Annotated[SerializeAsAny[ExecutorSpec], BeforeValidator(executor_spec)]


class Recipe(StrictModel):
    inputs: list[InputSpec] = Field(min_length=1)
    ops: list[dict[str, dict[str, Any]]] = []
    output: OutputSpec
    run_dir: str
    executor: Executor = Field(default_factory=lambda: executor_spec({}))
    seed: int = Field(default=0, ge=0, lt=2**63)

    @field_validator("ops", mode="before")
    @classmethod
    def _validate_ops(cls, value: Any) -> list[dict[str, dict[str, Any]]]:
        if not isinstance(value, list):
            raise ValueError("ops must be a list of {op_name: {params}}")
        return [resolve_op(entry, (index,)) for index, entry in enumerate(value)]

    @model_validator(mode="after")
    def _inputs_exist(self, info: ValidationInfo) -> Recipe:
        """With the CHECK_FILES context (a recipe about to run), a missing input is an error at its line."""
        missing = self.missing_input() if (info.context or {}).get(CHECK_FILES) else None
        if missing is not None:
            raise section_error(["inputs", missing, "path"], f"{self.inputs[missing].path}: no such file or folder")
        return self

    def missing_input(self) -> int | None:
        """The index of the first input whose path does not exist."""
        return next((i for i, spec in enumerate(self.inputs) if not Path(spec.path).exists()), None)

    def check_inputs_exist(self) -> None:
        """Raise RecipeError for an input path that does not exist (before a run touches its run_dir)."""
        missing = self.missing_input()
        if missing is not None:
            raise RecipeError(f"inputs[{missing}].path: {self.inputs[missing].path}: no such file or folder")

    def build_ops(self) -> list[Op]:
        """The op instances, in recipe order."""
        return [op_class(name).model_validate(params) for entry in self.ops for name, params in entry.items()]

    def resolved(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def resolved_hash(self) -> str:
        """Hash of everything that decides the output (the worker count does not)."""
        content = {**self.model_dump(mode="json", exclude={"executor"}), "executor": self.executor.output_settings()}
        return hashlib.blake2b(orjson.dumps(content, option=orjson.OPT_SORT_KEYS), digest_size=8).hexdigest()

    @classmethod
    def from_yaml(cls, path: str | Path, check_files: bool = False) -> Recipe:
        """Load and validate a YAML recipe; RecipeError names the file, line and key of the first problem.
        With `check_files`, an input path that does not exist is such a problem."""
        return load_validated(cls, path, RecipeError, "a recipe is a mapping with inputs, ops, output, run_dir",
                              {CHECK_FILES: check_files})


def resolve_op(entry: Any, at: tuple[Any, ...] = ()) -> dict[str, dict[str, Any]]:
    """`{op_name: {params}}` checked by the op; an error points at `at` (the entry's place in the section
    being validated) and the key below it."""
    if isinstance(entry, Op):
        return {entry.name: entry.model_dump(mode="json")}
    if not isinstance(entry, dict) or len(entry) != 1:
        raise section_error([*at], "each op is a one-key mapping {op_name: {params}}")
    ((name, params),) = entry.items()
    try:
        cls = op_class(name)
    except KeyError as err:
        raise section_error([*at, name], str(err.args[0])) from None
    if params is not None and not isinstance(params, dict):
        raise section_error([*at, name], "op parameters must be a mapping")
    try:
        op = cls.model_validate(params or {})
    except ValidationError as err:
        first = err.errors()[0]
        raise section_error([*at, name, *first["loc"]], error_message(first)) from None
    return {name: op.model_dump(mode="json")}


def section_error(path: list[Any], message: str) -> PydanticCustomError:
    # The path (below the field that failed) travels in the error context so `describe_error` can point at
    # the exact key and line.
    return PydanticCustomError("section", "{message}", {"message": message, "path": path})
