"""`LoopRecipe`: the closed loop's YAML (unknown keys are errors that name the key and line).

```yaml
run_dir: runs/loop
seed: 0
seed_pool: {world: 1500, easy_vqa: 300}     # (+ mix, turns) or {path: curated/}  (canonical Parquet)
benchmark: {world: 400}                     # or {path: bench/}
curate: [...]                               # engine ops over the seed pool before round 0 (optional)
synthesis:
  synthesizer: {kind: world, image_size: 64, turns: 1}  # or {kind: model, generator: URI or {grounded_generate: {...}},
                                                        #     judge: URI or {model: URI, low: ...}}
  budget: 400                               # samples synthesized per round, the same for both arms
  ops: [...]                                # filters + dedup (+ selection) over each round's new data
rounds: 2
baseline: true
train: {epochs: 3, global_batch_size: 32, warm_start: true, warm_start_epochs: 1, replay: 400}  # + settings
# train: {trainer: command, command: "bash train.sh {data} {out}", format: llava}   # or trainer: hf, model: hf:ID
evaluate: {model: trained, batch_size: 64}  # or {model: "openai:http://127.0.0.1:8000/v1#m",
                                            #     serve: "vllm serve {checkpoint} --port {port} --served-model-name {name}"}
```
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Self

from pydantic import Field, ValidationError, field_validator, model_validator

from synthloop.commands import check_template
from synthloop.engine.recipe import Executor, StrictModel, executor_spec, resolve_op, section_error
from synthloop.engine.yaml_lines import error_message, load_validated
from synthloop.models.device import Device


SERVE_PLACEHOLDERS = ("checkpoint", "model", "port", "name")


class LoopRecipeError(ValueError):
    """A loop recipe that cannot run; one line naming the file, line and key."""


class PoolSpec(StrictModel):
    """A canonical Parquet dataset at `path`, or one generated here (world samples + easy-vqa)."""

    path: str | None = None
    world: int = Field(default=0, ge=0)
    mix: dict[str, float] | None = None  # world qtype mix; None: the world's default mix
    turns: int = Field(default=1, ge=1)  # world: questions per conversation
    image_size: int = Field(default=64, ge=32)  # of rendered world images
    easy_vqa: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if self.path is None and self.world + self.easy_vqa == 0:
            raise ValueError("give a path, or a number of world and/or easy_vqa samples")
        if self.path is not None and self.world + self.easy_vqa > 0:
            raise ValueError("give a path or generated samples, not both")
        return self


class SynthesizerSpec(StrictModel):
    """`world`: render new scenes of each qtype. `model`: a model generator op (`grounded_generate` or
    `genixer_generate`, given as `{op_name: {params}}`, or a model URI for `grounded_generate` with its
    defaults) over seed-pool images, optionally judged (`judge` filter parameters, or a model URI)."""

    kind: Literal["world", "model"] = "world"
    image_size: int = Field(default=64, ge=16)
    difficulty: dict[str, Any] | None = None
    turns: int = Field(default=1, ge=1)  # world: questions per conversation (the qtype's and follow-ups)
    generator: dict[str, dict[str, Any]] | None = None
    judge: dict[str, Any] | None = None  # parameters of the `judge` filter

    @field_validator("generator", mode="before")
    @classmethod
    def _generator_by_uri(cls, generator: Any) -> Any:
        return {"grounded_generate": {"model": generator}} if isinstance(generator, str) else generator

    @field_validator("judge", mode="before")
    @classmethod
    def _judge_by_uri(cls, judge: Any) -> Any:
        return {"model": judge} if isinstance(judge, str) else judge

    @model_validator(mode="after")
    def _model_needs_generator(self) -> Self:
        if self.kind == "world" and (self.generator is not None or self.judge is not None):
            raise ValueError("generator and judge are the model synthesizer's: set kind: model")
        if self.kind == "model" and self.generator is None:
            raise ValueError("kind 'model' needs a generator, e.g. {grounded_generate: {model: 'builtin:CKPT'}}")
        if self.generator is not None:
            resolve_op(self.generator, ("generator",))
        if self.judge is not None:
            resolve_op({"judge": self.judge})  # its parameters sit under `judge`, as the op's do
        return self


class SynthesisSpec(StrictModel):
    synthesizer: SynthesizerSpec = SynthesizerSpec()
    budget: int = Field(default=400, ge=1, description="samples synthesized per round and arm")
    ops: list[dict[str, dict[str, Any]]] = []
    min_bad_cases: int = Field(default=2, ge=0)

    @field_validator("ops", mode="before")
    @classmethod
    def _ops_known(cls, ops: Any) -> list[dict[str, dict[str, Any]]]:
        return _resolve_ops(ops)


class TrainSpec(StrictModel):
    """Training of each round: the settings every trainer kind shares, and under `settings` (or beside
    them) the trainer's own, checked by the trainer (`synthloop.train.trainers`)."""

    trainer: str = "builtin"  # builtin (TinyVLM), command (the user's own), hf (transformers + TRL)
    model: str | None = None  # the model to start from, e.g. hf:llava-hf/llava-1.5-7b-hf (builtin: a new TinyVLM)
    stage: Literal["1", "2", "both"] = "2"
    epochs: int = Field(default=2, ge=1)
    global_batch_size: int = Field(default=32, ge=1)
    max_samples: int | None = Field(default=None, ge=1)
    settings: dict[str, Any] = {}  # the trainer's settings (builtin: TinyVLMConfig / TrainConfig overrides)
    # Rounds after the first continue from their arm's previous checkpoint for `warm_start_epochs` over
    # the arm's whole pool, instead of training a new model from scratch for `epochs`. With `replay`, a
    # warm round trains on the round's new data plus that many samples drawn from the arm's earlier pool.
    warm_start: bool = False
    warm_start_epochs: int = Field(default=1, ge=1)
    replay: int | None = Field(default=None, ge=0)

    @property
    def overrides(self) -> dict[str, Any]:
        """The settings the recipe gives, as `train(**overrides)` takes them."""
        return self.settings

    @model_validator(mode="before")
    @classmethod
    def _trainer_settings(cls, data: Any) -> Any:
        """Check the trainer's settings with the trainer; keys that are not shared ones (`command`,
        `format`, ...) are the trainer's too."""
        from synthloop.train.trainers import TrainerError, trainer_class

        if not isinstance(data, dict) or not isinstance(data.get("settings", {}), dict):
            return data
        name = data.get("trainer", "builtin")
        try:
            trainer = trainer_class(name) if isinstance(name, str) else None
        except TrainerError as err:
            raise section_error(["trainer"], str(err)) from None
        beside = {k: v for k, v in data.items() if k not in cls.model_fields}
        settings = {**data.get("settings", {}), **beside}
        if trainer is None:
            return data
        try:
            checked = trainer.check_settings(settings)
        except ValidationError as err:
            first = err.errors()[0]  # its key travels in the context, for its line
            under = not first["loc"] or first["loc"][0] in data.get("settings", {})
            where = ["settings", *first["loc"]] if under else list(first["loc"])
            raise section_error(where, error_message(first)) from None
        return {**{k: v for k, v in data.items() if k in cls.model_fields}, "settings": checked}

    @model_validator(mode="after")
    def _trainer_can_start(self) -> Self:
        """The trainer takes the model and the stage (`trainer: hf` needs `model: hf:<id or folder>`)."""
        from synthloop.train.trainers import TrainerError, trainer_class

        trainer = trainer_class(self.trainer)
        for field, check in (("model", trainer.check_model), ("stage", trainer.check_stage)):
            try:
                check(getattr(self, field))
            except TrainerError as err:
                raise section_error([field], str(err)) from None
        return self

    @model_validator(mode="after")
    def _replay_needs_warm_start(self) -> Self:
        if self.replay is not None and not self.warm_start:
            raise ValueError("replay applies to warm-started rounds: set warm_start: true")
        return self


