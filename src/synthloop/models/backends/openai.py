"""`openai:<base_url>#<model>` backend: any OpenAI-compatible chat-completions server (vLLM, SGLang,
`synthloop serve`). Images go as base64 PNG data URLs; judging reads `top_logprobs` of the first
reply token. A batch is sent with bounded concurrency; transient failures (connection errors,
timeouts, 429, 5xx) are retried with exponential backoff. The API key comes from an environment
variable and is never logged or put in an error message: errors name the server by its URL without
credentials or query, give the HTTP status but not the server's reply (a server may echo the
request's headers), and an unreachable server is one line.
"""

from __future__ import annotations

import base64
import io
import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from PIL import Image

from synthloop.models.backends import ModelUri
from synthloop.models.chat import content_parts
from synthloop.models.protocols import Generation, ModelError, Request
from synthloop.models.yes_no import yes_probability

RETRY_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})


def redacted_url(url: str) -> str:
    """`url` without user, password, query or fragment (where credentials are put in URLs)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:  # a port that is not a number
        port = ""
    return urlunsplit((parts.scheme, host + port, parts.path, "", ""))


def image_data_url(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def to_openai_messages(request: Request) -> list[dict]:
    """Canonical messages (with `<image>` placeholders) -> OpenAI content parts, images in order."""
    images = iter(request.images)
    messages = []
    for message in request.messages:
        parts = content_parts(message["content"])
        if all(isinstance(part, str) for part in parts) and len(parts) <= 1:
            messages.append({"role": message["role"], "content": parts[0] if parts else ""})
            continue
        content = [{"type": "text", "text": part} if part is not None else
                   {"type": "image_url", "image_url": {"url": image_data_url(next(images))}} for part in parts]
        messages.append({"role": message["role"], "content": content})
    return messages


class OpenAIChatModel:
    """Generator + Judge + NextTokenScorer over HTTP."""

    def __init__(self, base_url: str, model: str, api_key_env: str = "OPENAI_API_KEY", concurrency: int = 8,
                 timeout_s: float = 60.0, retries: int = 4, backoff_s: float = 0.5, judge_top_logprobs: int = 20):
        self.judge_top_logprobs = judge_top_logprobs  # OpenAI allows 20; vLLM serves more when configured to
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.concurrency = concurrency
        self.retries = retries
        self.backoff_s = backoff_s
        self.name = f"openai:{redacted_url(self.base_url)}#{model}"
        headers = {"Content-Type": "application/json"}
        api_key = os.environ.get(api_key_env)
        self.secrets = [secret for secret in (api_key, urlsplit(self.base_url).password, urlsplit(self.base_url).query)
                        if secret]
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        self.client = httpx.Client(headers=headers, timeout=timeout_s, limits=limits)

    def _post(self, body: dict) -> dict:
        url = f"{self.base_url}/chat/completions"
        for attempt in range(self.retries + 1):
            try:
                response = self.client.post(url, json=body)
            except httpx.HTTPError as err:  # connection refused, timeouts, resets, a bad URL
                problem = f"cannot reach the server ({type(err).__name__}: {err})"
            else:
                if response.status_code == 200:
                    try:
                        return response.json()
                    except ValueError:
                        raise ModelError(f"{self.name}: the reply is not JSON") from None
                problem = f"HTTP {response.status_code} {response.reason_phrase}"
                if response.status_code not in RETRY_STATUS:
                    break
            if attempt < self.retries:
                time.sleep(self.backoff_s * 2**attempt)
        raise ModelError(f"{self.name}: {self._redact(problem)}")

    def _redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return " ".join(text.split())

    def _map(self, bodies: list[dict]) -> list[dict]:
        if len(bodies) <= 1:
            return [self._post(body) for body in bodies]
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(bodies))) as pool:
            return list(pool.map(self._post, bodies))

    def _body(self, request: Request, **params: Any) -> dict:
        return {"model": self.model, "messages": to_openai_messages(request), **params}

    def generate(self, requests: list[Request], max_new_tokens: int = 64, temperature: float = 0.0,
                 seed: int = 0) -> list[Generation]:
        bodies = [self._body(r, max_tokens=max_new_tokens, temperature=temperature, seed=seed, logprobs=True)
                  for r in requests]
        generations = []
        for reply in self._map(bodies):
            try:
                choice = reply["choices"][0]
                content = (choice.get("logprobs") or {}).get("content") or []
                generations.append(Generation(choice["message"]["content"] or "", [t["logprob"] for t in content]))
            except (KeyError, IndexError, TypeError, AttributeError):
                raise ModelError(f"{self.name}: the reply is not a chat completion") from None
        return generations

    def next_token_logprobs(self, requests: list[Request], top_k: int = 20) -> list[list[tuple[str, float]]]:
        bodies = [self._body(r, max_tokens=1, temperature=0.0, logprobs=True, top_logprobs=top_k) for r in requests]
        tops = []
        for reply in self._map(bodies):
            try:
                content = (reply["choices"][0].get("logprobs") or {}).get("content") or []
                top = content[0].get("top_logprobs", []) if content else []
                tops.append([(t["token"], t["logprob"]) for t in top])
            except (KeyError, IndexError, TypeError, AttributeError):
                raise ModelError(f"{self.name}: the reply is not a chat completion with logprobs") from None
        return tops

    def p_yes(self, requests: list[Request]) -> list[float]:
        """NaN where neither Yes nor No is among the top tokens (the op quarantines those)."""
        return [yes_probability(top) for top in self.next_token_logprobs(requests, self.judge_top_logprobs)]

    def close(self) -> None:
        self.client.close()


def load(uri: ModelUri, device: str, concurrency: int = 8, batch_size: int | None = None) -> OpenAIChatModel:
    if batch_size:
        raise ModelError(f"{uri}: the server batches the requests it is sent (one per call); batch_size does not "
                         "apply to it")
    return OpenAIChatModel(uri.target, uri.model, concurrency=concurrency)
