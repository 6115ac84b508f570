"""The endpoint a round is evaluated through: the recipe's `evaluate.serve` command, started with the
round's checkpoint, waited for until `GET <base_url>/models` answers, and stopped (with everything it
started) once the evaluation is done. Its output goes to the round's `eval/serve.log`.

For vLLM: `serve: "vllm serve {checkpoint} --port {port} --served-model-name {name}"` (the arguments
of vLLM's docs/configuration/serve_args.md and CLI reference; its OpenAI-compatible server lists the
served models at `/v1/models`). Any HTTP answer there counts as up: a server started with an API key
answers 401 without it."""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

from synthloop.commands import fill, last_line, start_logged, stop
from synthloop.models.uri import parse_uri


class ServeError(RuntimeError):
    """A serving command that ended or stayed silent; one line naming its log."""


@contextlib.contextmanager
def served(command: str | None, endpoint: str, checkpoint: str, log: Path, timeout_s: float) -> Iterator[None]:
    """Run `command` (None: nothing to start) serving `checkpoint` (a model URI) at `endpoint` (an
    `openai:` URI) while the block runs."""
    if command is None:
        yield
        return
    uri = parse_uri(endpoint)
    parts = urlsplit(uri.target)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    values = {"checkpoint": checkpoint.partition(":")[2], "model": checkpoint, "port": port, "name": uri.model}
    process = start_logged(fill(command, values), log)
    try:
        _wait_until_it_answers(f"{uri.target}/models", process, log, timeout_s)
        yield
    finally:
        stop(process)


def _wait_until_it_answers(url: str, process: subprocess.Popen, log: Path, timeout_s: float) -> None:
    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=2)
            return  # any HTTP answer: it listens (one that wants a key answers 401 here)
        except httpx.TransportError:
            pass
        if process.poll() is not None:
            raise ServeError(f"the serve command exited with status {process.returncode} before {url} answered: "
                             f"{last_line(log)} (log: {log})")
        time.sleep(0.25)
    raise ServeError(f"{url} did not answer within {timeout_s:g} s of starting the serve command (log: {log})")
