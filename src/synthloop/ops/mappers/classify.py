"""`classify`: set `task` and `qtype` on samples that have none (LLaVA input carries neither).

Three signals, strongest first:
1. The first user turn's prompt template: DataOptim's five captioning instructions, its open-ended
   VQA suffix and its multiple-choice prefix (BAAI-DCAI/DataOptim README.md, commit
   c50a7c6912d2e2e5a347a2eb4b5dd660fc4511ae), LLaVA-1.5's short-answer and option-letter suffixes
   and its RefCOCO grounding prompts, and Shikra's grounding templates (shikras/shikra
   config/_base_/dataset/template/REC.json and REG.json, commit ff79a4ced85d21739e1a4c5cec9e1e8f896b962c),
   which put a box in the question (REG: describe this region) or ask for one (REC).
2. The id's prefix, `<source>_<key>` as in DataOptim: the dataset names of DataOptim's table (same
   README) give the task family (captioning, VQA, multiple choice, grounding, GPT-generated
   dialogue); `source` is set from the prefix when empty. The template wins: LLaVA-1.5's mix
   holds VQAv2 and RefCOCO prompts under one source.
3. The first reply's shape: yes/no, a number, a box, an option letter, or free text. A box in the
   reply makes a grounding sample `rec`, a box in the question `reg`.

`qtype` is the answer shape (`yes_no`, `number`, `box`, `option`, `text`), or `caption` for captions.
With `overwrite: false` (default) samples that already have a task keep it and their qtype.
"""

from __future__ import annotations

import re
from typing import ClassVar

from pydantic import Field

from synthloop.formats.boxes import find_boxes
from synthloop.ops.base import Batch, Mapper, Outcome, register
from synthloop.ops.model_op import first_qa
from synthloop.ops.text import normalize

# DataOptim dataset -> task family (README table; ids are `<dataset>_<key>`)
PREFIX_TASKS = {
    **dict.fromkeys(("coco", "flickr30k", "textcaps", "textocr"), "caption"),
    **dict.fromkeys(("vqav2", "okvqa", "ocrvqa", "gqa", "textvqa", "vgqa", "docvqa", "dvqa"), "vqa"),
    **dict.fromkeys(("aokvqa", "scienceqa"), "mcvqa"),
    **dict.fromkeys(("refcoco", "refcocop", "refcocog", "ref3rec", "ref3reg", "shikra"), "grounding"),
    **dict.fromkeys(("llava", "svit", "sharegpt4v"), "dialogue"),
}
CAPTION_PROMPTS = {normalize(p) for p in (  # DataOptim's captioning instructions
    "Describe the image as simply as possible with a sentence or phrase.", "Give a brief summary of what you see.",
    "Provide a short description of the image.", "Write a short description for the image.",
    "Briefly describe the content of the image.")}
VQA_SUFFIXES = ("answer the question directly with a short sentence or phrase.",  # DataOptim
                "answer the question using a single word or phrase.")  # LLaVA-1.5
MC_MARKERS = ("choose the correct option for the following question:",  # DataOptim (prefix)
              "answer with the option's letter from the given choices directly.")  # LLaVA-1.5
REC_MARKERS = ("please provide the bounding box coordinate of the region this sentence describes",  # LLaVA-1.5
               "coordinates", "[x0,y0,x1,y1]", "where is")  # Shikra REC templates
REG_MARKERS = ("please provide a short description for this region",)  # LLaVA-1.5
_NUMBER = re.compile(r"-?\d+(?:[.,]\d+)?")
_OPTION = re.compile(r"\(?([A-Z])[.)]?")


def answer_shape(answer: str) -> str:
    text = answer.strip().rstrip(".").strip()
    if text.lower() in ("yes", "no"):
        return "yes_no"
    if _NUMBER.fullmatch(text):
        return "number"
    if find_boxes(text) and len(text) < 120:
        return "box"
    if _OPTION.fullmatch(text):
        return "option"
    return "text"


def _task_from_prompt(question: str, answer: str) -> str | None:
    prompt = normalize(question)
    if prompt in CAPTION_PROMPTS:
        return "caption"
    if any(marker in prompt for marker in MC_MARKERS):
        return "mcvqa"
    if any(marker in prompt for marker in REG_MARKERS) or find_boxes(question):
        return "reg"
    if any(marker in prompt for marker in REC_MARKERS) and find_boxes(answer):
        return "rec"
    if prompt.endswith(VQA_SUFFIXES):
        return "vqa"
    return None


@register
class Classify(Mapper):
    name: ClassVar[str] = "classify"
    overwrite: bool = Field(False, description="replace a task and qtype the sample already has")

    def process(self, batch: Batch) -> list[Outcome]:
        return [[self.classified(sample)] for sample in batch.samples]

    def classified(self, sample: dict) -> dict:
        if sample["task"] and not self.overwrite:
            return sample
        prefix = sample["id"].split("_", 1)[0].lower() if "_" in sample["id"] else ""
        qa = first_qa(sample)
        question, answer = qa if qa else ("", "")
        shape = answer_shape(answer)
        task = _task_from_prompt(question, answer) or PREFIX_TASKS.get(prefix)
        if task == "grounding":
            task = "reg" if find_boxes(question) else "rec"
        if task is None:
            exchanges = sum(m["role"] == "user" for m in sample["messages"])
            task = "dialogue" if exchanges > 1 and shape == "text" else "vqa"
        if not sample["source"] and prefix in PREFIX_TASKS:
            sample["source"] = prefix
        sample["task"], sample["qtype"] = task, "caption" if task == "caption" else shape
        return sample
