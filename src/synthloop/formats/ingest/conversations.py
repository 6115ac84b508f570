"""LLaVA-format instruction sets kept as they are: LLaVA-Instruct-150K, SVIT, ShareGPT4V, LLaVA-1.5's mix.

The records are LLaVA conversation JSON (`{id, image, conversations: [{from, value}]}`, read by
`synthloop.formats.llava`); their turns are kept verbatim, as DataOptim keeps them ("we keep the
prompts unchanged", BAAI-DCAI/DataOptim README.md @ c50a7c6). Ids are renumbered the way
DataOptim's files number them (example/example-byod.json @ 5899bb3): `llava_<n>` over
LLaVA-Instruct-150K (`llava_157711`, the last of 157,712) and `svit_<category>_<n>` per SVIT file,
the category being the first word of the file name (`svit_conversation_0`, `svit_detail_0`,
`svit_complex_0`, `svit_referring_0`). `sharegpt4v_<n>` and `llava_v1.5_<n>` follow the same rule
(DataOptim's example lists neither: assumed). The original id goes to `meta.original_id`.

Image paths stay as the file writes them, relative to `--images`, with one exception: a bare
COCO 2017 file name (`000000163917.jpg`, as LLaVA-Instruct-150K writes them) resolves to DataOptim's
`coco/COCO_train2014_*` or `coco/COCO_val2014_*` file of that id, or `coco_2017/`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from itertools import count
from pathlib import Path

from synthloop.formats import llava
from synthloop.formats.common import Rejected, iter_json_records
from synthloop.formats.ingest.common import RecordError, Where
from synthloop.formats.ingest.multiple_choice import coco_2014_candidates
from synthloop.formats.ingest.registry import Context, convert_each, register
from synthloop.sample import SampleError, validate_sample

BARE_COCO = re.compile(r"(\d{12})\.jpg")


def _read(files: list[Path], ctx: Context, prefix_of: Callable[[Path], str]) -> Iterator[dict | Rejected]:
    for path in files:
        yield from _read_file(path, ctx, prefix_of(path))


def _read_file(path: Path, ctx: Context, prefix: str) -> Iterator[dict | Rejected]:
    numbers = count()

    def convert(record: object, where: Where) -> Iterator[dict]:
        try:
            sample = llava.record_to_sample(record, f"{prefix}_{where.index - 1}", prefix)
        except ValueError as err:
            raise RecordError(str(err)) from None
        paths = [ctx.image(*_candidates(ref["path"])) for ref in sample["images"]]
        sample["meta"]["original_id"] = sample["id"]
        try:
            validate_sample(sample)
        except SampleError as err:
            raise RecordError(str(err).split(": ", 1)[-1]) from None
        turns = sum(1 for m in sample["messages"] if m["role"] == "user")
        yield {**sample, "id": f"{prefix}_{next(numbers)}", "images": [{"bytes": None, "path": p} for p in paths],
               "task": "dialogue", "qtype": "multi_turn" if turns > 1 else "single_turn"}

    items = ((Where(path, raw.index), raw if isinstance(raw, Rejected) else raw.record)
             for raw in iter_json_records(path))
    yield from convert_each(items, convert)


def svit_prefix(path: Path) -> str:
    """`svit_<first word of the file name>`: conversation.json -> svit_conversation."""
    return "svit_" + re.split(r"[_\W]", path.stem)[0]


def _candidates(path: str) -> tuple[str, ...]:
    bare = BARE_COCO.fullmatch(path)
    return coco_2014_candidates(int(bare.group(1))) if bare else (path,)


@register("llava", ("llava_instruct_150k.json",), "coco/ (COCO_train2014_*, COCO_val2014_*) or coco_2017/")
def read_llava(files: list[Path], ctx: Context) -> Iterator[dict | Rejected]:
    return _read(files, ctx, lambda path: "llava")


@register("svit", ("<category>*.json",), "the paths the files give", variadic=True)
def read_svit(files: list[Path], ctx: Context) -> Iterator[dict | Rejected]:
    return _read(files, ctx, svit_prefix)


@register("sharegpt4v", ("sharegpt4v_instruct_gpt4-vision_cap100k.json",), "the paths the file gives")
def read_sharegpt4v(files: list[Path], ctx: Context) -> Iterator[dict | Rejected]:
    return _read(files, ctx, lambda path: "sharegpt4v")


@register("llava_v1.5", ("llava_v1_5_mix665k.json",), "the paths the file gives")
def read_llava_mix(files: list[Path], ctx: Context) -> Iterator[dict | Rejected]:
    return _read(files, ctx, lambda path: "llava_v1.5")
