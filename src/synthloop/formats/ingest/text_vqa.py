"""Text-rich VQA: TextVQA, OCR-VQA, DocVQA, DVQA (open-ended, DataOptim's short-answer prompt).

Every sample is `<image>\\n<question> Answer the question directly with a short sentence or phrase.`
and the answer, as in DataOptim's `example/example-byod.json` (BAAI-DCAI/DataOptim @ 5899bb3).

Official schemas and DataOptim's ids and images:
- TextVQA 0.5.1 (textvqa.org; read by haotian-liu/LLaVA llava/eval/eval_textvqa.py @ 524a75b):
  `{"data": [{"question_id", "question", "image_id", "answers": [10 strings], ...}]}`; DataOptim:
  `textvqa_<n>` numbering the questions from 0 (`textvqa_34601`, the last of 34,602), image
  `open_images/<image_id>.jpg`, reply the most frequent answer; all ten in `meta.answers`.
- OCR-VQA `dataset.json` (ocr-vqa.github.io; its loadDataset.py reads it): `{asin: {"imageURL",
  "questions", "answers", "title", "authorName", "genre", "split"}}`, split 1 train, 2 val, 3
  test; DataOptim: `ocrvqa_<n>` numbering the train questions from 0 (`ocrvqa_801672`, the last
  of 801,673), image `ocrvqa/<asin><extension of imageURL>`. `qtype` is `ocr`; `--split` train
  (1), val (2) or test (3).
- DocVQA (docvqa.org/datasets, task 1): `{"data": [{"questionId", "question", "image":
  "documents/<name>.png", "docId", "answers", "question_types", ...}]}`; image `docvqa/<name>.png`
  (DataOptim's layout); id `docvqa_<questionId>` (DataOptim's example lists no DocVQA id: assumed).
- DVQA (kushalkafle/DVQA_dataset README.md @ 53cff67): `[{"image", "question", "answer",
  "question_type", "bbox_answer", "question_id"}]`; image `dvqa/<image>`; id
  `dvqa_<question_id>` (assumed, as for DocVQA); `qtype` is the question type (structure, data,
  reasoning).
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import count
from pathlib import Path

from synthloop.formats.common import Rejected
from synthloop.formats.ingest.common import (
    RecordError,
    Where,
    field,
    most_common,
    one_turn,
    short_answer,
    text_field,
)
from synthloop.formats.ingest.registry import Context, each_item, each_pair, register


def _answers(record: dict, name: str) -> list[str]:
    values = field(record, name)
    if not isinstance(values, list) or not values:
        raise RecordError(f"field {name!r} must be a non-empty list of answers")
    return [str(value) for value in values]


@register("textvqa", ("TextVQA_0.5.1_train.json",), "open_images/")
def read_textvqa(files: list[Path], ctx: Context) -> Iterator[dict | Rejected]:
    path = files[0]

    def convert(record: dict, where: Where) -> Iterator[dict]:
        image_id = text_field(record, "image_id")
        answers = _answers(record, "answers")
        image = ctx.image(f"open_images/{image_id}.jpg")
        meta = {"question_id": record.get("question_id"), "image_id": image_id, "answers": answers}
        yield one_turn(f"textvqa_{where.index - 1}", image, short_answer(text_field(record, "question")),
                       most_common(answers), task="vqa", qtype="ocr", source="textvqa", meta=meta)

    yield from each_item(path, "data.item", "TextVQA questions", "question_id", convert)


OCRVQA_SPLITS = {"train": "1", "val": "2", "test": "3"}


@register("ocrvqa", ("dataset.json",), "ocrvqa/", split="train")
def read_ocrvqa(files: list[Path], ctx: Context) -> Iterator[dict | Rejected]:
    path = files[0]
    numbers = count()

    def convert(record: dict, where: Where) -> Iterator[dict]:
        if str(field(record, "split")) != OCRVQA_SPLITS.get(ctx.split or "", ctx.split):
            return
        questions, answers = field(record, "questions"), field(record, "answers")
        if not isinstance(questions, list) or not isinstance(answers, list) or len(questions) != len(answers):
            raise RecordError("'questions' and 'answers' must be lists of the same length")
        extension = Path(text_field(record, "imageURL")).suffix
        image = ctx.image(f"ocrvqa/{where.key}{extension}")
        meta = {"asin": where.key, "title": record.get("title"), "genre": record.get("genre")}
        for question, answer in zip(questions, answers, strict=True):
            yield one_turn(f"ocrvqa_{next(numbers)}", image, short_answer(str(question)), str(answer), task="vqa",
                           qtype="ocr", source="ocrvqa", meta={**meta, "answers": [str(answer)]})

    yield from each_pair(path, convert)


@register("docvqa", ("train_v1.0.json",), "docvqa/")
def read_docvqa(files: list[Path], ctx: Context) -> Iterator[dict | Rejected]:
    path = files[0]

    def convert(record: dict, where: Where) -> Iterator[dict]:
        qid = text_field(record, "questionId")
        answers = _answers(record, "answers")
        image = ctx.image(f"docvqa/{Path(text_field(record, 'image')).name}")
        types = record.get("question_types") or []
        meta = {"question_id": record["questionId"], "doc_id": record.get("docId"), "answers": answers,
                "question_types": types}
        yield one_turn(f"docvqa_{qid}", image, short_answer(text_field(record, "question")), answers[0],
                       task="vqa", qtype=str(types[0]) if types else "document", source="docvqa", meta=meta)

    yield from each_item(path, "data.item", "DocVQA questions", "questionId", convert)


@register("dvqa", ("train_qa.json",), "dvqa/")
def read_dvqa(files: list[Path], ctx: Context) -> Iterator[dict | Rejected]:
    path = files[0]

    def convert(record: dict, where: Where) -> Iterator[dict]:
        qid = text_field(record, "question_id")
        answer = text_field(record, "answer")
        image = ctx.image(f"dvqa/{text_field(record, 'image')}")
        meta = {"question_id": record["question_id"], "answers": [answer], "bbox_answer": record.get("bbox_answer")}
        yield one_turn(f"dvqa_{qid}", image, short_answer(text_field(record, "question")), answer, task="vqa",
                       qtype=str(record.get("question_type") or "chart"), source="dvqa", meta=meta)

    yield from each_item(path, "item", "DVQA questions", "question_id", convert)
