"""`genixer_generate`: an MLLM as a data generator (Genixer). The prompt is two-level: a
task-agnostic instruction ("give a question and answer about this image") plus a task suffix that
names one of Genixer's 9 task types. The reply must read `Question: ... Answer: ...` (several pairs
for dialogues), with boxes as normalised `[x1,y1,x2,y2]` (`;` between boxes) and points as `[x,y]`;
anything else is quarantined with the reason."""

from __future__ import annotations

import re
import zlib
from typing import ClassVar, Literal

from pydantic import Field

from synthloop.formats.boxes import find_boxes
from synthloop.models.protocols import Generator
from synthloop.ops.base import Batch, Mapper, Outcome, Quarantine, register
from synthloop.ops.model_op import ModelParams, image_requests
from synthloop.sample import IMAGE_TOKEN, derive_id, new_sample

INSTRUCTIONS = (
    "Look at the image and write a clear question about it together with its answer.",
    "Study the picture, then give one concise question and the answer to it.",
    "Examine the image and produce a direct question with a short answer.",
    "Inspect this image and come up with a simple question and its answer.",
    "After viewing the image, write a question a person might ask about it, and answer it.",
    "Review the image carefully and create a question-answer pair grounded in what it shows.",
)
SUFFIXES = {
    "common_vqa": "This is the Common VQA task.",
    "adversarial_vqa": "This is an Adversarial-based VQA task.",
    "mc_vqa": "This is a Multi-choice VQA task.",
    "multi_turn": ("This is a multi-turn dialogue task: design a conversation between you and a person asking "
                   "about this photo, answering as a visual assistant that sees the image."),
    "rec": ("This is a Referring Expression Comprehension (REC) task. The question will give an expression of a "
            "specific region of the image. Please provide the coordinates in the answer."),
    "reg": ("This is a Referring Expression Generation (REG) task. The purpose of REG is to generate a unique "
            "description for a specified location."),
    "pointqa": "This is a PointQA task.",
    "q_cba": ("This is a question-reasoning-answer task: answer with step-by-step reasoning that gives the box "
              "of every object it mentions, then the final answer."),
    "referential_dialogue": ("This is a referential dialogue task: a conversation whose questions and answers "
                             "refer to objects by their boxes."),
}
TASKS = {"common_vqa": "vqa", "adversarial_vqa": "vqa", "mc_vqa": "mcvqa", "multi_turn": "dialogue", "rec": "rec",
         "reg": "reg", "pointqa": "pointqa", "q_cba": "vqa", "referential_dialogue": "dialogue"}
TaskType = Literal["common_vqa", "adversarial_vqa", "mc_vqa", "multi_turn", "rec", "reg", "pointqa", "q_cba",
                   "referential_dialogue"]

_NUM = r"\s*(?:0|1|0?\.\d+|1\.0+)\s*"
POINT = re.compile(rf"\[({_NUM},{_NUM})\]")
PAIR = re.compile(r"Question:\s*(.+?)\s*Answer:\s*(.+?)\s*(?=Question:|\Z)", re.S)
OPTION = re.compile(r"(?:^|\s|\()([A-F])[.):]\s")


class ParseError(ValueError):
    pass


def parse_boxes(text: str) -> list[list[float]]:
    """Every normalised `[x1,y1,x2,y2]` box in `text` (`formats.boxes`: either dialect, several per
    bracket when joined by `;`), each checked to have x1 <= x2 and y1 <= y2."""
    boxes = find_boxes(text)
    for box in boxes:
        if box[0] > box[2] or box[1] > box[3]:
            raise ParseError(f"box {box} has x1 > x2 or y1 > y2")
    return boxes


