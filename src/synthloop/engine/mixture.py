"""Mixtures: how many samples each recipe input gives, by weight or cap, drawn by the seed.

    inputs:
      - {format: llava, path: pool/vqav2.json, weight: 0.3}   # 30% of the source, rounded
      - {format: llava, path: pool/gqa.json, cap: 350000}      # at most 350k (Cambrian's per-source cap)
      - {format: llava, path: pool/llava.json}                 # all of it

An input with a weight or a cap is read twice: once for a compact key per item (8 bytes: a hash
of the seed, the item's position and its id), then again keeping exactly the `k` items with the
smallest keys, in file order (`k = round(weight * n)`, at most `cap`). The second pass streams, so
memory is the keys, never the samples; the same seed gives the same draw, and a draw does not
depend on the other inputs. What each source had and gave goes to the ledger's `sources`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np


def draw_count(available: int, weight: float | None, cap: int | None) -> int:
    wanted = available if weight is None else round(weight * available)
    return wanted if cap is None else min(wanted, cap)


def item_key(seed: int, position: int, sample_id: str | None) -> int:
    digest = hashlib.blake2b(f"{seed}\0{position}\0{sample_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def chosen_positions(ids: Iterable[str | None], seed: int, weight: float | None, cap: int | None) -> np.ndarray:
    """A boolean mask over the items: True for the drawn ones."""
    keys = np.fromiter((item_key(seed, position, sample_id) for position, sample_id in enumerate(ids)),
                       dtype=np.uint64)
    mask = np.zeros(len(keys), dtype=bool)
    mask[np.argsort(keys, kind="stable")[:draw_count(len(keys), weight, cap)]] = True
    return mask


def drawn(read: Callable[[], Iterator[Any]], id_of: Callable[[Any], str | None], seed: int,
          weight: float | None, cap: int | None, report: dict) -> Iterator[Any]:
    """The items of `read()` a mixture draws (all of them with neither weight nor cap); `report`
    receives `available` and `drawn` once the items are counted."""
    if weight is None and cap is None:
        count = 0
        for item in read():
            count += 1
            yield item
        report.update(available=count, drawn=count)
        return
    mask = chosen_positions((id_of(item) for item in read()), seed, weight, cap)
    report.update(available=len(mask), drawn=int(mask.sum()))
    for position, item in enumerate(read()):
        if position < len(mask) and mask[position]:
            yield item
