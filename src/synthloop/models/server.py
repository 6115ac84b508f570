"""An OpenAI-compatible chat-completions server over any synthloop model (`synthloop serve`).

Endpoints: `GET /v1/models`, `POST /v1/chat/completions` with text and `image_url` content parts
(base64 data URLs), `logprobs` and `top_logprobs`. Concurrent HTTP requests are micro-batched:
requests arriving within `batch_wait_s` of each other with the same decoding parameters go to the
model as one batch, so the served model runs at batch speed.

Requests are validated by `server_request` (body size, parameter ranges, images and pixels); with
an API key (`serve --api-key` or SYNTHLOOP_API_KEY) every endpoint wants `Authorization: Bearer KEY`,
compared in constant time. A request the model fails on gets a 500 of its own: a failing batch is
retried one request at a time, so the good requests batched with it are answered. No response
carries a traceback.

Log-probs: every generated token's log-prob is returned; `top_logprobs` are given for the first
reply token (where judges read P(Yes)), from the model's full next-token distribution. Generators
report log-probs but not token strings, so only the first entry names its token, and only for
greedy decoding, where it is the top-1 token.
"""

from __future__ import annotations

import asyncio
import hmac
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request as HttpRequest
from starlette.responses import JSONResponse
from starlette.routing import Route

from synthloop.models.protocols import Request
from synthloop.models.server_request import BadRequest, Limits, read_body, read_chat_request


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
                await self._answer(group, params)

    async def _answer(self, group: list[_Pending], params: tuple[int, float, int, int]) -> None:
        """Answer a group in one model call; if that fails, each request alone, so one bad request
        fails only itself."""
        try:
            results = await run_in_threadpool(self._call, [p.request for p in group], params)
        except Exception as err:  # noqa: BLE001 - a model failure is answered, never raised into the loop
            if len(group) > 1:
                for pending in group:
                    await self._answer([pending], params)
            else:
                group[0].future.set_exception(err)
            return
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


def _error(status: int, message: str, kind: str) -> JSONResponse:
    return JSONResponse({"error": {"message": " ".join(message.split())[:500], "type": kind}}, status_code=status)


def build_app(model: Any, model_name: str, max_batch: int = 64, api_key: str | None = None,
              limits: Limits = Limits()) -> Starlette:
    batcher = MicroBatcher(model, max_batch=max_batch)

    def authorised(http_request: HttpRequest) -> bool:
        if not api_key:
            return True
        given = http_request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        return hmac.compare_digest(given.encode(), api_key.encode())

    async def models(http_request: HttpRequest) -> JSONResponse:
        if not authorised(http_request):
            return _error(401, "missing or wrong API key", "authentication_error")
        entry = {"id": model_name, "object": "model", "owned_by": "synthloop"}
        return JSONResponse({"object": "list", "data": [entry]})

    async def chat_completions(http_request: HttpRequest) -> JSONResponse:
        if not authorised(http_request):
            return _error(401, "missing or wrong API key", "authentication_error")
        try:
            body = await read_body(http_request.stream(), http_request.headers.get("content-length"),
                                   limits.max_body_bytes)
            chat = await run_in_threadpool(read_chat_request, body, limits)  # image decoding off the event loop
        except BadRequest as err:
            return _error(err.status, str(err), "invalid_request_error")
        try:
            generation, top = await batcher.submit(chat.request, chat.params)
        except Exception as err:  # noqa: BLE001 - the model failed on this request: say so, no traceback
            return _error(500, f"the model failed on this request: {type(err).__name__}: {err}", "server_error")
        choice: dict[str, Any] = {"index": 0, "message": {"role": "assistant", "content": generation.text},
                                  "finish_reason": "stop"}
        if chat.logprobs:
            choice["logprobs"] = {"content": _logprobs_content(generation, top, chat.params[1] == 0)}
        return JSONResponse({"id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion",
                             "created": int(time.time()), "model": model_name, "choices": [choice],
                             "usage": {"completion_tokens": len(generation.token_logprobs)}})

    async def server_error(_: HttpRequest, err: Exception) -> JSONResponse:
        return _error(500, f"internal error ({type(err).__name__})", "server_error")

    return Starlette(routes=[Route("/v1/models", models), Route("/v1/chat/completions", chat_completions,
                                                                methods=["POST"])],
                     exception_handlers={Exception: server_error})