def parse_generation(text: str, task_type: str) -> tuple[list[tuple[str, str]], dict]:
    """`Question: ... Answer: ...` pairs and the boxes/points they hold; ParseError says what is wrong."""
    pairs = [(q.strip(), a.strip()) for q, a in PAIR.findall(text)]
    if not pairs or not all(q and a for q, a in pairs):
        raise ParseError("no 'Question: ... Answer: ...' pair")
    if task_type not in ("multi_turn", "referential_dialogue"):
        pairs = pairs[:1]
    elif task_type == "multi_turn" and len(pairs) < 2:
        raise ParseError("a multi-turn dialogue needs at least two question-answer pairs")
    question_boxes = [b for q, _ in pairs for b in parse_boxes(q)]
    answer_boxes = [b for _, a in pairs for b in parse_boxes(a)]
    points = [[float(v) for v in p.split(",")] for q, _ in pairs for p in POINT.findall(q)]
    question, answer = pairs[0]
    if task_type == "rec" and (len(answer_boxes) != 1 or question_boxes):
        raise ParseError("REC needs an expression in the question and exactly one box in the answer")
    if task_type == "reg" and not question_boxes:
        raise ParseError("REG needs a box in the question")
    if task_type == "pointqa" and not (points or question_boxes):
        raise ParseError("PointQA needs a point or a box in the question")
    if task_type == "mc_vqa" and len(set(OPTION.findall(question))) < 2:
        raise ParseError("a multiple-choice question needs at least two lettered options")
    if task_type in ("q_cba", "referential_dialogue") and not (question_boxes or answer_boxes):
        raise ParseError(f"{task_type} needs boxes in the reasoning or dialogue")
    return pairs, {"question_boxes": question_boxes, "answer_boxes": answer_boxes, "points": points}


def instruction(task_type: str, key: str) -> str:
    """Two-level prompt: a task-agnostic instruction (picked by a stable hash of `key`) + task suffix."""
    return f"{INSTRUCTIONS[zlib.crc32(key.encode()) % len(INSTRUCTIONS)]} {SUFFIXES[task_type]}"


@register
class GenixerGenerate(ModelParams, Mapper):
    """Generates `n` samples of `task_type` per input image; `keep_parent` also passes the input on."""

    name: ClassVar[str] = "genixer_generate"
    protocol: ClassVar[type] = Generator
    pixels: ClassVar[int | None] = 0
    task_type: TaskType = Field("common_vqa", description="Genixer task type to generate")
    n: int = Field(1, description="samples generated per image")
    keep_parent: bool = Field(False, description="also pass the input sample on")
    max_new_tokens: int = Field(96, description="most tokens generated per reply")
    temperature: float = Field(0.0, description="sampling temperature; 0 is greedy")
    seed: int = Field(0, description="random seed for sampling")

    def process(self, batch: Batch) -> list[Outcome]:
        def build(i: int, sample: dict) -> list[dict]:
            return [{"role": "user", "content": f"{IMAGE_TOKEN}\n{instruction(self.task_type, sample['id'])}"}]

        rows, requests, hashes, failed = image_requests(batch, build)
        expanded = [(p, k) for p in range(len(rows)) for k in range(self.n)]
        generations = self.generate_cached([requests[p] for p, _ in expanded], [hashes[p] for p, _ in expanded],
                                           self.max_new_tokens, self.temperature, [self.seed + k for _, k in expanded])
        made: dict[int, list[dict]] = {row: [] for row in rows}
        errors: dict[int, list[str]] = {row: [] for row in rows}
        for (p, k), generation in zip(expanded, generations, strict=True):
            row = rows[p]
            try:
                made[row].append(self._sample(batch.samples[row], k, generation.text))
            except ParseError as err:
                errors[row].append(f"{err}: {generation.text[:120]!r}")
        outcomes: list[Outcome] = []
        for i, sample in enumerate(batch.samples):
            if i in failed:
                outcomes.append(failed[i])
            elif not made[i]:
                outcomes.append(Quarantine(f"genixer_generate: unparsable output ({errors[i][0]})"))
            else:
                outcomes.append(([sample] if self.keep_parent else []) + made[i])
        return outcomes

    def _sample(self, parent: dict, k: int, text: str) -> dict:
        pairs, grounding = parse_generation(text, self.task_type)
        messages = []
        for turn, (question, answer) in enumerate(pairs):
            messages.append({"role": "user", "content": f"{IMAGE_TOKEN}\n{question}" if turn == 0 else question})
            messages.append({"role": "assistant", "content": answer})
        meta = {"parent": parent["id"], "generator": self.model, "genixer_task": self.task_type, **grounding}
        return new_sample(derive_id(parent["id"], self.name, k), messages, images=parent["images"][:1],
                          task=TASKS[self.task_type], qtype=self.task_type,
                          source=parent["source"], meta=meta)
