"""Which option a free-form answer picks, and CircularEval, as the official multiple-choice scorers do it.

- `can_infer`: open-compass/VLMEvalKit `vlmeval/utils/matching_util.py` (`can_infer`,
  `can_infer_option`, `can_infer_text`) at e8e78f05f3080fe28154f2130321f17951c3be94, run without the
  `VERBOSE` environment variable (with it, a lone "A" among more than three words is refused).
- `can_infer_mmbench2023`: the original MMBench script, open-compass/opencompass `tools/eval_mmbench.py`
  at 6ca2be6626297b06088f0c4aabcfc30426341d78.
- `circular_hits`: VLMEvalKit `vlmeval/dataset/utils/multiple_choice.py` `mcq_circular_eval` under
  `exact_matching` (same commit).
- `scienceqa_choice`: haotian-liu/LLaVA `llava/eval/eval_science_qa.py` at
  c121f0432da27facab705978f83c4ada465e46fd.
- `aokvqa_choice`: the choice text written for allenai/aokvqa `evaluation/eval_predictions.py`.
"""

from __future__ import annotations

import re
import string
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Literal

CIRCULAR_STRIDE = 1_000_000

_API_FAILURE = "Failed to obtain answer via API"
_REFUSALS = ("Sorry, I can't help with images of people yet.", "I can't process this file.",
             "I'm sorry, but without the image provided", "Cannot determine the answer")
_LETTER_NOISE = str.maketrans({ch: " " for ch in ".()[],:;!*#{}"})
_ANSWER_IS = re.compile(r"(?i)(?:correct\s+)?answer\s+is\s+\**([ABCD])\**")
# (prefix, suffix) pairs the 2023 MMBench script accepts around a letter, after the bare letter.
_MMBENCH_AFFIXES = [("", "."), ("", ","), ("", ":"), ("", ")"), ("", ")."), ("(", ")"), ("(", ")."), (":", ""),
                    (":", ","), (":", "."), (":", ")"), (":", ").")]
_SCIENCEQA_LETTERS = ("A", "B", "C", "D", "E")  # eval_science_qa.py --options
_SCIENCEQA_ANSWER_IS = re.compile(r"The answer is ([A-Z]).")


def option_letters(options: Sequence[str] | Mapping[str, str]) -> dict[str, str]:
    """Options as `{letter: text}`; a list is lettered A, B, C, ..."""
    if isinstance(options, Mapping):
        return {str(k): str(v) for k, v in options.items()}
    return {string.ascii_uppercase[i]: str(text) for i, text in enumerate(options)}


def _text_match(answer: str, choices: Mapping[str, str]) -> str | None:
    """The one option whose lowercased text occurs in the lowercased answer."""
    lowered = answer.lower()
    found = [letter for letter, text in choices.items() if text.lower() in lowered]
    return found[0] if len(found) == 1 else None


def can_infer(prediction: str, options: Sequence[str] | Mapping[str, str]) -> str | None:
    """VLMEvalKit's rule (vlmeval/utils/matching_util.py at e8e78f0): the option letter a prediction names, "Z" for
    a refusal, or None.

    Letters: `.()[],:;!*#{}` become spaces; exactly one option letter among the words, and it is
    among the last four words. A refusal phrase, or a lone "Z" with no option letter, gives "Z".
    Else "answer is X" (any case, X in A-D and an option). Else the one option whose text occurs in
    the answer, unless the answer is more than twice as long as all option texts together.
    """
    choices = option_letters(options)
    if _API_FAILURE not in prediction:
        if any(refusal in prediction for refusal in _REFUSALS):
            return "Z"
        words = prediction.translate(_LETTER_NOISE).split()
        named = [letter for letter in choices if letter in words]
        if len(named) == 1 and words.index(named[0]) > len(words) - 5:
            return named[0]
        if not named and "Z" in words:
            return "Z"
        said = _ANSWER_IS.search(prediction)
        if said and said.group(1).upper() in choices:
            return said.group(1).upper()
    if len(prediction.lower()) > 2 * sum(len(text) for text in choices.values()):
        return None
    return _text_match(prediction, choices)


