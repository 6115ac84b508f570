"""`synthloop serve`: an OpenAI-compatible chat-completions server over a model."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from synthloop.cli.app import app, fail


@app.command()
def serve(
    model: str = typer.Argument(..., help="A TinyVLM checkpoint folder, or any model URI (builtin:, hf:, pkg:)."),
    port: int = typer.Option(8000, help="TCP port."),
    host: str = typer.Option("127.0.0.1", help="Interface to bind; the default serves this machine only."),
    name: str = typer.Option("", help="Model name clients send (default: the checkpoint folder name)."),
    device: str = typer.Option("auto", help="cpu, cuda, cuda:N or auto."),
    max_batch: int = typer.Option(64, help="Most concurrent requests answered in one model batch."),
) -> None:
    """Serve MODEL at http://HOST:PORT/v1 (/v1/models, /v1/chat/completions with images and logprobs)."""
    import uvicorn

    from synthloop.models.server import build_app
    from synthloop.models.protocols import ModelError
    from synthloop.models.uri import load_model

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    uri = model if ":" in model and not Path(model).exists() else f"builtin:{model}"
    try:
        loaded = load_model(uri, device=device)
    except (ModelError, ValueError) as err:
        fail(str(err))
    if not hasattr(loaded, "generate"):
        fail(f"{uri}: this model cannot generate text, so it cannot be served as a chat model")
    served_name = name or Path(uri.split(":", 1)[1].rstrip("/")).name
    uvicorn.run(build_app(loaded, served_name, max_batch=max_batch), host=host, port=port, log_level="warning")
