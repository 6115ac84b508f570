"""Benchmark metrics, following each benchmark's official evaluation code.

All scores are fractions in [0, 1] (the official scripts print percentages).
- VQA accuracy: GT-Vision-Lab/VQA `vqaEval.py`; the m4c variant: LLaVA's `m4c_evaluator.py`.
- Multiple choice: MMBench's `can_infer_option` / `can_infer_text` and CircularEval.
- A-OKVQA: allenai/aokvqa `eval_predictions.py`.
- REC: share of predicted boxes with IoU > 0.5 against the gold box.
"""

from __future__ import annotations

import string
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from synthloop.evaluate.vqa_normalize import (
    ARTICLES,
    normalize_m4c,
    normalize_prediction,
    process_punctuation,
)
from synthloop.formats.boxes import find_boxes

CIRCULAR_STRIDE = 1_000_000


def _leave_one_out(prediction: str, answers: Sequence[str]) -> float:
    """Mean over gold answers of min(1, matches among the *other* answers / 3)."""
    if not answers:
        raise ValueError("no gold answers to score against")
    matches = sum(answer == prediction for answer in answers)
    # A gold answer equal to the prediction sees matches - 1 others; any other answer sees all matches.
    total = matches * min(1.0, (matches - 1) / 3) + (len(answers) - matches) * min(1.0, matches / 3)
    return total / len(answers)


def vqa_accuracy(prediction: str, answers: Sequence[str]) -> float:
    """Official VQA accuracy: the prediction is always normalised (punctuation, digits, articles,
    contractions); the gold answers get the punctuation step only, and only when they differ."""
    if len(set(answers)) > 1:
        answers = [process_punctuation(answer) for answer in answers]
    return _leave_one_out(normalize_prediction(prediction), answers)


def vqa_accuracy_m4c(prediction: str, answers: Sequence[str]) -> float:
    """LLaVA's TextVQA (m4c / EvalAI) accuracy: both sides fully normalised, then leave-one-out."""
    return _leave_one_out(normalize_m4c(prediction), [normalize_m4c(answer) for answer in answers])


def normalized_match(prediction: str, gold: str) -> float:
    """1.0 when both texts are equal after the full VQA normalisation (for single-answer gold)."""
    return float(normalize_prediction(prediction) == normalize_prediction(gold))


def exact_match(prediction: str, gold: str) -> float:
    """GQA-style exact match as LLaVA scores it: lowercase, trailing period of the prediction removed."""
    return float(prediction.strip().rstrip(".").lower() == gold.strip().lower())


# Option letter affixes MMBench accepts around a lone letter, in its order of preference.
_LETTER_AFFIXES = [("", ""), ("", "."), ("", ","), ("", ":"), ("", ")"), ("", ")."), ("(", ")"), ("(", ")."),
                   (":", ""), (":", ","), (":", "."), (":", ")"), (":", ").")]


def option_letters(options: Sequence[str] | Mapping[str, str]) -> dict[str, str]:
    """Options as `{letter: text}`; a list is lettered A, B, C, ..."""
    if isinstance(options, Mapping):
        return {str(k): str(v) for k, v in options.items()}
    return {string.ascii_uppercase[i]: str(text) for i, text in enumerate(options)}


def match_option(prediction: str, options: Sequence[str] | Mapping[str, str]) -> str | None:
    """The option letter a free-form answer picks, or None (MMBench's rule-based matching).

    First a lone letter, bare or with one of the accepted affixes ("B", "B.", "(B)", ":B"), when
    exactly one letter appears that way; a bare "A" among more than three words is read as the
    article. Otherwise the one option whose text occurs in the answer (case-insensitive).
    """
    choices = option_letters(options)
    # The official script always considers A-E, whatever the number of options.
    letters = string.ascii_uppercase[:max(5, len(choices))]
    words = prediction.split()
    present = set(words)
    for prefix, suffix in _LETTER_AFFIXES:
        found = [letter for letter in letters if prefix + letter + suffix in present]
        if len(found) == 1:
            if prefix == suffix == "" and found[0] == "A" and len(words) > 3:
                continue
            return found[0]
    lowered = prediction.lower()
    found = [letter for letter, text in choices.items() if text.lower() in lowered]
    return found[0] if len(found) == 1 else None


