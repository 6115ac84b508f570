"""Scene VQA on Visual Genome images: GQA (balanced questions) and Visual Genome QA.

Both use DataOptim's short-answer prompt, `<image>\\n<question> Answer the question directly with a
short sentence or phrase.`, and images `visual_genome/<image id>.jpg` (BAAI-DCAI/DataOptim README.md
@ c50a7c6; example/example-byod.json @ 5899bb3).

- GQA (cs.stanford.edu/people/dorarad/gqa; `train_balanced_questions.json`): `{question_id:
  {"imageId", "question", "answer", "fullAnswer", "types": {"structural", "semantic", "detailed"},
  ...}}`. DataOptim: id `gqa_<question_id>` (`gqa_05145757`), reply the full answer ("The player
  wears a shirt."); the short answer is the gold in `meta.answers`. `qtype` is the structural type
  (verify, query, choose, logical, compare).
- Visual Genome QA (`question_answers.json`, read by ranjaykrishna/visual_genome_python_driver
  visual_genome/local.py @ 23b5a94 `get_all_qas`): `[{"id": image_id, "qas": [{"qa_id", "image_id",
  "question", "answer", "q_objects", "a_objects"}]}]`. Id `vgqa_<qa_id>` (DataOptim's example lists
  no VGQA id: assumed); `qtype` is the question word (what, where, when, who, why, how: VG's six W).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from synthloop.formats.common import Rejected
from synthloop.formats.ingest.common import (
    RecordError,
    Where,
    field,
    one_turn,
    short_answer,
    text_field,
)
from synthloop.formats.ingest.registry import Context, each_item, each_pair, register

SIX_W = ("what", "where", "when", "who", "why", "how")


@register("gqa", ("train_balanced_questions.json",), "visual_genome/")
def read_gqa(files: list[Path], ctx: Context) -> Iterator[dict | Rejected]:
    path = files[0]

    def convert(record: dict, where: Where) -> Iterator[dict]:
        image = ctx.image(f"visual_genome/{text_field(record, 'imageId')}.jpg")
        answer, full = text_field(record, "answer"), text_field(record, "fullAnswer")
        types = record.get("types") or {}
        meta = {"question_id": where.key, "image_id": record["imageId"], "answers": [answer], "full_answer": full,
                "types": types}
        yield one_turn(f"gqa_{where.key}", image, short_answer(text_field(record, "question")), full, task="vqa",
                       qtype=str(types.get("structural") or ""), source="gqa", meta=meta)

    yield from each_pair(path, convert)


def question_word(question: str) -> str:
    first = question.strip().split(maxsplit=1)[0].lower() if question.strip() else ""
    return first if first in SIX_W else "other"


@register("vgqa", ("question_answers.json",), "visual_genome/")
def read_vgqa(files: list[Path], ctx: Context) -> Iterator[dict | Rejected]:
    path = files[0]

    def convert(record: dict, where: Where) -> Iterator[dict]:
        qas = field(record, "qas") if record.get("qas") != [] else []
        if not isinstance(qas, list):
            raise RecordError("field 'qas' must be a list")
        if not qas:
            return
        image = ctx.image(f"visual_genome/{text_field(record, 'id')}.jpg")
        for qa in qas:
            question, answer = text_field(qa, "question"), text_field(qa, "answer")
            meta = {"qa_id": qa.get("qa_id"), "image_id": record["id"], "answers": [answer]}
            yield one_turn(f"vgqa_{text_field(qa, 'qa_id')}", image, short_answer(question), answer, task="vqa",
                           qtype=question_word(question), source="vgqa", meta=meta)

    yield from each_item(path, "item", "Visual Genome images with QAs", "id", convert)
