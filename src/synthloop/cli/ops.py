"""`synthloop ops [NAME]`: every op, its kind and its parameters, read from the ops' pydantic models."""

from __future__ import annotations

import typer
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined
from rich.console import Console
from rich.table import Table

from synthloop.cli.app import app, fail
from synthloop.ops import REGISTRY, op_class

KIND_ORDER = ("filter", "mapper", "dedup", "selector")


def _type_name(field: FieldInfo) -> str:
    return str(field.annotation).replace("typing.", "").replace("<class '", "").replace("'>", "")


def _default(field: FieldInfo) -> str:
    if field.default is PydanticUndefined and field.default_factory is None:
        return "(required)"
    return repr(field.get_default(call_default_factory=True))


def _doc(cls: type) -> str:
    return " ".join((cls.__doc__ or "").split())


@app.command()
def ops(name: str | None = typer.Argument(None, help="One op to describe (default: list every op).")) -> None:
    """List the ops a recipe can use: kind and parameters with their defaults (with NAME: types,
    descriptions and the op's documentation)."""
    op_class("classify")  # loads every op module
    out = Console()
    if name is None:
        table = Table(title="ops (synthloop ops NAME for one op's parameters)", title_justify="left")
        for column in ("op", "kind", "parameters (default)"):
            table.add_column(column)
        for op_name in sorted(REGISTRY, key=lambda n: (KIND_ORDER.index(REGISTRY[n].kind), n)):
            fields = REGISTRY[op_name].model_fields.items()
            table.add_row(op_name, REGISTRY[op_name].kind, ", ".join(f"{f}={_default(i)}" for f, i in fields))
        out.print(table)
        return
    if name not in REGISTRY:
        fail(f"unknown op {name!r}; known ops: {', '.join(sorted(REGISTRY))}")
    cls = REGISTRY[name]
    table = Table(title=f"{name} ({cls.kind})", caption=_doc(cls), title_justify="left", caption_justify="left")
    for column in ("parameter", "type", "default", "description"):
        table.add_column(column)
    for field_name, field in cls.model_fields.items():
        table.add_row(field_name, _type_name(field), _default(field), field.description or "")
    out.print(table)
