"""Captioning: COCO 2014 captions, the Karpathy splits of COCO and Flickr30K, TextCaps.

DataOptim (BAAI-DCAI/DataOptim README.md @ c50a7c6) draws one of its five captioning prompts for
each caption; its `example/example-byod.json` (@ 5899bb3) shows the records: id `<source>_<n>`
numbering the captions in file order from 0, the prompt after `<image>\\n`, the caption verbatim
(`coco_0` is the first annotation of `captions_train2014.json`, `flickr30k_0` the first sentence of
the first Karpathy train image, `textcaps_0` the first `data` entry of TextCaps' train file).

Official schemas read here:
- COCO captions (cocodataset.org/#format-data; read by cocodataset/cocoapi
  PythonAPI/pycocotools/coco.py @ 815c359): `{"images": [...], "annotations": [{"image_id", "id",
  "caption"}]}`; images `coco/COCO_<split>_<image_id:012d>.jpg` (`--split`, default train2014).
- Karpathy splits (`dataset_coco.json`, `dataset_flickr30k.json` of caption_datasets.zip):
  `{"images": [{"filename", "split", "sentences": [{"raw", "tokens", "sentid"}], "cocoid"?}]}`;
  `--split` picks Karpathy splits (comma-separated; default `train`); images `coco/<filename>`,
  `flickr30k/<filename>`.
- TextCaps 0.1 (textvqa.org/textcaps): `{"data": [{"image_id", "caption_id", "caption_str",
  "reference_strs", ...}]}`; images `open_images/<image_id>.jpg`.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import count
from pathlib import Path

from synthloop.formats.common import Rejected
from synthloop.formats.ingest.common import Where, dataoptim, draw, field, int_field, one_turn, text_field
from synthloop.formats.ingest.registry import Context, each_item, register


def caption_sample(sample_id: str, image: str, caption: str, source: str, meta: dict, seed: int) -> dict:
    prompt = draw(dataoptim("captioning"), seed, sample_id)
    return one_turn(sample_id, image, prompt, caption.strip(), task="caption", qtype="caption", source=source,
                    meta=meta)


@register("coco", ("captions_train2014.json",), "coco/", split="train2014")
def read_coco(files: list[Path], ctx: Context) -> Iterator[dict | Rejected]:
    path = files[0]

    def convert(record: dict, where: Where) -> Iterator[dict]:
        image_id = int_field(record, "image_id")
        image = ctx.image(f"coco/COCO_{ctx.split}_{image_id:012d}.jpg")
        meta = {"image_id": image_id, "caption_id": record.get("id")}
        yield caption_sample(f"coco_{where.index - 1}", image, text_field(record, "caption"), "coco", meta,
                             ctx.seed)

    yield from each_item(path, "annotations.item", "caption annotations", "id", convert)


def _karpathy(files: list[Path], ctx: Context, source: str, folder: str) -> Iterator[dict | Rejected]:
    path = files[0]
    splits = set((ctx.split or "train").split(","))
    numbers = count()

    def convert(record: dict, where: Where) -> Iterator[dict]:
        if field(record, "split") not in splits:
            return
        sentences = field(record, "sentences")
        image = ctx.image(f"{folder}/{text_field(record, 'filename')}")
        raws = [text_field(sentence, "raw") for sentence in sentences]
        for sentence, raw in zip(sentences, raws, strict=True):
            meta = {"image_id": record.get("cocoid", record.get("imgid")), "sentid": sentence.get("sentid"),
                    "split": record["split"], "references": raws}
            yield caption_sample(f"{source}_{next(numbers)}", image, raw, source, meta, ctx.seed)

    yield from each_item(path, "images.item", "Karpathy images", "filename", convert)


@register("coco_karpathy", ("dataset_coco.json",), "coco/", split="train")
def read_coco_karpathy(files: list[Path], ctx: Context) -> Iterator[dict | Rejected]:
    return _karpathy(files, ctx, "coco_karpathy", "coco")


@register("flickr30k", ("dataset_flickr30k.json",), "flickr30k/", split="train")
def read_flickr30k(files: list[Path], ctx: Context) -> Iterator[dict | Rejected]:
    return _karpathy(files, ctx, "flickr30k", "flickr30k")


@register("textcaps", ("TextCaps_0.1_train.json",), "open_images/")
def read_textcaps(files: list[Path], ctx: Context) -> Iterator[dict | Rejected]:
    path = files[0]

    def convert(record: dict, where: Where) -> Iterator[dict]:
        image_id = text_field(record, "image_id")
        image = ctx.image(f"open_images/{image_id}.jpg")
        meta = {"image_id": image_id, "caption_id": record.get("caption_id"),
                "references": record.get("reference_strs") or []}
        yield caption_sample(f"textcaps_{where.index - 1}", image, text_field(record, "caption_str"), "textcaps",
                             meta, ctx.seed)

    yield from each_item(path, "data.item", "TextCaps captions", "caption_id", convert)
