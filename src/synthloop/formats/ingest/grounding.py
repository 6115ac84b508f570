"""Grounding: RefCOCO, RefCOCO+ and RefCOCOg as REC and REG, from Shikra's JSONL annotations.

Shikra's `REC_ref3_train.jsonl` (shikras/shikra docs/data.md and
config/_base_/dataset/DEFAULT_TRAIN_DATASET.py @ ff79a4c) holds one referring expression per line:
`{"img_path": "COCO_train2014_....jpg", "expression", "bbox": [x1, y1, x2, y2] in pixels, ...}`.
Shikra's `RECDataset` and `REGDataset` (mllm/dataset/single_image_dataset/rec.py, reg.py) put the
expression (`<expr>`) or the box (`<objs>`) into a template drawn from
config/_base_/dataset/template/REC.json or REG.json (shipped here as templates/shikra_rec.json and
shikra_reg.json); the `<image>` stays where the template puts it.

DataOptim (BAAI-DCAI/DataOptim example/example-byod.json @ 5899bb3, `ref3rec_287603`,
`ref3reg_287603`): ids `ref3rec_<n>` / `ref3reg_<n>` numbering the lines from 0, image
`coco/<img_path>`, boxes `[0.0, 0.106, 0.827, 1.0]` normalised on the original image (README.md
@ c50a7c6), REC reply `<box>.`, REG reply the expression. The image size comes from the record's
`width`/`height` when it has them, else from the image header. The box goes to `meta.boxes`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from synthloop.formats.common import Rejected, iter_json_records
from synthloop.formats.ingest.common import (
    RecordError,
    Where,
    box_text,
    dataoptim,
    draw,
    field,
    one_turn,
    template_file,
    text_field,
)
from synthloop.formats.ingest.registry import Context, convert_each, register

FILES = ("REC_ref3_train.jsonl",)


def _lines(path: Path) -> Iterator[tuple[Where, object]]:
    for raw in iter_json_records(path):
        yield Where(path, raw.index), raw if isinstance(raw, Rejected) else raw.record


def _read(files: list[Path], ctx: Context, task: str) -> Iterator[dict | Rejected]:
    templates = template_file(f"shikra_{task}")["templates"]
    source = f"ref3{task}"

    def convert(record: dict, where: Where) -> Iterator[dict]:
        expression = text_field(record, "expression")
        pixels = field(record, "bbox")
        if not isinstance(pixels, list) or len(pixels) != 4 or not all(isinstance(v, int | float) for v in pixels):
            raise RecordError("field 'bbox' must be [x1, y1, x2, y2]")
        image = ctx.image(f"coco/{Path(text_field(record, 'img_path')).name}")
        width, height = record.get("width"), record.get("height")
        if not width or not height:
            try:
                width, height = ctx.images.size(image)
            except OSError as err:
                raise RecordError(f"cannot read the size of {image}: {err}") from None
        box, text = box_text(pixels, width, height)
        sample_id = f"{source}_{where.index - 1}"
        template = draw(templates, ctx.seed, sample_id)
        meta = {"boxes": [box], "expression": expression, "image_size": [width, height],
                "dataset_name": record.get("dataset_name", "")}
        if task == "rec":
            prompt, reply = template.replace("<expr>", expression), dataoptim("rec_answer").format(box=text)
        else:
            prompt, reply = template.replace("<objs>", text), expression
        yield one_turn(sample_id, image, prompt, reply, task=task, qtype=task, source=source, meta=meta,
                       image_first=False)

    yield from convert_each(_lines(files[0]), convert)


@register("ref3rec", FILES, "coco/ (COCO_train2014_*)")
def read_ref3rec(files: list[Path], ctx: Context) -> Iterator[dict | Rejected]:
    return _read(files, ctx, "rec")


@register("ref3reg", FILES, "coco/ (COCO_train2014_*)")
def read_ref3reg(files: list[Path], ctx: Context) -> Iterator[dict | Rejected]:
    return _read(files, ctx, "reg")
