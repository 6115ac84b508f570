"""How one benchmark sample's prediction is scored, chosen by its task (or `meta["metric"]`).

| task / metric | gold | score |
|---|---|---|
| vqa (default) | `meta["answers"]`, else the reference reply | official VQA accuracy; one answer: normalised match |
| `vqa_m4c` | `meta["answers"]` | LLaVA's m4c VQA accuracy (TextVQA) |
| `aokvqa_da` | `meta["answers"]` (direct answers) | min(1, exact matches / 3) |
| `exact_match` | `meta["answers"][0]` | GQA exact match |
| mcvqa | `meta["answer"]` letter, `meta["options"]` | VLMEvalKit's `can_infer`, 1 if the letter is right |
| `scienceqa` | the same | LLaVA's ScienceQA letter rule |
| `aokvqa_mc` | the same | the submitted choice text equals the correct one (A-OKVQA) |
| caption | `meta["captions"]`, else the reference reply | token F1 (no CIDEr: it needs corpus statistics) |
| rec | `meta["box"]` | 1 if IoU > 0.5 |
| reg | `meta["expression"]`, else the reference reply | normalised match (VQA normalisation, both sides) |

The reference reply is the sample's final assistant message.
"""

from __future__ import annotations

import string

from synthloop.evaluate.metrics import (
    aokvqa_da_score,
    exact_match,
    normalized_match,
    rec_scores,
    token_f1,
    vqa_accuracy,
    vqa_accuracy_m4c,
)
from synthloop.evaluate.multiple_choice import aokvqa_choice, match_option, option_letters, scienceqa_choice

CHOICE_METRICS = frozenset({"mcvqa", "scienceqa", "aokvqa_mc"})


class NoGold(ValueError):
    """A sample that carries no gold answer for its task."""


def reference_reply(sample: dict) -> str | None:
    messages = sample["messages"]
    return messages[-1]["content"] if messages and messages[-1]["role"] == "assistant" else None


def prompt_messages(sample: dict) -> list[dict]:
    """The conversation up to the reply being evaluated (the final assistant turn is dropped)."""
    messages = sample["messages"]
    return messages[:-1] if reference_reply(sample) is not None else messages


def metric_of(sample: dict) -> str:
    return sample["meta"].get("metric") or sample["task"] or "vqa"


def gold_of(sample: dict) -> dict:
    """The gold fields the sample is scored against; raises NoGold when there are none."""
    meta, metric = sample["meta"], metric_of(sample)
    reference = reference_reply(sample)
    if metric in CHOICE_METRICS:
        gold = {"answer": meta.get("answer"), "options": meta.get("options") or meta.get("choices")}
        missing = gold["answer"] is None
    elif metric == "rec":
        gold = {"box": meta.get("box")}
        missing = gold["box"] is None
    elif metric == "caption":
        gold = {"captions": meta.get("captions") or ([reference] if reference is not None else [])}
        missing = not gold["captions"]
    elif metric == "reg":
        gold = {"expression": meta.get("expression") or reference}
        missing = gold["expression"] is None
    else:
        gold = {"answers": meta.get("answers") or ([reference] if reference is not None else [])}
        missing = not gold["answers"]
    if missing:
        raise NoGold(f"sample {sample['id']!r}: no gold answer for metric {metric!r}")
    return gold


def score_prediction(sample: dict, prediction: str) -> float:
    """The sample's score in [0, 1] for a predicted reply."""
    gold, metric = gold_of(sample), metric_of(sample)
    if metric in CHOICE_METRICS:
        return _choice_score(metric, prediction, gold)
    if metric == "rec":
        return float(rec_scores([prediction], [gold["box"]])[0])
    if metric == "caption":
        return token_f1(prediction, gold["captions"])
    if metric == "reg":
        return normalized_match(prediction, gold["expression"])
    answers = gold["answers"]
    if metric == "vqa_m4c":
        return vqa_accuracy_m4c(prediction, answers)
    if metric == "aokvqa_da":
        return aokvqa_da_score(prediction, answers)
    if metric == "exact_match":
        return exact_match(prediction, answers[0])
    # Leave-one-out over a single answer would always give 0: score it as a normalised match.
    return vqa_accuracy(prediction, answers) if len(answers) > 1 else normalized_match(prediction, answers[0])


def _choice_score(metric: str, prediction: str, gold: dict) -> float:
    choices = option_letters(gold["options"] or {})
    if metric == "scienceqa":
        return float(scienceqa_choice(prediction, len(choices)) == gold["answer"])
    if metric == "aokvqa_mc":
        texts = list(choices.values())
        return float(gold["answer"] in choices and aokvqa_choice(prediction, texts) == choices[gold["answer"]])
    letter = match_option(prediction, choices) if choices else prediction.strip()
    return float(letter == gold["answer"])


def option_candidates(sample: dict) -> tuple[list[str], list[str]]:
    """(letters, replies to score) for likelihood multiple choice: the letters themselves when the
    reference reply is a bare letter (the model was taught to answer that way), else the option texts."""
    choices = option_letters(gold_of(sample)["options"] or {})
    letters = list(choices)
    reference = (reference_reply(sample) or "").strip()
    answers_with_letters = reference in string.ascii_uppercase and reference != ""
    return letters, letters if answers_with_letters else list(choices.values())
