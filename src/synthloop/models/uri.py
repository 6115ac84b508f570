"""Model URIs (docs/design.md "Models") and `load_model`, which turns one into a loaded backend.

    builtin:PATH                  a TinyVLM checkpoint trained by synthloop
    hf:<hub id or local path>     a transformers model (image-text-to-text, causal LM, CLIP)
    openai:<base_url>#<model>     any OpenAI-compatible chat-completions server (vLLM, SGLang, ...)
    pkg:<name>                    a real model shipped in a pip package (see `models.backends.pkg.PACKAGED`)
    py:<module>:<factory>         a model written in Python: `factory(device=...)` returns it

Loaded models are kept per process, so several ops naming one URI share one copy.
"""

from __future__ import annotations

import importlib
import pkgutil
import threading
from typing import Any

from synthloop.models import backends
from synthloop.models.backends import ModelUri

# One module per scheme in `models/backends/`, named after it.
SCHEMES = tuple(sorted(info.name for info in pkgutil.iter_modules(backends.__path__)))


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
    if scheme == "py":
        module, _, factory = rest.partition(":")
        if not module or not factory.isidentifier():
            raise ValueError(f"model URI {uri!r}: expected py:<module>:<factory>")
    return ModelUri(scheme, rest)


_loaded: dict[tuple[str, str], Any] = {}
_lock = threading.Lock()


def load_model(uri: str, device: str = "auto", **options: Any) -> Any:
    """The backend object for `uri` (implementing the protocols in `models.protocols` it can).

    `device` is "cpu", "cuda", "cuda:N" or "auto" (CUDA when available); remote backends ignore it.
    `options` go to the backend's `load`: `batch_size` (requests per forward pass; backends that take one
    request per call refuse it), `concurrency` for `openai:`. Each set of options loads its own object.
    """
    parsed = parse_uri(uri)
    with _lock:
        key = (str(parsed), device, *sorted(options.items()))
        if key not in _loaded:
            _loaded[key] = _load(parsed, device, **options)
        return _loaded[key]


def load_fresh(uri: str, device: str = "auto", **options: Any) -> Any:
    """A new backend object for `uri`, not kept for later calls (a model used once, such as each loop
    round's checkpoint); close it (`close()`, where it has one) when done."""
    return _load(parse_uri(uri), device, **options)


def _load(uri: ModelUri, device: str, **options: Any) -> Any:
    return importlib.import_module(f"{backends.__name__}.{uri.scheme}").load(uri, device, **options)


def register_loaded(uri: str, model: Any, device: str = "auto") -> None:
    """Make `load_model(uri, device)` return an in-process `model` (stubs in tests, models built in code)."""
    with _lock:
        _loaded[(str(parse_uri(uri)), device)] = model
