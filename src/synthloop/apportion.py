"""Largest-remainder apportionment: a whole number split into integer parts in given proportions.

One rule for every budget split: the `stratified` selector's quotas and the loop's uniform
allocation of synthesis over question types.
"""

from __future__ import annotations

import math


def largest_remainder(weights: dict[str, float], total: int, capacity: dict[str, int] | None = None) -> dict[str, int]:
    """Split `total` into integers proportional to `weights`, none above its `capacity`.

    The parts add up to `min(total, capacity of the weighted groups)`; remainders go to the largest
    fractional parts, ties broken by group name.
    """
    quotas = {group: 0 for group in weights}
    open_groups = {g for g, w in weights.items() if w > 0 and (capacity is None or capacity.get(g, 0) > 0)}
    left = total if capacity is None else min(total, sum(capacity.get(g, 0) for g in open_groups))
    while left > 0 and open_groups:
        weight_sum = sum(weights[g] for g in open_groups)
        raw = {g: left * weights[g] / weight_sum for g in open_groups}
        share = {g: math.floor(raw[g]) for g in open_groups}
        by_remainder = sorted(open_groups, key=lambda g: (-(raw[g] - share[g]), g))
        for g in by_remainder[: left - sum(share.values())]:
            share[g] += 1
        for g in open_groups:
            room = share[g] if capacity is None else min(share[g], capacity[g] - quotas[g])
            quotas[g] += room
            left -= room
        if capacity is not None:
            open_groups = {g for g in open_groups if quotas[g] < capacity[g]}
    return quotas
