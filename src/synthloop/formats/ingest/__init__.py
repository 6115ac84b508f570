"""Readers that turn public datasets' official annotation files into canonical samples, following
DataOptim's conversions (templates, ids, image layout); one module per dataset family, each
registered by name in `registry.DATASETS`."""

from synthloop.formats.ingest import (  # noqa: F401  (registers the datasets)
    captions,
    conversations,
    grounding,
    multiple_choice,
    scene_vqa,
    science_qa,
    text_vqa,
    vqa,
)
from synthloop.formats.ingest.registry import DATASETS, ingest

__all__ = ["DATASETS", "ingest"]
