"""`synthloop eval --model URI BENCH --out DIR` (or `eval CKPT BENCH`) and `synthloop benchmark FORMAT SRC --out DIR`."""

from __future__ import annotations

import os
from enum import Enum
from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from synthloop.cli.app import app, console, fail
from synthloop.models.protocols import ModelError


class McScoring(str, Enum):
    generate = "generate"
    likelihood = "likelihood"


@app.command("eval")
def eval_command(
    targets: list[str] = typer.Argument(..., metavar="[CKPT] BENCH", help="The benchmark as canonical Parquet (a file "
                                        "or a folder of shards, as `synthloop benchmark` writes it), after a "
                                        "TinyVLM checkpoint folder unless --model names the model."),
    model: str | None = typer.Option(None, "--model", help="The model to score, by URI: builtin:CKPT, hf:<id or "
                                     "path>, openai:<base_url>#<model> (vLLM, SGLang, `synthloop serve`)."),
    out: Path = typer.Option(..., "--out", help="Folder for results.json, samples.jsonl, bad_case_*.json, "
                             "weights.json and the prediction cache that a rerun resumes from."),
    batch_size: int = typer.Option(64, min=1, help="Samples per model call."),
    concurrency: int = typer.Option(8, min=1, help="Requests in flight at once to an openai: server."),
    device: str = typer.Option("auto", help="cpu, cuda, cuda:N or auto (local models)."),
    image_root: Path | None = typer.Option(None, help="Folder that relative image paths are read from."),
    max_new_tokens: int = typer.Option(64, min=1, help="Longest generated answer, in tokens."),
    mc: McScoring = typer.Option(McScoring.generate, help="Multiple choice: match the generated text to an option, "
                                 "or pick the option with the highest log-likelihood."),
) -> None:
    """Score a model on a benchmark with the official metrics; per-qtype accuracy, bad cases, weights.

    Predictions are cached in --out as they come, so a killed evaluation continues where it stopped.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from synthloop.evaluate.prediction_cache import PredictionCache, model_fingerprint
    from synthloop.evaluate.runner import evaluate
    from synthloop.formats.parquet import read_samples

    if len(targets) != (1 if model else 2):
        fail("give the benchmark after --model URI, or a TinyVLM checkpoint folder and the benchmark")
    uri, bench = (model, Path(targets[0])) if model else (f"builtin:{targets[0]}", Path(targets[1]))
    scorer = _load_scorer(uri, device, concurrency)
    total = _count_samples(bench)
    try:
        cache = PredictionCache(out, model_fingerprint(uri))
    except ValueError as err:
        fail(str(err))
    columns = [TextColumn("eval"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()]
    try:
        with Progress(*columns, console=console, transient=True) as progress:
            task = progress.add_task("eval", total=total)
            results = evaluate(scorer, read_samples(bench), out, batch_size, image_root=image_root,
                               max_new_tokens=max_new_tokens, mc_scoring=mc.value, cache=cache,
                               on_batch=lambda n: progress.advance(task, n))
    except ValueError as err:  # e.g. a prompt longer than the model's context, a model without option scores
        fail(str(err))
    except ModelError as err:  # e.g. a server that stopped answering; what was answered stays cached
        fail(f"{err} (rerun to continue from the {len(cache.found)} cached predictions)")
    finally:
        cache.close()
        if hasattr(scorer, "close"):
            scorer.close()
    typer.echo(f"overall {results['overall']:.4f} on {results['n']} samples ({results['errors']} not scored)")
    for qtype, accuracy in results["per_qtype"].items():
        typer.echo(f"  {qtype or '(none)'}: {accuracy:.4f}")
    typer.echo(f"wrote {out}/results.json, samples.jsonl, weights.json, bad_case_*.json")


def _load_scorer(uri: str, device: str, concurrency: int) -> Any:
    """The model behind `uri`, or a one-line failure."""
    from synthloop.models.uri import load_fresh

    try:
        return load_fresh(uri, device, **({"concurrency": concurrency} if uri.startswith("openai:") else {}))
    except ImportError as err:
        fail(f"{uri}: cannot load models: {err}")
    except (ModelError, OSError, ValueError) as err:
        fail(f"{uri}: {err}")


def _count_samples(bench: Path) -> int:
    import pyarrow.parquet as pq

    from synthloop.formats.parquet import parquet_files

    try:
        total = sum(pq.ParquetFile(file).metadata.num_rows for file in parquet_files(bench))
    except FileNotFoundError as err:
        fail(str(err))
    except (OSError, ValueError) as err:
        fail(f"{bench}: not a Parquet dataset: {err}")
    if not total:
        fail(f"{bench}: no samples")
    return total


class AokvqaSetting(str, Enum):
    mc = "mc"
    da = "da"


class BenchmarkFormat(str, Enum):
    vqav2 = "vqav2"
    textvqa = "textvqa"
    aokvqa = "aokvqa"
    mmbench = "mmbench"
    scienceqa = "scienceqa"
    gqa = "gqa"


@app.command("benchmark")
def benchmark_command(
    format: BenchmarkFormat = typer.Argument(..., help="The benchmark's official file format."),
    src: Path = typer.Argument(..., help="Questions file (JSON, or TSV for MMBench)."),
    out: Path = typer.Option(..., "--out", help="Folder for the canonical Parquet shards."),
    annotations: Path | None = typer.Option(None, help="VQAv2 annotations JSON (omit for the test split)."),
    split: str = typer.Option("val", help="A-OKVQA / ScienceQA split (image folder and problem filter)."),
    setting: AokvqaSetting = typer.Option(AokvqaSetting.mc,
                                          help="A-OKVQA setting: multiple choice or direct answer."),
    circular: bool = typer.Option(False, help="MMBench: add CircularEval rotations the file lacks."),
) -> None:
    """Convert a public benchmark file into canonical Parquet that `synthloop eval` reads."""
    from synthloop.evaluate import benchmarks
    from synthloop.formats.parquet import write_samples

    readers = {
        BenchmarkFormat.vqav2: lambda: benchmarks.read_vqav2(src, annotations),
        BenchmarkFormat.textvqa: lambda: benchmarks.read_textvqa(src),
        BenchmarkFormat.aokvqa: lambda: benchmarks.read_aokvqa(src, split, setting.value),
        BenchmarkFormat.mmbench: lambda: benchmarks.read_mmbench(src),
        BenchmarkFormat.scienceqa: lambda: benchmarks.read_scienceqa(src, split),
        BenchmarkFormat.gqa: lambda: benchmarks.read_gqa(src),
    }
    try:
        samples = readers[format]()
    except benchmarks.BenchmarkError as err:
        fail(str(err))
    if circular and format is BenchmarkFormat.mmbench:
        samples = benchmarks.circular_copies(samples)
    files = write_samples(samples, out)
    typer.echo(f"wrote {len(samples)} samples to {len(files)} shard(s) in {out}")
