"""The op registry: every module under `synthloop.ops.<kind>/` registers its op on import."""

from __future__ import annotations

import importlib
import pkgutil

from synthloop.ops.base import REGISTRY, Op

KIND_PACKAGES = ("mappers", "filters", "dedup", "select")


_loaded = False


def _load_all() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for kind in KIND_PACKAGES:
        package = importlib.import_module(f"synthloop.ops.{kind}")
        for info in pkgutil.iter_modules(package.__path__):
            importlib.import_module(f"{package.__name__}.{info.name}")


def op_class(name: str) -> type[Op]:
    """The op class registered under `name`; KeyError lists the known names."""
    _load_all()
    if name not in REGISTRY:
        raise KeyError(f"unknown op {name!r}; known ops: {', '.join(sorted(REGISTRY))}")
    return REGISTRY[name]

