"""Model URIs (DESIGN.md "Models") and `load_model`, which turns one into a loaded backend.

    builtin:PATH                  a TinyVLM checkpoint trained by synthloop
    hf:<hub id or local path>     a transformers model (image-text-to-text, causal LM, CLIP)
    openai:<base_url>#<model>     any OpenAI-compatible chat-completions server (vLLM, SGLang, ...)
    pkg:<name>                    a real model shipped in a pip package (see `models.pkg.PACKAGED`)

Loaded models are kept per process, so several ops naming one URI share one copy.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from synthloop.models.protocols import ModelError

SCHEMES = ("builtin", "hf", "openai", "pkg")


@dataclass(frozen=True)
class ModelUri:
    scheme: str
    target: str
    model: str = ""  # openai: the served model name after '#'

    def __str__(self) -> str:
        return f"{self.scheme}:{self.target}" + (f"#{self.model}" if self.model else "")


def parse_uri(uri: str) -> ModelUri:
    """Split and check a model URI; ValueError says what is wrong with it."""
    scheme, sep, rest = uri.partition(":")
    if not sep or scheme not in SCHEMES:
        raise ValueError(f"model URI {uri!r}: expected one of {', '.join(s + ':' for s in SCHEMES)}...")
    if not rest:
        raise ValueError(f"model URI {uri!r}: nothing after '{scheme}:'")
    if scheme == "openai":
        base_url, _, model = rest.rpartition("#")
        if not base_url or not model or not base_url.startswith(("http://", "https://")):
            raise ValueError(f"model URI {uri!r}: expected openai:<http(s) base_url>#<model>")
        return ModelUri(scheme, base_url.rstrip("/"), model)
    return ModelUri(scheme, rest)


_loaded: dict[tuple[str, str], Any] = {}
_lock = threading.Lock()


def load_model(uri: str, device: str = "auto") -> Any:
    """The backend object for `uri` (implementing the protocols in `models.protocols` it can).

    `device` is "cpu", "cuda", "cuda:N" or "auto" (CUDA when available); remote backends ignore it.
    """
    parsed = parse_uri(uri)
    with _lock:
        key = (str(parsed), device)
        if key not in _loaded:
            _loaded[key] = _load(parsed, device)
        return _loaded[key]


def _load(uri: ModelUri, device: str) -> Any:
    if uri.scheme == "builtin":
        from synthloop.models.builtin import BuiltinModel

        return BuiltinModel(uri.target, device=device)
    if uri.scheme == "hf":
        from synthloop.models.hf import load_hf

        return load_hf(uri.target, device=device)
    if uri.scheme == "openai":
        from synthloop.models.openai import OpenAIChatModel

        return OpenAIChatModel(uri.target, uri.model)
    from synthloop.models.pkg import load_packaged

    return load_packaged(uri.target, device=device)


def register_loaded(uri: str, model: Any, device: str = "auto") -> None:
    """Make `load_model(uri, device)` return an in-process `model` (stubs in tests, models built in code)."""
    with _lock:
        _loaded[(str(parse_uri(uri)), device)] = model
