"""The ledger: where every input sample ended up, per op and in total, plus the audit rows.

`RUN_DIR/ledger.json`:
    {"input": N, "output": M, "dropped": D, "quarantined": Q, "added": A,
     "ops": [{"op", "in", "kept", "dropped", "quarantined", "added"}, ...],
     "dropped_path": ..., "quarantine_path": ...,
     "sources": [{"path", "available", "drawn"}, ...]}

Invariant, per op and in total: in + added = kept + dropped + quarantined (N + A = M + D + Q).
`added` counts the extra samples mappers emit (a sample mapped to 3 samples adds 2); it is 0
for filters, dedups and selectors, so for them in = kept + dropped + quarantined. The first
entry is the op "input": samples that fail validation or that the format reader rejects are
quarantined there. Each op's `in` is the previous op's `kept`. `sources` says, per recipe input,
how many items it had and how many a mixture drew (`engine.mixture`); `input` is their drawn sum.

Dropped samples are written with the canonical columns plus `op`, `op_index`, `reason`, `value`
(JSON text of what decided) and `survivor` (the sample a duplicate matched); quarantined ones
with `op`, `op_index` and `error`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import orjson
import pyarrow as pa

from synthloop.ops.base import Drop
from synthloop.sample import new_sample, to_table

INPUT_OP = "input"


@dataclass
class OpCounts:
    op: str
    in_: int = 0
    kept: int = 0
    dropped: int = 0
    quarantined: int = 0
    added: int = 0

    def add(self, other: dict) -> None:
        for field in ("in", "kept", "dropped", "quarantined", "added"):
            setattr(self, _attr(field), getattr(self, _attr(field)) + other.get(field, 0))

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["in"] = data.pop("in_")
        return {key: data[key] for key in ("op", "in", "kept", "dropped", "quarantined", "added")}

    def balanced(self) -> bool:
        return self.in_ + self.added == self.kept + self.dropped + self.quarantined


def _attr(field: str) -> str:
    return "in_" if field == "in" else field


class Ledger(dict):
    """The ledger as a plain dict (JSON-ready), with the invariant check at hand."""

    @classmethod
    def from_counts(cls, ops: list[OpCounts], output: int, dropped_path: str, quarantine_path: str) -> Ledger:
        ledger = cls(
            input=ops[0].in_ if ops else 0,
            output=output,
            dropped=sum(o.dropped for o in ops),
            quarantined=sum(o.quarantined for o in ops),
            added=sum(o.added for o in ops),
            ops=[o.as_dict() for o in ops],
            dropped_path=dropped_path,
            quarantine_path=quarantine_path,
        )
        ledger.check()
        return ledger

    def check(self) -> None:
        """Raise if any count does not add up (that would be an engine bug, never bad input)."""
        for entry in self["ops"]:
            if entry["in"] + entry["added"] != entry["kept"] + entry["dropped"] + entry["quarantined"]:
                raise RuntimeError(f"ledger does not add up for op {entry['op']!r}: {entry}")
        if self["input"] + self["added"] != self["output"] + self["dropped"] + self["quarantined"]:
            raise RuntimeError(f"ledger does not add up: {dict(self)}")


def survivor_of(drop: Drop) -> str | None:
    """The sample a dropped duplicate matched: `drop.survivor`, or `drop.value["survivor"]`."""
    survivor = getattr(drop, "survivor", None)
    if survivor is None and isinstance(drop.value, dict):
        survivor = drop.value.get("survivor")
    return survivor if isinstance(survivor, str) else None


def json_text(value: Any) -> str:
    """A decision value as JSON text (numpy numbers and arrays included; other objects as repr)."""
    return orjson.dumps(value, default=_fallback, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_SORT_KEYS).decode()


def _fallback(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return repr(value)


def audit_table(samples: list[dict], columns: dict[str, pa.Array]) -> pa.Table:
    """Canonical rows of `samples` plus audit `columns`; a sample too broken to store keeps its id
    and its content as JSON in `meta.record`."""
    try:
        table = to_table(samples)
    except (KeyError, TypeError, ValueError, AttributeError, pa.ArrowException):
        table = to_table([_storable(sample) for sample in samples])
    for name, array in columns.items():
        table = table.append_column(name, array)
    return table


def _storable(sample: Any) -> dict:
    try:
        to_table([sample])
        return sample
    except (KeyError, TypeError, ValueError, AttributeError, pa.ArrowException):
        sample_id = sample.get("id") if isinstance(sample, dict) else None
        return new_sample(sample_id if isinstance(sample_id, str) else "", [], meta={"record": json_text(sample)})


def dropped_table(rows: list[tuple[dict, int, str, str, str, str | None]]) -> pa.Table:
    """Rows of (sample, op_index, op, reason, value JSON, survivor)."""
    samples, op_index, op, reason, value, survivor = (list(col) for col in zip(*rows, strict=True))
    return audit_table(samples, {
        "op": pa.array(op, pa.string()),
        "op_index": pa.array(op_index, pa.int32()),
        "reason": pa.array(reason, pa.string()),
        "value": pa.array(value, pa.string()),
        "survivor": pa.array(survivor, pa.string()),
    })


def quarantine_table(rows: list[tuple[dict, int, str, str]]) -> pa.Table:
    """Rows of (sample, op_index, op, error)."""
    samples, op_index, op, error = (list(col) for col in zip(*rows, strict=True))
    return audit_table(samples, {
        "op": pa.array(op, pa.string()),
        "op_index": pa.array(op_index, pa.int32()),
        "error": pa.array(error, pa.string()),
    })
