"""An OpenAI-compatible chat-completions server over any synthloop model (`synthloop serve`).

Endpoints: `GET /v1/models`, `POST /v1/chat/completions` with text and `image_url` content parts
(base64 data URLs), `logprobs` and `top_logprobs`. Concurrent HTTP requests are micro-batched:
requests arriving within `batch_wait_s` of each other with the same decoding parameters go to the
model as one batch, so the served model runs at batch speed.

Log-probs: every generated token's log-prob is returned; `top_logprobs` are given for the first
reply token (where judges read P(Yes)), from the model's full next-token distribution. Generators
report log-probs but not token strings, so only the first entry names its token, and only for
greedy decoding, where it is the top-1 token.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import io
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from PIL import Image
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request as HttpRequest
from starlette.responses import JSONResponse
from starlette.routing import Route

from synthloop.models.protocols import Request
from synthloop.sample import IMAGE_TOKEN


class BadRequest(ValueError):
    pass


def parse_messages(messages: Any) -> Request:
    """OpenAI messages -> a `Request` (canonical messages with `<image>` placeholders + images)."""
    if not isinstance(messages, list) or not messages:
        raise BadRequest("'messages' must be a non-empty list")
    canonical, images = [], []
    for k, message in enumerate(messages):
        content = message.get("content") if isinstance(message, dict) else None
        role = message.get("role") if isinstance(message, dict) else None
        if role not in ("user", "assistant", "system"):
            raise BadRequest(f"messages[{k}].role must be user, assistant or system")
        if isinstance(content, str):
            canonical.append({"role": role, "content": content})
            continue
        if not isinstance(content, list):
            raise BadRequest(f"messages[{k}].content must be a string or a list of parts")
        pieces = []
        for part in content:
            kind = part.get("type") if isinstance(part, dict) else None
            if kind == "text":
                text = str(part.get("text", ""))
                # LLaVA-style prompts put a newline after an image; our own client sends it already.
                pieces.append(text if not pieces or pieces[-1] != IMAGE_TOKEN or text[:1].isspace() else "\n" + text)
            elif kind == "image_url":
                images.append(_decode_data_url((part.get("image_url") or {}).get("url", ""), k))
                pieces.append(IMAGE_TOKEN)
            else:
                raise BadRequest(f"messages[{k}]: unsupported content part type {kind!r}")
        canonical.append({"role": role, "content": "".join(pieces)})
    return Request(images, canonical)


def _decode_data_url(url: str, k: int) -> Image.Image:
    header, _, data = url.partition(",")
    if not header.startswith("data:image/") or not header.endswith(";base64"):
        raise BadRequest(f"messages[{k}]: only base64 data URLs are accepted for images (no network)")
    try:
        return Image.open(io.BytesIO(base64.b64decode(data, validate=True))).convert("RGB")
    except (binascii.Error, OSError) as err:
        raise BadRequest(f"messages[{k}]: cannot decode image: {err}") from None


@dataclass
class _Pending:
    request: Request
    params: tuple[int, float, int, int]  # max_tokens, temperature, seed, top_logprobs (0: none)
    future: asyncio.Future = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class MicroBatcher:
    """Collects concurrent requests and runs each group of equal parameters as one model batch."""

    def __init__(self, model: Any, max_batch: int = 64, batch_wait_s: float = 0.005):
        self.model = model
        self.max_batch = max_batch
        self.batch_wait_s = batch_wait_s
        self.queue: asyncio.Queue[_Pending] | None = None
        self.worker: asyncio.Task | None = None

    async def submit(self, request: Request, params: tuple[int, float, int, int]) -> tuple[Any, Any]:
        if self.queue is None:
            self.queue = asyncio.Queue()
            self.worker = asyncio.create_task(self._run())
        pending = _Pending(request, params)
        await self.queue.put(pending)
        return await pending.future

    async def _run(self) -> None:
        assert self.queue is not None
        while True:
            batch = [await self.queue.get()]
            deadline = time.monotonic() + self.batch_wait_s
            while len(batch) < self.max_batch and (left := deadline - time.monotonic()) > 0:
                try:
                    batch.append(await asyncio.wait_for(self.queue.get(), left))
                except TimeoutError:
                    break
            groups: dict[tuple, list[_Pending]] = {}
            for pending in batch:
                groups.setdefault(pending.params, []).append(pending)
            for params, group in groups.items():
                try:
                    results = await run_in_threadpool(self._call, [p.request for p in group], params)
                except Exception as err:  # noqa: BLE001 - a model failure answers every waiting request
                    for pending in group:
                        pending.future.set_exception(err)
                    continue
                for pending, result in zip(group, results, strict=True):
                    pending.future.set_result(result)

    def _call(self, requests: list[Request], params: tuple[int, float, int, int]) -> list[tuple[Any, Any]]:
        max_tokens, temperature, seed, top_k = params
        generations = self.model.generate(requests, max_new_tokens=max_tokens, temperature=temperature, seed=seed)
        tops = self.model.next_token_logprobs(requests, top_k) if top_k else [None] * len(requests)
        return list(zip(generations, tops, strict=True))


def _logprobs_content(generation: Any, top: list[tuple[str, float]] | None, greedy: bool) -> list[dict]:
    content = []
    for k, logprob in enumerate(generation.token_logprobs):
        token = top[0][0] if (k == 0 and top and greedy) else ""
        entry: dict[str, Any] = {"token": token, "logprob": logprob, "bytes": None, "top_logprobs": []}
        if k == 0 and top:
            entry["top_logprobs"] = [{"token": t, "logprob": lp, "bytes": None} for t, lp in top]
        content.append(entry)
    if not content and top:  # nothing generated: still report the first position's distribution
        content.append({"token": "", "logprob": None, "bytes": None,
                        "top_logprobs": [{"token": t, "logprob": lp, "bytes": None} for t, lp in top]})
    return content


def build_app(model: Any, model_name: str, max_batch: int = 64) -> Starlette:
    batcher = MicroBatcher(model, max_batch=max_batch)

    async def models(_: HttpRequest) -> JSONResponse:
        entry = {"id": model_name, "object": "model", "owned_by": "synthloop"}
        return JSONResponse({"object": "list", "data": [entry]})

    async def chat_completions(http_request: HttpRequest) -> JSONResponse:
        try:
            body = await http_request.json()
            request = parse_messages(body.get("messages"))
            max_tokens = int(body.get("max_completion_tokens") or body.get("max_tokens") or 64)
            temperature = float(body.get("temperature") or 0.0)
            top_k = int(body.get("top_logprobs") or 0) if body.get("logprobs") else 0
            params = (max_tokens, temperature, int(body.get("seed") or 0), top_k)
        except (BadRequest, ValueError, TypeError, AttributeError) as err:
            return JSONResponse({"error": {"message": str(err), "type": "invalid_request_error"}}, status_code=400)
        generation, top = await batcher.submit(request, params)
        choice: dict[str, Any] = {"index": 0, "message": {"role": "assistant", "content": generation.text},
                                  "finish_reason": "stop"}
        if body.get("logprobs"):
            choice["logprobs"] = {"content": _logprobs_content(generation, top, temperature == 0)}
        return JSONResponse({"id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion",
                             "created": int(time.time()), "model": model_name, "choices": [choice],
                             "usage": {"completion_tokens": len(generation.token_logprobs)}})

    return Starlette(routes=[Route("/v1/models", models), Route("/v1/chat/completions", chat_completions,
                                                                methods=["POST"])])