class EvaluateSpec(StrictModel):
    """The model each round evaluates: `trained`, the round's checkpoint (`builtin:` or `hf:`, as its
    trainer left it), or an `openai:` endpoint serving it. `serve` is the command that brings that endpoint up
    with each round's checkpoint ({checkpoint} {model} {port} {name}); the loop waits until it answers,
    evaluates, then stops it (log: the round's `eval/serve.log`)."""

    model: str = "trained"
    serve: str | None = None
    serve_timeout_s: float = Field(default=600.0, gt=0)
    batch_size: int = Field(default=64, ge=1)
    concurrency: int = Field(default=8, ge=1, description="requests in flight to an openai: server")
    max_new_tokens: int = Field(default=64, ge=1)
    device: Device = "auto"

    @field_validator("model")
    @classmethod
    def _a_model(cls, model: str) -> str:
        from synthloop.models.uri import parse_uri

        return model if model == "trained" else str(parse_uri(model))

    @field_validator("serve")
    @classmethod
    def _serve_placeholders(cls, serve: str | None) -> str | None:
        return serve if serve is None else check_template(serve, SERVE_PLACEHOLDERS)

    @model_validator(mode="after")
    def _the_rounds_checkpoint(self) -> Self:
        """Each round scores its own checkpoint: itself, or through an endpoint that `serve` brings up with it."""
        endpoint = self.model.startswith("openai:")
        if self.serve is not None and not endpoint:
            raise ValueError("serve brings up the openai: endpoint that model names; give model: openai:<url>#<name>")
        if endpoint and self.serve is None:
            raise section_error(["model"], "an endpoint is scored as each round's checkpoint: give serve, the "
                                           "command that serves {checkpoint} there")
        if not endpoint and self.model != "trained":
            raise section_error(["model"], f"{self.model} would be scored in place of each round's checkpoint: "
                                           "give trained, or an openai: endpoint with serve")
        return self


class LoopRecipe(StrictModel):
    run_dir: str
    seed: int = 0
    seed_pool: PoolSpec
    benchmark: PoolSpec
    curate: list[dict[str, dict[str, Any]]] = []
    synthesis: SynthesisSpec = SynthesisSpec()
    rounds: int = Field(default=2, ge=0)
    baseline: bool = True
    train: TrainSpec = TrainSpec()
    evaluate: EvaluateSpec = EvaluateSpec()
    executor: Executor = Field(default_factory=lambda: executor_spec({}))

    @field_validator("curate", mode="before")
    @classmethod
    def _ops_known(cls, ops: Any) -> list[dict[str, dict[str, Any]]]:
        return _resolve_ops(ops)

    @classmethod
    def from_yaml(cls, path: str | Path) -> LoopRecipe:
        return load_validated(cls, path, LoopRecipeError, "a loop recipe is a mapping (run_dir, seed_pool, benchmark, ...)")


def _resolve_ops(ops: Any) -> list[dict[str, dict[str, Any]]]:
    """Check each op exactly as an engine recipe does, so errors point at the op's key and line."""
    if not isinstance(ops, list):
        raise ValueError("ops must be a list of {op_name: {params}}")  # noqa: TRY004 (pydantic reports ValueError)
    return [resolve_op(entry, (index,)) for index, entry in enumerate(ops)]
