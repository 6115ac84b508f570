"""Multiple-choice VQA: A-OKVQA.

Official schema (allenai/aokvqa README.md @ 83786de, `aokvqa_v1p0_train.json`): a list of
`{"split", "image_id", "question_id", "question", "choices", "correct_choice_idx",
"direct_answers", "difficult_direct_answer", "rationales"}`; images are COCO 2017 ids.

DataOptim (BAAI-DCAI/DataOptim example/example-byod.json @ 5899bb3, `aokvqa_dQbC9HGBPG3RCvpPWE4cWG`):
the prompt is `<image>\\nChoose the correct option for the following question: <question>\\nA. ...\\n
B. ...\\nC. ...\\nD. ...\\n` (a newline after the last option too), the reply `The correct option is
B.`, the id `aokvqa_<question_id>`, and the image the COCO 2014 file of that id
(`coco/COCO_val2014_000000133042.jpg`): `coco/COCO_train2014_*`, then `coco/COCO_val2014_*`, then
`coco_2017/*`, whichever is under `--images`. Choices, the gold letter, the ten direct answers and
the rationales go to `meta`.
"""

from __future__ import annotations

import string
from collections.abc import Iterator
from pathlib import Path

from synthloop.formats.common import Rejected
from synthloop.formats.ingest.common import RecordError, Where, dataoptim, field, int_field, one_turn, text_field
from synthloop.formats.ingest.registry import Context, each_item, register


def options_block(choices: list[str]) -> str:
    return "\n".join(dataoptim("option").format(letter=letter, text=text)
                     for letter, text in zip(string.ascii_uppercase, choices, strict=False))


def coco_2014_candidates(image_id: int) -> tuple[str, ...]:
    """Where a COCO 2017 image is in DataOptim's layout: the 2014 train or val file, or coco_2017."""
    return (f"coco/COCO_train2014_{image_id:012d}.jpg", f"coco/COCO_val2014_{image_id:012d}.jpg",
            f"coco_2017/{image_id:012d}.jpg")


@register("aokvqa", ("aokvqa_v1p0_train.json",), "coco/ (COCO_train2014_*, COCO_val2014_*) or coco_2017/")
def read_aokvqa(files: list[Path], ctx: Context) -> Iterator[dict | Rejected]:
    path = files[0]

    def convert(record: dict, where: Where) -> Iterator[dict]:
        qid = text_field(record, "question_id")
        choices = field(record, "choices")
        correct = record.get("correct_choice_idx")
        if not isinstance(choices, list) or not choices or len(choices) > 26:
            raise RecordError("field 'choices' must be a list of 1 to 26 options")
        if not isinstance(correct, int) or isinstance(correct, bool) or not 0 <= correct < len(choices):
            raise RecordError(f"'correct_choice_idx' {correct!r} does not name one of the {len(choices)} choices")
        image_id = int_field(record, "image_id")
        image = ctx.image(*coco_2014_candidates(image_id))
        choices = [str(c) for c in choices]
        letter = string.ascii_uppercase[correct]
        prompt = dataoptim("multiple_choice").format(question=text_field(record, "question"),
                                                     options=options_block(choices))
        meta = {"question_id": qid, "image_id": image_id, "choices": choices, "correct_choice_idx": correct,
                "answer": letter, "direct_answers": record.get("direct_answers") or [],
                "rationales": record.get("rationales") or []}
        yield one_turn(f"aokvqa_{qid}", image, prompt, dataoptim("correct_option").format(letter=letter),
                       task="mcvqa", qtype="aokvqa", source="aokvqa", meta=meta)

    yield from each_item(path, "item", "A-OKVQA questions", "question_id", convert)
