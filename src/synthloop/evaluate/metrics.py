"""Benchmark metrics, each equal to the official scorer it names (scores are fractions in [0, 1];
the official scripts print percentages).

- VQA accuracy: GT-Vision-Lab/VQA `PythonEvaluationTools/vqaEvaluation/vqaEval.py` at
  a013f0043c1e2cdc995922dfe257f7149aa9af06; the m4c variant: haotian-liu/LLaVA
  `llava/eval/m4c_evaluator.py` at c121f0432da27facab705978f83c4ada465e46fd.
- A-OKVQA: allenai/aokvqa `evaluation/eval_predictions.py` at 83786de0b24c4fef0bfe39420684f6f73d9f3581.
- REC: share of predicted boxes whose IoU with the gold box is above 0.5, computed exactly.
Multiple choice (MMBench, ScienceQA, CircularEval) is in `multiple_choice`.
"""

from __future__ import annotations

import string
from collections import Counter
from collections.abc import Mapping, Sequence
from fractions import Fraction

import numpy as np

from synthloop.evaluate.multiple_choice import aokvqa_choice
from synthloop.evaluate.vqa_normalize import ARTICLES, normalize_m4c, normalize_prediction, strip_whitespace
from synthloop.formats.boxes import find_boxes


def _leave_one_out(prediction: str, answers: Sequence[str]) -> float:
    """Mean over gold answers of min(1, matches among the *other* answers / 3), added up in answer
    order as the official loops do (so the float is the same to the last bit)."""
    if not answers:
        raise ValueError("no gold answers to score against")
    matches = sum(answer == prediction for answer in answers)
    total = 0.0
    for answer in answers:
        total += min(1.0, (matches - (answer == prediction)) / 3)
    return total / len(answers)


def vqa_accuracy(prediction: str, answers: Sequence[str]) -> float:
    """Official VQA accuracy (vqaEval.py since its 2021 fix, a013f00): newlines and tabs become spaces
    and both sides are stripped; then, only when the gold answers are not all identical, both sides are
    fully normalised (punctuation, number words, articles, contractions); then leave-one-out.

    So "2" against 8 x "two" + 2 x "2" scores 1.0, while "Two" against 10 x "two" scores 0.0. The
    official period strip replaces at most 32 periods (it passes `re.UNICODE` as the count); kept.
    """
    answers = [strip_whitespace(answer) for answer in answers]
    prediction = strip_whitespace(prediction)
    if len(set(answers)) > 1:
        answers = [normalize_prediction(answer) for answer in answers]
        prediction = normalize_prediction(prediction)
    return _leave_one_out(prediction, answers)


def vqa_accuracy_m4c(prediction: str, answers: Sequence[str]) -> float:
    """LLaVA's TextVQA accuracy (llava/eval/m4c_evaluator.py at c121f04, EvalAIAnswerProcessor +
    TextVQAAccuracyEvaluator;
    lmms-eval's TextVQA uses the same processor): both sides always normalised, then leave-one-out.

    Like the official processor, at most 32 periods are stripped (its `re.UNICODE` lands in `count`):
    kept, so scores equal the official ones. The official asserts 10 gold answers; any number is
    scored here with the same formula.
    """
    return _leave_one_out(normalize_m4c(prediction), [normalize_m4c(answer) for answer in answers])


def normalized_match(prediction: str, gold: str) -> float:
    """1.0 when both texts are equal after the full VQA normalisation (for single-answer gold)."""
    return float(normalize_prediction(prediction) == normalize_prediction(gold))


def exact_match(prediction: str, gold: str) -> float:
    """GQA-style exact match as LLaVA scores it: lowercase, trailing period of the prediction removed."""
    return float(prediction.strip().rstrip(".").lower() == gold.strip().lower())


def aokvqa_mc_accuracy(predictions: Mapping[str, str], questions: Sequence[Mapping]) -> float:
    """A-OKVQA multiple choice (evaluation/eval_predictions.py at 83786de): the submitted choice text
    (`aokvqa_choice` of the prediction) must equal the correct choice's text; a question without a prediction scores
    0."""
    if not questions:
        raise ValueError("no questions to score")
    hits = [float(q["question_id"] in predictions and aokvqa_choice(predictions[q["question_id"]], q["choices"])
                  == q["choices"][q["correct_choice_idx"]]) for q in questions]
    return sum(hits) / len(hits)


def aokvqa_da_score(prediction: str, direct_answers: Sequence[str]) -> float:
    """A-OKVQA direct answer for one question (eval_predictions.py at 83786de): min(1, exact matches / 3),
    no normalisation."""
    return min(1.0, sum(prediction == answer for answer in direct_answers) / 3.0)


def aokvqa_da_accuracy(predictions: Mapping[str, str], questions: Sequence[Mapping]) -> float:
    """A-OKVQA direct answer (eval_predictions.py at 83786de) over the questions whose
    `difficult_direct_answer` is False; a question without a prediction scores 0."""
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


def _exact(value: float) -> Fraction:
    # The decimal a coordinate is written as: a float's shortest repr, which is how JSON and text give it.
    return Fraction(repr(float(value)))


def rec_hit(box: Sequence[float], gold: Sequence[float], threshold: float = 0.5) -> bool:
    """True when IoU(box, gold) > threshold (no official file: the reference is exact arithmetic), compared exactly
    in rational arithmetic over the boxes' decimal coordinates (in floats an IoU of exactly 1/2 can come out as
    0.5000000000000001). Boxes are `[x1, y1, x2, y2]`; negative extents count as 0; two empty boxes do not match."""
    a, b = [_exact(v) for v in box], [_exact(v) for v in gold]
    zero = Fraction(0)
    inter = max(zero, min(a[2], b[2]) - max(a[0], b[0])) * max(zero, min(a[3], b[3]) - max(a[1], b[1]))
    union = (max(zero, a[2] - a[0]) * max(zero, a[3] - a[1]) + max(zero, b[2] - b[0]) * max(zero, b[3] - b[1])
             - inter)
    return union > 0 and inter > _exact(threshold) * union


def rec_scores(predictions: Sequence[str | Sequence[float]], gold_boxes: Sequence[Sequence[float]],
               threshold: float = 0.5) -> np.ndarray:
    """Per-prediction REC hit (1.0 when IoU > threshold); an unparsable prediction is [0, 0, 0, 0]."""
    if len(predictions) != len(gold_boxes):
        raise ValueError(f"{len(predictions)} predictions but {len(gold_boxes)} gold boxes")
    parsed = [(parse_box(p) if isinstance(p, str) else list(p)) or [0.0] * 4 for p in predictions]
    return np.array([rec_hit(box, gold, threshold) for box, gold in zip(parsed, gold_boxes)], dtype=np.float64)


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
