"""`synthloop world`: render the embedded world (training data or the benchmark split) to canonical Parquet."""

from __future__ import annotations

from pathlib import Path

import typer

from synthloop.cli.app import app, console, fail

world_app = typer.Typer(help="The embedded rendered world: training data and a fixed benchmark.", no_args_is_help=True)
app.add_typer(world_app, name="world")


def parse_mix(text: str | None) -> dict[str, float] | None:
    """`count=0.3,color=0.2` -> {"count": 0.3, "color": 0.2}; None or "" -> None (uniform)."""
    if not text:
        return None
    mix = {}
    for part in text.split(","):
        name, _, weight = part.partition("=")
        try:
            mix[name.strip()] = float(weight)
        except ValueError:
            fail(f"--mix: {part!r} is not qtype=weight")
    return mix


def parse_difficulty(text: str | None) -> dict[str, int] | None:
    if not text:
        return None
    levels = {}
    for part in text.split(","):
        name, _, level = part.partition("=")
        if not level.strip().isdigit():
            fail(f"--difficulty: {part!r} is not qtype=level (0..3)")
        levels[name.strip()] = int(level)
    return levels


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
) -> None:
    """Render N world samples with questions following --mix and write canonical Parquet to OUT."""
    from synthloop.formats.parquet import write_samples
    from synthloop.world import iter_generate
    from synthloop.world import noise as noise_module

    try:
        samples = iter_generate(n, parse_mix(mix), seed, image_size, parse_difficulty(difficulty), workers=workers,
                                turns=turns)
        if noise > 0:
            samples = noise_module.inject(list(samples), noise, seed)
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
    from synthloop.world import benchmark

    try:
        files = write_samples(benchmark(n, seed, image_size=image_size), out)
    except ValueError as err:
        fail(str(err))
    console.print(f"wrote {n} benchmark samples to {out} ({len(files)} shard(s))")
