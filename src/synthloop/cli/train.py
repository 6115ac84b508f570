"""`synthloop train`: train a model on a canonical Parquet dataset and write a checkpoint; `--model`'s URI
scheme picks the trainer (`synthloop.train.trainers`): `builtin` (TinyVLM, the default), `hf:<id or path>`."""

from __future__ import annotations

from pathlib import Path

import typer

from synthloop.cli.app import app, console, fail


@app.command("train")
def train_command(
    data: Path = typer.Argument(..., help="Canonical Parquet file or folder of shards."),
    out: Path = typer.Option(..., "--out", help="Checkpoint directory to write."),
    stage: str = typer.Option("both", help="1 (projector on captions), 2 (instruction tuning) or both."),
    epochs: int = typer.Option(1, min=1, help="Passes over the data per stage."),
    max_samples: int | None = typer.Option(None, help="Budget: the most samples the data may hold."),
    global_batch_size: int = typer.Option(16, help="Budget: samples per optimiser step (16: enough steps for a "
                                          "few epochs of a few thousand samples to answer; docs/experiments.md)."),
    seed: int = typer.Option(0, help="Seed for weights and data order."),
    time_budget: float | None = typer.Option(None, help="Stop training after this many seconds."),
    vision: str | None = typer.Option(None, help="conv (from scratch, the default) or efficientnet-lite0 "
                                                 "(pretrained, frozen)."),
    drop_background: bool | None = typer.Option(None, "--drop-background/--no-drop-background",
                                                help="Image tokens only for grid cells that differ from the "
                                                     "plain background (rendered scenes, documents)."),
    d_model: int | None = typer.Option(None, "--d-model", help="Width of the language model (default 128)."),
    image_positions: float | None = typer.Option(None, help="Amplitude of the 2D sine-cosine codes that start "
                                                            "the image tokens' position embedding (default 0)."),
    judge_probes: float | None = typer.Option(None, help="Weight of the judge probes on judge samples "
                                                         "(`world generate --judge`; default: off)."),
    grounding: float | None = typer.Option(None, help="Weight of the grounding probes on samples whose "
                                                      "meta.objects give boxes (default: off)."),
    referents: float | None = typer.Option(None, help="Weight of the referent attention loss on samples whose "
                                                      "meta.objects give boxes (default: off)."),
    init: Path | None = typer.Option(None, "--init", help="Continue from this checkpoint's weights and tokenizer."),
    model: str = typer.Option("builtin", "--model", help="The model to train, by URI; its scheme picks the trainer: "
                              "builtin (a new TinyVLM; builtin:CKPT continues from CKPT) or hf:<id or path> "
                              "(transformers, with the train-hf extra)."),
    check_answers: bool = typer.Option(True, help="Fail when a TinyVLM answers none of a draw of its training "
                                                  "questions (it ends every reply at once)."),
    setting: list[str] = typer.Option([], "--set", help="A trainer setting KEY=VALUE, VALUE read as YAML "
                                      "(repeatable): e.g. --set lora=true --set lr=1e-4 for hf:..."),
) -> None:
    """Train a model on DATA and write its checkpoint to --out (TinyVLM: LLaVA-style, two stages)."""
    import synthloop.lab.probes  # noqa: F401  (registers the lab's auxiliary losses)
    import yaml
    from pydantic import ValidationError

    from synthloop.engine.yaml_lines import error_message
    from synthloop.sample import SampleError
    from synthloop.train.trainers import TrainerError, TrainJob, trainer_class

    if stage not in ("1", "2", "both"):
        fail(f"--stage must be 1, 2 or both, not {stage!r}")
    kind, _, target = model.partition(":")
    try:
        trainer = trainer_class(kind)
    except TrainerError as err:
        fail(f"--model {model}: {err}")
    chosen = {"vision": vision, "drop_background": drop_background, "d_model": d_model,
              "image_pos_scale": image_positions}
    settings: dict = {k: v for k, v in chosen.items() if v is not None}
    weights = {"judge": judge_probes, "grounding": grounding, "referents": referents}
    aux_losses = {name: {"weight": w} for name, w in weights.items() if w}
    if aux_losses:
        settings["aux_losses"] = aux_losses
    if kind == "builtin" and target:
        if init is not None:
            fail("give the checkpoint to continue from once: --model builtin:CKPT or --init CKPT")
        init, model = Path(target), "builtin"
    elif kind != "builtin" and settings:
        fail(f"--vision, --d-model, --drop-background, --image-positions and the probe weights are TinyVLM "
             f"settings; the {kind} trainer does not take them")
    for item in setting:
        key, equals, value = item.partition("=")
        if not (key and equals):
            fail(f"--set {item!r}: give KEY=VALUE")
        try:
            settings[key] = yaml.safe_load(value)
        except yaml.YAMLError as err:
            fail(f"--set {item!r}: the value is not YAML: {str(err).splitlines()[0]}")
    try:
        chosen_trainer = trainer(settings)
    except ValidationError as err:
        first = err.errors()[0]
        fail(f"--set {'.'.join(map(str, first['loc']))}: {error_message(first)}")
    job = TrainJob(data, out, out.with_name(out.name + "-train"), seed=seed, epochs=epochs,
                   global_batch_size=global_batch_size, max_samples=max_samples, stage=stage, model=model, init=init,
                   time_budget_s=time_budget)
    try:
        trained = chosen_trainer.train(job)
    except (SampleError, FileNotFoundError, ValueError) as err:
        fail(f"{data}: {err}")
    console.print(f"checkpoint written to {out} ({trained.model})")
    if kind == "builtin" and stage != "1" and check_answers:
        _check_it_answers(out, data, max_samples, seed)


def _check_it_answers(checkpoint: Path, data: Path, max_samples: int | None, seed: int) -> None:
    """Fail when the model answers none of a draw of its training questions (see train.answer_check)."""
    from synthloop.train.answer_check import empty_answers
    from synthloop.train.trainer import load_training_samples

    empty, asked = empty_answers(checkpoint, load_training_samples(data, max_samples), seed=seed)
    if asked and empty == asked:
        fail(f"{checkpoint}: the model answers all {asked} training questions it was asked with nothing (it "
             "ends every reply at once): train longer (--epochs, a smaller --global-batch-size) or on more data")
    console.print(f"answers {asked - empty} of {asked} training questions with text")
