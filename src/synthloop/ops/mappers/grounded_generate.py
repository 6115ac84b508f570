"""`grounded_generate`: MLLM-DataEngine's targeted generation. The generator sees the image's
captions and object boxes as text (and the image itself when `with_image`), plus two bad cases of
the target question type as in-context examples, and writes ONE single-choice question with four
options, the answer and an explanation. DataEngine's post-filters then apply (format, four distinct
options, the answer among them, an explanation), and the options are rotated so the correct letter
is spread evenly over A-D. Output in QMA, QMAE or A-OKVQA style."""

from __future__ import annotations

import re
import zlib
from typing import ClassVar, Literal

from pydantic import Field

from synthloop.models.protocols import Generator
from synthloop.formats.prompts import OPTION_LETTER
from synthloop.ops.base import Batch, Mapper, Outcome, Quarantine, register
from synthloop.ops.model_op import ModelParams, first_qa, image_requests
from synthloop.sample import IMAGE_TOKEN, derive_id, new_sample

LETTERS = "ABCD"
PROMPT = """You are writing training data for a vision-language model. The image is described below by captions and by object boxes (normalised [x1, y1, x2, y2]).
Captions:
{captions}
Objects:
{objects}
Questions of type "{qtype}" that the model answered wrongly:
{examples}
Write ONE new single-choice question of type "{qtype}" about this image that tests the same skill. Use exactly this format:
Question: <question>
Options: (A) <option> (B) <option> (C) <option> (D) <option>
Answer: (<letter>)
Explanation: <why the answer is right>"""
FORMAT = re.compile(r"Question:\s*(?P<q>.+?)\s*Options:\s*(?P<o>.+?)\s*Answer:\s*\(?(?P<a>[A-D])\)?[^\n]*?"
                    r"(?:\s*Explanation:\s*(?P<e>.+))?\s*$", re.S)
OPTION = re.compile(r"\(([A-D])\)\s*(.+?)\s*(?=\([A-D]\)|$)", re.S)


class FilterError(ValueError):
    pass


def parse_mc(text: str, need_explanation: bool) -> tuple[str, list[str], int, str]:
    """(question, four options, answer index, explanation); FilterError names the failed check."""
    found = FORMAT.search(text.strip())
    if not found:
        raise FilterError("not in the Question/Options/Answer/Explanation format")
    options = dict(OPTION.findall(found["o"]))
    if sorted(options) != list(LETTERS):
        raise FilterError(f"needs options (A)-(D), got {sorted(options)}")
    values = [options[letter].strip() for letter in LETTERS]
    if not all(values) or len({v.lower() for v in values}) < 4:
        raise FilterError("options must be four distinct non-empty answers")
    explanation = (found["e"] or "").strip()
    if need_explanation and not explanation:
        raise FilterError("no explanation")
    return found["q"].strip(), values, LETTERS.index(found["a"]), explanation


def rotate(options: list[str], answer: int, target: int) -> tuple[list[str], int]:
    """Rotate so the answer sits at `target` (keeps the distractors' order)."""
    shift = (target - answer) % len(options)
    return options[-shift:] + options[:-shift] if shift else options, target


def describe(sample: dict) -> tuple[str, str]:
    """Captions and object lines from the sample's meta (world scenes, COCO-style annotations)."""
    meta = sample["meta"]
    captions = meta.get("captions") or ([meta["caption"]] if meta.get("caption") else [])
    if not captions and sample["task"] == "caption" and (qa := first_qa(sample)):
        captions = [qa[1]]
    lines = []
    for obj in meta.get("objects") or []:
        name = obj.get("name") or obj.get("label") or obj.get("category") or "object"
        box = obj.get("box") or obj.get("bbox")
        lines.append(f"- {name}" + (f" [{', '.join(f'{v:.3f}' for v in box)}]" if box else ""))
    return "\n".join(f"- {c}" for c in captions) or "- (none)", "\n".join(lines) or "- (none)"


