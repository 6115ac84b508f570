"""A-OKVQA JSON (a list of questions with 4 choices, `correct_choice_idx` and 10 direct answers)."""

from __future__ import annotations

import string
from collections import Counter
from pathlib import Path
from typing import Literal

from synthloop.evaluate.benchmarks.common import (
    OPTION_LETTER,
    SHORT_ANSWER,
    field,
    load_json,
    options_block,
    question_sample,
)


def read_aokvqa(path: str | Path, split: str = "val", setting: Literal["mc", "da"] = "mc") -> list[dict]:
    """Multiple choice (`mcvqa`, gold letter in `meta["answer"]`, scored by choice text,
    `meta["metric"] = "aokvqa_mc"`) or direct answer (`vqa`, `meta["metric"] = "aokvqa_da"`, only the
    questions whose `difficult_direct_answer` is False, as allenai's eval_predictions.py keeps them).

    Images are COCO 2017 paths `<split>2017/<image_id:012d>.jpg`. `qtype` is the DataEngine class
    `question_type` when the file has one (its classified validation set), else `aokvqa`.
    """
    samples = []
    for i, record in enumerate(load_json(path)):
        where = f"{path}: question {i}"
        qid = field(record, "question_id", where)
        if setting == "da" and field(record, "difficult_direct_answer", where) is not False:
            continue
        question = field(record, "question", where)
        choices = field(record, "choices", where)
        meta = {"question_id": qid, "image_id": field(record, "image_id", where), "choices": choices,
                "difficult_direct_answer": record.get("difficult_direct_answer", False)}
        direct_answers = record.get("direct_answers")
        if direct_answers:
            meta["direct_answers"] = direct_answers
        image = {"bytes": None, "path": f"{split}2017/{int(meta['image_id']):012d}.jpg"}
        qtype = record.get("question_type", "aokvqa")
        if setting == "mc":
            answer = None
            if record.get("correct_choice_idx") is not None:
                answer = string.ascii_uppercase[record["correct_choice_idx"]]
                meta.update(answer=answer, correct_choice_idx=record["correct_choice_idx"])
            meta.update(options=list(choices), metric="aokvqa_mc")
            samples.append(question_sample(f"aokvqa_{qid}", f"{question}\n{options_block(choices)}", answer,
                                           image=image, task="mcvqa", qtype=qtype, source="aokvqa", meta=meta,
                                           instruction=OPTION_LETTER))
        else:
            meta.update(metric="aokvqa_da", answers=direct_answers or [])
            answer = Counter(direct_answers).most_common(1)[0][0] if direct_answers else None
            samples.append(question_sample(f"aokvqa_da_{qid}", question, answer, image=image, task="vqa",
                                           qtype=qtype, source="aokvqa", meta=meta, instruction=SHORT_ANSWER))
    return samples
