"""One chat-completions request to `synthloop serve`, read and validated before the model sees it.

A served model is reachable by anyone on its network, so every request is bounded: the body size
(413 past `Limits.max_body_bytes`), nesting (pydantic's JSON parser), each parameter's range (400,
naming the parameter; OpenAI's own ranges where it has them: temperature 0-2, top_logprobs 0-20),
the images per request and the pixels per image (checked from the header, before any decode).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from PIL import Image
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from synthloop.chat_parts import join_content
from synthloop.images import ImageError, check_pixels, decode_opened, open_image
from synthloop.models.protocols import Request


class BadRequest(ValueError):
    """A request the server refuses; `status` is the HTTP status (400, or 413 for a body too large)."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Limits:
    max_body_bytes: int = 20 << 20
    max_images: int = 16
    max_pixels: int = 4096 * 4096  # per image
    max_tokens: int = 4096
    max_logprobs: int = 20  # top_logprobs; OpenAI's maximum and vLLM's --max-logprobs default


class ChatParams(BaseModel):
    """The decoding parameters of a request; `null` means the default."""

    model_config = ConfigDict(extra="ignore")
    messages: list[Any] = Field(min_length=1)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2, allow_inf_nan=False)
    seed: int | None = Field(default=None, ge=0, le=2**63 - 1)
    logprobs: bool | None = None
    top_logprobs: int | None = Field(default=None, ge=0)


@dataclass(frozen=True)
class ChatRequest:
    request: Request
    params: tuple[int, float, int, int]  # max_tokens, temperature, seed, top_logprobs (0: none)
    logprobs: bool


def read_chat_request(body: bytes, limits: Limits) -> ChatRequest:
    """Validate a request body; raises BadRequest naming the first problem."""
    try:
        params = ChatParams.model_validate_json(body)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise BadRequest(f"{where + ': ' if where else ''}{first['msg']}") from None
    max_tokens = params.max_completion_tokens or params.max_tokens or 64
    if max_tokens > limits.max_tokens:
        raise BadRequest(f"max_tokens: {max_tokens} > this server's limit {limits.max_tokens}")
    if (params.top_logprobs or 0) > limits.max_logprobs:
        raise BadRequest(f"top_logprobs: {params.top_logprobs} > this server's limit {limits.max_logprobs}")
    logprobs = bool(params.logprobs)
    request = parse_messages(params.messages, limits)
    top_k = (params.top_logprobs or 0) if logprobs else 0
    return ChatRequest(request, (max_tokens, params.temperature or 0.0, params.seed or 0, top_k), logprobs)


def parse_messages(messages: Any, limits: Limits = Limits()) -> Request:
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
        pieces: list[str | None] = []
        for part in content:
            kind = part.get("type") if isinstance(part, dict) else None
            if kind == "text":
                text = part.get("text", "")
                if not isinstance(text, str):
                    raise BadRequest(f"messages[{k}]: a text part's 'text' must be a string")
                pieces.append(text)
            elif kind == "image_url":
                if len(images) == limits.max_images:
                    raise BadRequest(f"messages[{k}]: more than {limits.max_images} images in one request")
                url = part.get("image_url")
                images.append(_decode_data_url(url.get("url", "") if isinstance(url, dict) else "", k, limits))
                pieces.append(None)
            else:
                raise BadRequest(f"messages[{k}]: unsupported content part type {kind!r}")
        canonical.append({"role": role, "content": join_content(pieces)})  # `<image>\n` as LLaVA prompts
    return Request(images, canonical)


def _decode_data_url(url: Any, k: int, limits: Limits) -> Image.Image:
    header, _, data = url.partition(",") if isinstance(url, str) else ("", "", "")
    if not header.startswith("data:image/") or not header.endswith(";base64"):
        raise BadRequest(f"messages[{k}]: only base64 data URLs are accepted for images (no network)")
    try:
        opened = open_image(base64.b64decode(data, validate=True))
        check_pixels(*opened.size, limits.max_pixels)
        return decode_opened(opened)
    except binascii.Error as err:
        raise BadRequest(f"messages[{k}]: bad base64 image data: {err}") from None
    except ImageError as err:
        raise BadRequest(f"messages[{k}]: {err}") from None


async def read_body(stream: Any, declared: str | None, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it is known to exceed `limit` bytes."""
    too_large = BadRequest(f"request body larger than {limit} bytes", status=413)
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks, size = [], 0
    async for chunk in stream:
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)