def example_text(sample: dict) -> str:
    qa = first_qa(sample)
    return f"Question: {qa[0]}\nAnswer: {qa[1]}" if qa else ""


@register
class GroundedGenerate(ModelParams, Mapper):
    """`bad_cases` maps a qtype to canonical samples the model got wrong; the target qtype is `qtype`
    or, when empty, each input sample's own qtype."""

    name: ClassVar[str] = "grounded_generate"
    protocol: ClassVar[type] = Generator
    pixels: ClassVar[int | None] = 0
    qtype: str = Field("", description="target question type; empty: each sample's own qtype")
    bad_cases: dict[str, list[dict]] = Field({}, description="qtype -> samples the model got wrong, shown as examples")
    style: Literal["qma", "qmae", "aokvqa"] = Field("qmae", description="output style: QMA, QMAE or A-OKVQA")
    with_image: bool = Field(True, description="show the generator the image, not only its captions and boxes")
    max_new_tokens: int = Field(160, description="most tokens generated per reply")
    temperature: float = Field(0.0, description="sampling temperature; 0 is greedy")
    seed: int = Field(0, description="random seed for sampling")

    def _prompt(self, sample: dict) -> str:
        qtype = self.qtype or sample["qtype"] or "general"
        cases = self.bad_cases.get(qtype, [])
        start = zlib.crc32(sample["id"].encode()) % max(1, len(cases))
        chosen = (cases[start:] + cases[:start])[:2]
        examples = "\n".join(f"Example {k + 1}:\n{example_text(c)}" for k, c in enumerate(chosen)) or "(none yet)"
        captions, objects = describe(sample)
        return PROMPT.format(captions=captions, objects=objects, qtype=qtype, examples=examples)

    def process(self, batch: Batch) -> list[Outcome]:
        def build(i: int, sample: dict) -> list[dict]:
            return [{"role": "user", "content": (f"{IMAGE_TOKEN}\n" if self.with_image else "") + self._prompt(sample)}]

        rows, requests, hashes, failed = image_requests(batch, build)
        generations = self.generate_cached(requests, hashes, self.max_new_tokens, self.temperature,
                                           [self.seed] * len(rows))
        outcomes: list[Outcome] = [failed.get(i, Quarantine("grounded_generate: not generated"))
                                   for i in range(len(batch))]
        for row, generation in zip(rows, generations, strict=True):
            try:
                outcomes[row] = [self._sample(batch.samples[row], generation.text)]
            except FilterError as err:
                outcomes[row] = Quarantine(f"grounded_generate: {err}: {generation.text[:120]!r}")
        return outcomes

    def _sample(self, parent: dict, text: str) -> dict:
        question, options, answer, explanation = parse_mc(text, need_explanation=self.style != "qma")
        new_id = derive_id(parent["id"], self.name)
        options, answer = rotate(options, answer, zlib.crc32(new_id.encode()) % 4)
        meta = {"parent": parent["id"], "generator": self.model, "style": self.style, "choices": options,
                "answer_index": answer, "explanation": explanation}
        listing = "\n".join(f"({letter}) {option}" for letter, option in zip(LETTERS, options, strict=True))
        if self.style == "aokvqa":
            meta.update(correct_choice_idx=answer, rationales=[explanation], direct_answers=[options[answer]])
            messages = [{"role": "user", "content": f"{IMAGE_TOKEN}\n{question}"},
                        {"role": "assistant", "content": options[answer]}]
            task = "vqa"
        else:
            reply = LETTERS[answer] if self.style == "qma" else f"({LETTERS[answer]}) {options[answer]}. {explanation}"
            messages = [{"role": "user", "content": f"{IMAGE_TOKEN}\n{question}\n{listing}\n{OPTION_LETTER}"},
                        {"role": "assistant", "content": reply}]
            task = "mcvqa"
        return new_sample(new_id, messages, images=parent["images"][:1], task=task,
                          qtype=self.qtype or parent["qtype"], source=parent["source"], meta=meta)
