"""Metrics against hand-checked values, including the official normalisation's corner cases."""

import pytest

from synthloop.evaluate.metrics import (
    aokvqa_da_accuracy,
    aokvqa_da_score,
    aokvqa_mc_accuracy,
    circular_accuracy,
    exact_match,
    match_option,
    parse_box,
    rec_accuracy,
    token_f1,
    vqa_accuracy,
    vqa_accuracy_m4c,
)
from synthloop.evaluate.vqa_normalize import normalize_prediction, process_punctuation


@pytest.mark.parametrize(("matches", "expected"), [(0, 0.0), (1, 0.3), (2, 0.6), (3, 0.9), (4, 1.0), (10, 1.0)])
def test_vqa_accuracy_leave_one_out(matches, expected):
    # 1 match: the 9 non-matching answers each see 1 match among their others -> 9 * 1/3 / 10 = 0.3;
    # 3 matches: 3 * 2/3 + 7 * 1 = 9 -> 0.9.
    answers = ["red"] * matches + ["blue"] * (10 - matches)
    assert vqa_accuracy("red", answers) == pytest.approx(expected)


@pytest.mark.parametrize(("text", "expected"), [
    ("Two dogs.", "2 dogs"),        # number word, trailing period
    ("The cat", "cat"),              # article
    ("an apple", "apple"),
    ("dont", "don't"),               # contraction restored
    ("Don't", "don't"),              # apostrophe is not punctuation
    ("1,000", "1000"),               # digit comma digit: every mark is deleted
    ("1,000 red/blue", "1000 redblue"),  # ... even elsewhere in the text
    ("red/blue", "red blue"),        # otherwise punctuation inside a word becomes a space
    ("red, blue", "red blue"),       # punctuation next to a space is deleted
    ("3.5", "3.5"),                  # a period before a digit stays
    ("e.g. this", "eg this"),
    ("yes\n", "yes"),
    ("none", "0"),
    ("Im", "im"),                    # capitalised contraction keys never match lowercased text
])
def test_official_normalisation(text, expected):
    assert normalize_prediction(text) == expected


def test_gold_answers_are_normalised_only_when_they_differ_and_only_for_punctuation():
    assert vqa_accuracy("two", ["2"] * 10) == 1.0
    # Identical gold answers are left as they are, and gold never gets the digit/article step.
    assert vqa_accuracy("two", ["two"] * 10) == 0.0
    assert vqa_accuracy("yes", ["yes."] * 10) == 0.0
    assert vqa_accuracy("yes", ["yes."] * 5 + ["no"] * 5) == 1.0
    assert vqa_accuracy("a dog", ["dog"] * 3 + ["cat"] * 7) == pytest.approx(0.9)
    assert process_punctuation("yes.") == "yes"


def test_m4c_normalises_both_sides():
    assert vqa_accuracy_m4c("Two", ["two"] * 10) == 1.0
    assert vqa_accuracy_m4c("the cat's", ["cat's"] * 2 + ["dog"] * 8) == pytest.approx(0.6)
    assert vqa_accuracy_m4c("Stop?", ["stop"] * 10) == 1.0


def test_vqa_accuracy_needs_answers():
    with pytest.raises(ValueError, match="no gold"):
        vqa_accuracy("x", [])


@pytest.mark.parametrize(("prediction", "expected"), [
    ("B", "B"), ("(C)", "C"), ("D.", "D"), ("A:", "A"), (":B", "B"), ("(B).", "B"),
    ("The answer is B.", "B"),
    ("A", "A"),
    ("A cat is sleeping", "B"),        # "A" among > 3 words is an article; the text names option B
    ("I think it is a dog", "A"),      # option text contained in the answer
    ("A and B", None),                 # two letters: ambiguous
    ("a fish", None),                  # no letter, no option text
    ("E", "E"),                        # the official matcher always considers A-E
])
def test_match_option(prediction, expected):
    assert match_option(prediction, ["dog", "cat", "bird", "cow"]) == expected


def test_match_option_text_must_be_unique():
    assert match_option("dark red", {"A": "red", "B": "dark red"}) is None
    assert match_option("It is Dark Red", {"A": "blue", "B": "dark red"}) == "B"