def circular_accuracy(rows: Iterable[Mapping]) -> float:
    """MMBench CircularEval: rows (`index`, `prediction`, `answer`, optionally `options`) are grouped
    by `index % 1_000_000`; a question counts only if every rotation of it is answered right.
    With `options`, the prediction is free text matched by `match_option`; without, it is a letter."""
    right: dict[int, bool] = defaultdict(lambda: True)
    for row in rows:
        prediction = row["prediction"]
        if "options" in row and prediction is not None:
            prediction = match_option(prediction, row["options"])
        key = int(row["index"]) % CIRCULAR_STRIDE
        right[key] = right[key] and prediction == row["answer"]
    if not right:
        raise ValueError("no rows to score")
    return sum(right.values()) / len(right)


def aokvqa_mc_accuracy(predictions: Mapping[str, str], questions: Sequence[Mapping]) -> float:
    """A-OKVQA multiple choice: the predicted choice text must equal the correct choice; a
    question without a prediction scores 0."""
    if not questions:
        raise ValueError("no questions to score")
    hits = [float(predictions.get(q["question_id"]) == q["choices"][q["correct_choice_idx"]]) for q in questions]
    return sum(hits) / len(hits)


def aokvqa_da_score(prediction: str, direct_answers: Sequence[str]) -> float:
    """A-OKVQA direct answer for one question: min(1, exact matches / 3), no normalisation."""
    return min(1.0, sum(prediction == answer for answer in direct_answers) / 3.0)


def aokvqa_da_accuracy(predictions: Mapping[str, str], questions: Sequence[Mapping]) -> float:
    """A-OKVQA direct answer over the questions not marked `difficult_direct_answer`."""
    kept = [q for q in questions if q["difficult_direct_answer"] is False]
    if not kept:
        raise ValueError("no non-difficult questions to score")
    scores = [aokvqa_da_score(predictions[q["question_id"]], q["direct_answers"]) if q["question_id"] in predictions
              else 0.0 for q in kept]
    return sum(scores) / len(scores)


def parse_box(text: str) -> list[float] | None:
    """The first normalised box written in a text, in either dialect (`[0.1, 0.2, 0.3, 0.4]` or
    `[0.100,0.200,0.300,0.400]`), or None."""
    boxes = find_boxes(text)
    return boxes[0] if boxes else None


def box_iou(boxes: np.ndarray, gold: np.ndarray) -> np.ndarray:
    """Row-wise IoU of two (n, 4) arrays of `[x1, y1, x2, y2]`; empty boxes give 0."""
    width = np.clip(np.minimum(boxes[:, 2], gold[:, 2]) - np.maximum(boxes[:, 0], gold[:, 0]), 0, None)
    height = np.clip(np.minimum(boxes[:, 3], gold[:, 3]) - np.maximum(boxes[:, 1], gold[:, 1]), 0, None)
    inter = width * height

    def area(b: np.ndarray) -> np.ndarray:
        return np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)

    union = area(boxes) + area(gold) - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def rec_scores(predictions: Sequence[str | Sequence[float]], gold_boxes: Sequence[Sequence[float]],
               threshold: float = 0.5) -> np.ndarray:
    """Per-prediction REC hit (1.0 when IoU > threshold); an unparsable prediction is [0, 0, 0, 0]."""
    if len(predictions) != len(gold_boxes):
        raise ValueError(f"{len(predictions)} predictions but {len(gold_boxes)} gold boxes")
    parsed = [(parse_box(p) if isinstance(p, str) else list(p)) or [0.0] * 4 for p in predictions]
    boxes = np.asarray(parsed, dtype=np.float64).reshape(-1, 4)
    gold = np.asarray(gold_boxes, dtype=np.float64).reshape(-1, 4)
    return (box_iou(boxes, gold) > threshold).astype(np.float64)


def rec_accuracy(predictions: Sequence[str | Sequence[float]], gold_boxes: Sequence[Sequence[float]],
                 threshold: float = 0.5) -> float:
    """Share of predictions whose box has IoU > threshold with its gold box."""
    if not predictions:
        raise ValueError("no predictions to score")
    return float(rec_scores(predictions, gold_boxes, threshold).mean())


def _caption_tokens(text: str) -> list[str]:
    text = "".join(" " if ch in string.punctuation else ch for ch in text.lower())
    return [word for word in text.split() if word not in ARTICLES]


def token_f1(prediction: str, references: Sequence[str]) -> float:
    """Bag-of-words F1 (lowercased, punctuation and articles removed), best over the references."""
    predicted = Counter(_caption_tokens(prediction))
    best = 0.0
    for reference in references:
        gold = Counter(_caption_tokens(reference))
        common = sum((predicted & gold).values())
        if common:
            precision, recall = common / sum(predicted.values()), common / sum(gold.values())
            best = max(best, 2 * precision * recall / (precision + recall))
    return best