def can_infer_mmbench2023(prediction: str, options: Sequence[str] | Mapping[str, str]) -> str | None:
    """The original MMBench rule (opencompass tools/eval_mmbench.py at 6ca2be6): a lone letter A-E (bare, unless it
    is an "A" among more than three words, then with one affix such as "B." or "(B)"), else the one option text
    among A-D in the answer."""
    choices = {k: v for k, v in option_letters(options).items() if k in "ABCD"}
    if _API_FAILURE not in prediction:
        words = set(prediction.split())
        bare = [letter for letter in "ABCDE" if letter in words]
        if len(bare) == 1 and not ("A" in words and len(prediction.split()) > 3):
            return bare[0]
        for prefix, suffix in _MMBENCH_AFFIXES:
            found = [letter for letter in "ABCDE" if prefix + letter + suffix in words]
            if len(found) == 1:
                return found[0]
    return _text_match(prediction, choices)


MATCH_RULES: dict[str, Callable[[str, Sequence[str] | Mapping[str, str]], str | None]] = {
    "vlmevalkit": can_infer, "mmbench2023": can_infer_mmbench2023}


def match_option(prediction: str, options: Sequence[str] | Mapping[str, str],
                 rule: Literal["vlmevalkit", "mmbench2023"] = "vlmevalkit") -> str | None:
    """The option letter a free-form answer picks, or None, by VLMEvalKit's current rule (what
    MMBench's leaderboard uses) or by name the original 2023 MMBench rule."""
    return MATCH_RULES[rule](prediction, options)


def scienceqa_choice(prediction: str, n_choices: int) -> str | None:
    """The letter LLaVA's ScienceQA scorer (llava/eval/eval_science_qa.py at c121f04) reads: the prediction is
    exactly a letter A-E, starts with one and ". ", or says "The answer is X." exactly once; a letter past the
    choices reads as None."""
    if prediction in _SCIENCEQA_LETTERS:
        letter = prediction
    elif len(prediction) >= 3 and prediction[0] in _SCIENCEQA_LETTERS and prediction[1:3] == ". ":
        letter = prediction[0]
    else:
        said = _SCIENCEQA_ANSWER_IS.findall(prediction)
        letter = said[0] if len(said) == 1 else ""
    return letter if letter and letter in _SCIENCEQA_LETTERS[:n_choices] else None


def aokvqa_choice(prediction: str, choices: Sequence[str]) -> str:
    """The choice text to submit for A-OKVQA multiple choice, whose scorer compares texts exactly: the
    prediction itself when it is a choice, else the choice `can_infer` reads from it, else the
    prediction unchanged (scored wrong; allenai's remap_predictions.py would map it with GloVe)."""
    if prediction in choices:
        return prediction
    letter = can_infer(prediction, choices)
    index = string.ascii_uppercase.find(letter) if letter else -1
    return choices[index] if 0 <= index < len(choices) else prediction


def circular_hits(rows: Iterable[tuple[int, bool]]) -> dict[int, bool]:
    """VLMEvalKit's CircularEval grouping (vlmeval/dataset/utils/multiple_choice.py mcq_circular_eval at
    e8e78f0): `(index, right)` rows -> `{base index: all right}`.

    A row belongs to the question `index % 1_000_000`; a question is scored only when its base row
    (index below 1_000_000) is present, and counts as right only if every row of it is right.
    Rotations whose base row is missing are left out, as VLMEvalKit does.
    """
    right: dict[int, bool] = defaultdict(lambda: True)
    bases = set()
    for index, hit in rows:
        key = int(index % CIRCULAR_STRIDE)
        right[key] = right[key] and hit
        if index == key:
            bases.add(key)
    return {key: right[key] for key in sorted(bases)}


def circular_accuracy(rows: Iterable[Mapping], rule: Literal["vlmevalkit", "mmbench2023"] = "vlmevalkit") -> float:
    """MMBench CircularEval accuracy as VLMEvalKit computes it (see `circular_hits`) over rows (`index`,
    `prediction`, `answer`, optionally `options`).

    With `options`, the prediction is free text read by `match_option`; without, it is a letter. A row
    whose `answer` is None is not scored; a row whose `prediction` is None (a failed rotation) is wrong.
    """
    def right(row: Mapping) -> bool:
        prediction = row["prediction"]
        if prediction is not None and row.get("options") is not None:
            prediction = match_option(str(prediction), row["options"], rule)
        return prediction is not None and prediction == row["answer"]

    hits = circular_hits((int(row["index"]), right(row)) for row in rows if row["answer"] is not None)
    if not hits:
        raise ValueError("no question with its base row (index below 1_000_000) to score")
    return sum(hits.values()) / len(hits)
