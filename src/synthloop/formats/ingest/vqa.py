"""Open-ended VQA on COCO: VQAv2 and OK-VQA (questions file + annotations file).

Official schema (GT-Vision-Lab/VQA PythonHelperTools/vqaTools/vqa.py @ 5e7e7df, visualqa.org/download):
questions `{"data_subtype", "questions": [{"image_id", "question", "question_id"}]}`, annotations
`{"annotations": [{"question_id", "image_id", "question_type", "answer_type",
"multiple_choice_answer", "answers": [{"answer", "answer_confidence", "answer_id"}]}]}`. OK-VQA
(okvqa.allenai.org) ships the same two files (`OpenEnded_mscoco_train2014_questions.json`,
`mscoco_train2014_annotations.json`) with 10 answers, a `question_type` category code and no
`multiple_choice_answer`.

DataOptim (example/example-byod.json @ 5899bb3): id `<source>_<question_id>` (`vqav2_524286005`,
`okvqa_5227415`), image `coco/COCO_train2014_<image_id:012d>.jpg`, prompt `<image>\\n<question> Answer
the question directly with a short sentence or phrase.`, reply the most frequent answer (VQAv2's
`multiple_choice_answer`; OK-VQA's most frequent of its ten). All ten answers go to `meta.answers`;
`qtype` is the answer type (VQAv2: yes/no, number, other) or OK-VQA's question category.

Both files are streamed side by side: the official files list the same questions in the same
order, so memory stays flat; questions out of step are held until their partner comes.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import zip_longest
from pathlib import Path
from typing import Any

from synthloop.formats.common import Rejected
from synthloop.formats.ingest.common import (
    RecordError,
    Where,
    field,
    int_field,
    most_common,
    one_turn,
    require_items,
    short_answer,
    text_field,
    texts,
)
from synthloop.formats.ingest.registry import Context, convert_each, register


def joined(questions_path: Path, annotations_path: Path) -> Iterator[tuple[Where, Any]]:
    """(Where, (question, annotation)) by question_id; a question without an annotation (or the
    reverse) comes out with None for its partner."""
    questions = require_items(questions_path, "questions.item", "questions")
    annotations = require_items(annotations_path, "annotations.item", "annotations")
    waiting_q: dict[Any, tuple[int, dict]] = {}
    waiting_a: dict[Any, tuple[int, dict]] = {}
    index = a_index = 0
    for question, annotation in zip_longest(questions, annotations):
        if not waiting_q and not waiting_a:  # the official files: both in step, every item an object
            try:
                qid = question["question_id"]
                in_step = annotation["question_id"] == qid
            except (TypeError, KeyError):
                in_step = False
            if in_step:
                index += 1
                a_index += 1
                yield Where(questions_path, index, str(qid)), (question, annotation)
                continue
        if question is not None:
            index += 1
            qid = question.get("question_id") if isinstance(question, dict) else ("#", index)
            if qid in waiting_a:
                yield Where(questions_path, index, str(qid)), (question, waiting_a.pop(qid)[1])
            elif isinstance(annotation, dict) and annotation.get("question_id") == qid:
                a_index += 1
                yield Where(questions_path, index, str(qid)), (question, annotation)
                continue
            else:
                waiting_q[qid] = (index, question)
        if annotation is not None:
            a_index += 1
            aid = annotation.get("question_id") if isinstance(annotation, dict) else ("#", a_index)
            if aid in waiting_q:
                number, waiting = waiting_q.pop(aid)
                yield Where(questions_path, number, str(aid)), (waiting, annotation)
            else:
                waiting_a[aid] = (a_index, annotation)
    for qid, (number, question) in waiting_q.items():
        yield Where(questions_path, number, str(qid)), (question, None)
    for aid, (number, annotation) in waiting_a.items():
        yield Where(annotations_path, number, str(aid)), (None, annotation)


def _read(files: list[Path], ctx: Context, source: str) -> Iterator[dict | Rejected]:
    answer_type = "answer_type" if source == "vqav2" else "question_type"

    def convert(pair: tuple[dict | None, dict | None], where: Where) -> list[dict]:
        question, note = pair
        if note is None:
            raise RecordError(f"question_id {where.key}: no annotation (a question without an answer)")
        if question is None:
            raise RecordError(f"question_id {where.key}: an annotation without a question in {files[0]}")
        qid = field(question, "question_id")
        image_id = int_field(question, "image_id")
        answers = texts(field(note, "answers"), "answer", "'answers'")
        meta = {"question_id": qid, "image_id": image_id, "answers": answers,
                "question_type": note.get("question_type", ""), "answer_type": note.get("answer_type", "")}
        reply = note.get("multiple_choice_answer") or most_common(answers)
        image = ctx.image(f"coco/COCO_{ctx.split}_{str(image_id).zfill(12)}.jpg")
        return [one_turn(f"{source}_{qid}", image, short_answer(text_field(question, "question")), reply, task="vqa",
                         qtype=str(note.get(answer_type) or ""), source=source, meta=meta)]

    yield from convert_each(joined(files[0], files[1]), convert)


@register("vqav2", ("v2_OpenEnded_mscoco_train2014_questions.json", "v2_mscoco_train2014_annotations.json"), "coco/",
          split="train2014")
def read_vqav2(files: list[Path], ctx: Context) -> Iterator[dict | Rejected]:
    return _read(files, ctx, "vqav2")


@register("okvqa", ("OpenEnded_mscoco_train2014_questions.json", "mscoco_train2014_annotations.json"), "coco/",
          split="train2014")
def read_okvqa(files: list[Path], ctx: Context) -> Iterator[dict | Rejected]:
    return _read(files, ctx, "okvqa")
