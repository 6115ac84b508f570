"""`py:MODULE:FACTORY` backend: a model written in Python in any importable module, for a model that is
neither a TinyVLM checkpoint, a transformers model, a server nor a packaged one (a user's own judge, a
rule-based scorer, a model in another framework).

    py:synthloop.lab.scene_judge.judge:load

`FACTORY(device=...)` returns an object implementing the protocols of `models.protocols` it can. Naming a
module imports it: name only modules you trust, as with any Python code a recipe runs.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from synthloop.models.backends import ModelUri
from synthloop.models.protocols import ModelError


def load(uri: ModelUri, device: str, batch_size: int | None = None) -> Any:
    """`factory(device=...)`, and `batch_size=` when the op sets it (the factory must take it)."""
    module_name, _, factory_name = uri.target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise ModelError(f"{uri}: cannot import module {module_name!r}: {err}") from None
    factory = getattr(module, factory_name, None)
    if not callable(factory):
        raise ModelError(f"{uri}: module {module_name!r} has no callable {factory_name!r}")
    if not batch_size:
        return factory(device=device)
    if "batch_size" not in inspect.signature(factory).parameters:
        raise ModelError(f"{uri}: {factory_name}() takes no batch_size, which the op sets")
    return factory(device=device, batch_size=batch_size)
