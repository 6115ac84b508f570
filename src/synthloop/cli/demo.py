"""`synthloop demo`: the whole loop on the embedded default."""

from __future__ import annotations

from pathlib import Path

import typer

from synthloop.cli.app import app


@app.command()
def demo(out: Path = typer.Option(Path("runs/demo"), help="Run directory for every output."),
         seed: int = typer.Option(0, help="Seed of the seed pool, the benchmark, synthesis and training.")) -> None:
    """Build a noisy seed pool, curate it, train TinyVLM, evaluate, run 2 loop rounds, write the report."""
    from synthloop.lab.demo import run_demo

    summary = run_demo(out, seed=seed, log=typer.echo)
    curation = summary["curation"]
    typer.echo("\ncuration on the labelled noise: " + ", ".join(
        f"{key} {value:.3f}" if isinstance(value, float) else f"{key} {value}"
        for key, value in curation.items() if isinstance(value, (int, float))))
    for kind, scores in sorted(curation.get("kinds", {}).items()):
        typer.echo(f"  {kind:22s} {scores['removed']:4d}/{scores['count']:<4d} removed  recall {scores['recall']:.3f}  "
                   f"precision {scores['precision']:.3f}")
    typer.echo(f"(details in {out / 'curation.json'})")
    typer.echo(f"\naccuracy per round (weak qtypes at round 0: {', '.join(summary['weak_qtypes'])}):")
    for entry in summary["rounds"]:
        weak = ", ".join(f"{q} {entry['per_qtype'].get(q, 0):.3f}" for q in summary["weak_qtypes"])
        typer.echo(f"  round {entry['round']} {entry['arm']:8s} overall {entry['overall']:.3f}   weak: {weak}")
    typer.echo(f"\nreport: {summary['report']}")
