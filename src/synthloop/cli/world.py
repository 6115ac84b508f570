"""`synthloop world`: render the embedded world (training data or the benchmark split) to canonical Parquet."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import typer

from synthloop.cli.app import app, console, fail

world_app = typer.Typer(help="The embedded rendered world: training data and a fixed benchmark.", no_args_is_help=True)
app.add_typer(world_app, name="world")


def parse_pairs(text: str | None, option: str, convert: Callable[[str], object], form: str) -> dict | None:
    """`count=0.3,color=0.2` -> {"count": convert("0.3"), ...}; None or "" -> None. A value that
    `convert` rejects (ValueError) is a one-line error naming the option and the expected form."""
    if not text:
        return None
    pairs = {}
    for part in text.split(","):
        name, _, value = part.partition("=")
        try:
            pairs[name.strip()] = convert(value)
        except ValueError:
            fail(f"{option}: {part!r} is not {form}")
    return pairs


def level(text: str) -> int:
    if not text.strip().isdigit():
        raise ValueError(f"{text!r} is not a level")
    return int(text)


@world_app.command("generate")
def generate_command(
    out: Path = typer.Argument(..., help="Folder for the Parquet shards."),
    n: int = typer.Option(1000, "--n", min=0, help="Number of samples."),
    mix: str | None = typer.Option(None, help="Qtype weights, e.g. count=0.3,color=0.2 (default: uniform)."),
    seed: int = typer.Option(0, help="Training seed, 0 <= seed < 10**9."),
    image_size: int = typer.Option(64, help="Image side in pixels."),
    difficulty: str | None = typer.Option(None, help="Levels per qtype, e.g. count=3,ocr=2 (0..3, default 1)."),
    noise: float = typer.Option(0.0, min=0.0, max=1.0, help="Fraction of samples given labelled noise."),
    workers: int = typer.Option(1, min=1, help="Processes rendering in parallel (same output)."),
    turns: int = typer.Option(1, min=1, help="Questions per conversation: follow-ups about the same scene."),
    follow_ups: str = typer.Option("exist,count,color,shape", help="Families the follow-ups are drawn from "
                                   "(also position, relation, size)."),
    judge: bool = typer.Option(False, "--judge", help="Write judge training data instead: each short answer as "
                                                      "it is and swapped for another of its qtype, asked with "
                                                      "Genixer's judge prompt (Yes/No); train with --stage 2."),
) -> None:
    """Render N world samples with questions following --mix and write canonical Parquet to OUT."""
    from synthloop.formats.parquet import write_samples
    from synthloop.lab.probes.judge import corrupted_pairs, judge_training_samples
    from synthloop.lab.world import iter_generate
    from synthloop.lab.world import noise as noise_module

    if judge and (noise > 0 or turns > 1):
        fail("--judge makes its own wrong answers from single-turn samples: leave out --noise and --turns")

    try:
        samples = iter_generate(n, parse_pairs(mix, "--mix", float, "qtype=weight"), seed, image_size,
                                parse_pairs(difficulty, "--difficulty", level, "qtype=level (0..3)"), workers=workers,
                                turns=turns, follow_up_qtypes=tuple(q.strip() for q in follow_ups.split(",")))
        if noise > 0:
            samples = noise_module.inject(list(samples), noise, seed)
        if judge:
            samples = judge_training_samples(corrupted_pairs(list(samples), seed))
        files = write_samples(samples, out)
    except ValueError as err:
        fail(str(err))
    total = len(samples) if isinstance(samples, list) else n
    console.print(f"wrote {total} world samples to {out} ({len(files)} shard(s))")


@world_app.command("bench")
def bench_command(
    out: Path = typer.Argument(..., help="Folder for the Parquet shards."),
    n: int = typer.Option(1000, "--n", min=1, help="Number of benchmark samples."),
    seed: int = typer.Option(0, min=0, help="Benchmark seed (rendered as 10**9 + seed, disjoint from training)."),
    image_size: int = typer.Option(64, help="Image side in pixels."),
) -> None:
    """Write the fixed benchmark split (every qtype, uniform) to OUT."""
    from synthloop.formats.parquet import write_samples
    from synthloop.lab.world import benchmark

    try:
        files = write_samples(benchmark(n, seed, image_size=image_size), out)
    except ValueError as err:
        fail(str(err))
    console.print(f"wrote {n} benchmark samples to {out} ({len(files)} shard(s))")