def test_circular_accuracy_counts_a_question_only_if_every_rotation_is_right():
    rows = [
        {"index": 1, "prediction": "A", "answer": "A"}, {"index": 1_000_001, "prediction": "B", "answer": "B"},
        {"index": 2, "prediction": "A", "answer": "A"}, {"index": 1_000_002, "prediction": "C", "answer": "B"},
        {"index": 3, "prediction": "(D)", "answer": "D", "options": ["x", "y", "z", "w"]},
        {"index": 2_000_003, "prediction": "it is y", "answer": "B", "options": ["x", "y", "z", "w"]},
    ]
    assert circular_accuracy(rows) == pytest.approx(2 / 3)


AOKVQA = [
    {"question_id": "q1", "choices": ["cab", "train", "bus", "car"], "correct_choice_idx": 0,
     "direct_answers": ["cab"] * 2 + ["taxi"] * 8, "difficult_direct_answer": False},
    {"question_id": "q2", "choices": ["red", "blue", "green", "pink"], "correct_choice_idx": 2,
     "direct_answers": ["green"] * 10, "difficult_direct_answer": False},
    {"question_id": "q3", "choices": ["a", "b", "c", "d"], "correct_choice_idx": 1,
     "direct_answers": ["b"] * 10, "difficult_direct_answer": True},
]


def test_aokvqa_multiple_choice_is_exact_choice_text():
    assert aokvqa_mc_accuracy({"q1": "cab", "q2": "Green", "q3": "b"}, AOKVQA) == pytest.approx(2 / 3)
    assert aokvqa_mc_accuracy({"q1": "cab"}, AOKVQA) == pytest.approx(1 / 3)  # missing predictions score 0


def test_aokvqa_direct_answer_excludes_difficult_and_does_not_normalise():
    assert aokvqa_da_score("cab", AOKVQA[0]["direct_answers"]) == pytest.approx(2 / 3)
    assert aokvqa_da_score("taxi", AOKVQA[0]["direct_answers"]) == 1.0
    assert aokvqa_da_score("Cab", AOKVQA[0]["direct_answers"]) == 0.0
    # q3 (difficult) is left out: (2/3 + 1) / 2.
    assert aokvqa_da_accuracy({"q1": "cab", "q2": "green", "q3": "wrong"}, AOKVQA) == pytest.approx(5 / 6)


def test_parse_box_reads_both_dialects():
    assert parse_box("[0.1, 0.2, 0.3, 0.4]") == [0.1, 0.2, 0.3, 0.4]
    assert parse_box("it is at [0.100,0.200,0.300,0.400].") == [0.1, 0.2, 0.3, 0.4]
    assert parse_box("no box here") is None


def test_rec_accuracy_needs_iou_above_threshold():
    gold = [[0, 0, 1, 1]] * 5
    predictions = [
        "[0.0, 0.0, 1.0, 1.0]",          # IoU 1
        "[0.000,0.000,0.600,1.000]",     # IoU 0.6
        "[0.0, 0.0, 0.5, 1.0]",          # IoU exactly 0.5: not above the threshold
        "the left one",                  # unparsable -> [0, 0, 0, 0]
        [0.0, 0.0, 0.9, 0.9],            # boxes may be given as numbers: IoU 0.81
    ]
    assert rec_accuracy(predictions, gold) == pytest.approx(3 / 5)
    assert rec_accuracy(predictions[2:3], gold[:1], threshold=0.4) == 1.0
    assert rec_accuracy(["x"], [[0, 0, 0, 0]]) == 0.0  # two empty boxes do not match


def test_exact_match_and_token_f1():
    assert exact_match("Yes.", "yes") == 1.0
    assert exact_match("yes it is", "yes") == 0.0
    # [red, circle] vs [red, square]: precision = recall = 1/2.
    assert token_f1("A red circle.", ["the red square"]) == pytest.approx(0.5)
    assert token_f1("red circle", ["blue", "red circle"]) == 1.0
    assert token_f1("", ["red"]) == 0.0


def test_closed_form_equals_the_official_loop_over_gold_answers():
    import random

    from synthloop.evaluate.metrics import _leave_one_out

    rng = random.Random(0)
    for _ in range(500):
        answers = [rng.choice("abc") for _ in range(rng.randint(1, 10))]
        prediction = rng.choice("abcd")
        # The official script: for each gold answer, min(1, matches among the others / 3), averaged.
        looped = [min(1.0, sum(other == prediction for other in answers[:i] + answers[i + 1:]) / 3)
                  for i in range(len(answers))]
        assert _leave_one_out(prediction, answers) == pytest.approx(sum(looped) / len(looped))
