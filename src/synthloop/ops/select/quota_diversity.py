"""`quota_diversity`: exact quotas per group, then k-center greedy on embeddings inside each group."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from synthloop.ops.base import register
from synthloop.ops.select.stratified import StratifiedSelector


@register
class QuotaDiversitySelector(StratifiedSelector):
    name: ClassVar[str] = "quota_diversity"
    within: Literal["random", "kcenter", "cluster"] = Field("kcenter", description="how to pick inside a group")
