"""`synthloop serve`: an OpenAI-compatible chat-completions server over a model."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from synthloop.cli.app import app, fail

API_KEY_ENV = "SYNTHLOOP_API_KEY"  # read by `serve --api-key` when the option is not given


@app.command()
def serve(
    model: str = typer.Argument(..., help="A TinyVLM checkpoint folder, or any model URI (builtin:, hf:, pkg:)."),
    port: int = typer.Option(8000, help="TCP port."),
    host: str = typer.Option("127.0.0.1", help="Interface to bind; the default serves this machine only."),
    name: str = typer.Option("", help="Model name clients send (default: the checkpoint folder name)."),
    device: str = typer.Option("auto", help="cpu, cuda, cuda:N or auto."),
    max_batch: int = typer.Option(64, help="Most concurrent requests answered in one model batch."),
    api_key: str | None = typer.Option(None, envvar=API_KEY_ENV, show_default=False,
                                       help="Require 'Authorization: Bearer KEY' (default: the env var, or none)."),
    max_body_mb: float = typer.Option(20.0, min=0.001, help="Largest request body (413 past it)."),
    max_images: int = typer.Option(16, min=0, help="Most images in one request."),
    max_pixels: int = typer.Option(4096 * 4096, min=1, help="Most pixels in one image."),
    max_logprobs: int = typer.Option(20, min=0, help="Largest top_logprobs a request may ask for (as vLLM's)."),
) -> None:
    """Serve MODEL at http://HOST:PORT/v1 (/v1/models, /v1/chat/completions with images and logprobs)."""
    import uvicorn

    from synthloop.models.protocols import ModelError
    from synthloop.models.server import build_app
    from synthloop.models.server_request import Limits
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
    limits = Limits(int(max_body_mb * (1 << 20)), max_images, max_pixels, max_logprobs=max_logprobs)
    uvicorn.run(build_app(loaded, served_name, max_batch=max_batch, api_key=api_key, limits=limits),
                host=host, port=port, log_level="warning")
