"""Metrics against hand-checked values, including the official normalisation's corner cases."""

import pytest

from synthloop.evaluate.metrics import (
    aokvqa_da_accuracy,
    aokvqa_da_score,
    aokvqa_mc_accuracy,
    exact_match,
    parse_box,
    rec_accuracy,
    rec_hit,
    token_f1,
    vqa_accuracy,
    vqa_accuracy_m4c,
)
from synthloop.evaluate.multiple_choice import (
    aokvqa_choice,
    can_infer,
    circular_accuracy,
    match_option,
    scienceqa_choice,
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


def test_current_official_normalises_both_sides_only_when_gold_answers_differ():
    # The example: vqaEval.py since a013f00 gives 1.0 (the older script gave 0.6).
    assert vqa_accuracy("2", ["two"] * 8 + ["2"] * 2) == 1.0
    # Identical gold answers: neither side is normalised.
    assert vqa_accuracy("two", ["2"] * 10) == 0.0
    assert vqa_accuracy("two", ["two"] * 10) == 1.0
    assert vqa_accuracy("Two", ["two"] * 10) == 0.0
    assert vqa_accuracy("yes", ["yes."] * 10) == 0.0
    assert vqa_accuracy(" yes\n", ["yes"] * 10) == 1.0  # whitespace is always cleaned
    assert vqa_accuracy("yes", ["yes."] * 5 + ["no"] * 5) == 1.0
    assert vqa_accuracy("a dog", ["dog"] * 3 + ["cat"] * 7) == pytest.approx(0.9)
    assert process_punctuation("yes.") == "yes"


def test_official_sums_per_answer_scores_in_order():
    # 3 matches out of 10, added in this order, come to 8.999999999999998 in floats, not 9.
    answers = ["b", "r", "b", "b", "b", "r", "b", "b", "b", "r"]
    assert vqa_accuracy_m4c("r", answers) == 0.8999999999999998
    assert vqa_accuracy("r", answers) == 0.8999999999999998


def test_at_most_32_periods_are_stripped_as_officially():
    # periodStrip.sub("", text, re.UNICODE): the flag (32) lands in `count`.
    assert normalize_prediction("x" + "." * 40) == "x" + "." * 8
    assert vqa_accuracy_m4c("x" + "." * 40, ["x"] * 10) == 0.0
    assert vqa_accuracy_m4c("x" + "." * 32, ["x"] * 10) == 1.0


def test_vqa_accuracy_needs_answers():
    with pytest.raises(ValueError, match="no gold"):
        vqa_accuracy("x", [])


@pytest.mark.parametrize(("prediction", "expected"), [
    ("B", "B"), ("(C)", "C"), ("D.", "D"), ("A:", "A"), (":B", "B"), ("(B).", "B"), ("**B**", "B"), ("[C]", "C"),
    ("The answer is B.", "B"),
    ("answer is **c**", "C"),          # "answer is X" in any case, when the letters alone do not decide
    ("A", "A"),
    ("A cat is sleeping", "A"),        # VERBOSE unset: a lone "A" among the last four words is the letter
    ("B is right because it is brown and small", None),  # the letter must be among the last 4 words
    ("I think it is a dog", "A"),      # option text contained in the answer
    ("A and B", None),                 # two letters: ambiguous
    ("a fish", None),                  # no letter, no option text
    ("E", None),                       # only the question's own letters count
    ("Z", "Z"), ("Cannot determine the answer", "Z"),  # refusals read as Z
    ("Failed to obtain answer via API B dog", "A"),    # no letters then, but option texts still count
])
def test_match_option_follows_vlmevalkit(prediction, expected):
    assert match_option(prediction, ["dog", "cat", "bird", "cow in a field"]) == expected


@pytest.mark.parametrize(("prediction", "expected"), [
    ("B", "B"), ("(C)", "C"), ("D.", "D"), (":B", "B"),
    ("A cat is sleeping", "B"),        # "A" among > 3 words is an article; the text names option B
    ("E", "E"),                        # the 2023 script always considers A-E
    ("**B**", None),
])
def test_match_option_mmbench2023_rule_by_name(prediction, expected):
    assert match_option(prediction, ["dog", "cat", "bird", "cow"], rule="mmbench2023") == expected


def test_match_option_text_must_be_unique_and_short_enough():
    assert match_option("dark red", {"A": "red", "B": "dark red"}) is None
    assert match_option("It is Dark Red", {"A": "blue", "B": "dark red"}) == "B"
    # Longer than twice all option texts together: VLMEvalKit gives up on the text.
    assert can_infer("it is the red one " * 3, {"A": "red", "B": "blue"}) is None


def test_circular_accuracy_follows_vlmevalkit_grouping():
    rows = [
        {"index": 1, "prediction": "A", "answer": "A"}, {"index": 1_000_001, "prediction": "B", "answer": "B"},
        {"index": 2, "prediction": "A", "answer": "A"}, {"index": 1_000_002, "prediction": "C", "answer": "B"},
        {"index": 3, "prediction": "(D)", "answer": "D", "options": ["x", "y", "z", "w"]},
        {"index": 2_000_003, "prediction": "it is y", "answer": "B", "options": ["x", "y", "z", "w"]},
        {"index": 4, "prediction": "A", "answer": "A"}, {"index": 1_000_004, "prediction": None, "answer": "A"},
        {"index": 1_000_005, "prediction": "A", "answer": "A"},  # no base row: left out, as VLMEvalKit does
        {"index": 6, "prediction": "A", "answer": None},          # no gold: not scored
    ]
    # Questions 1 and 3 are right; 2 has a wrong rotation, 4 a failed one.
    assert circular_accuracy(rows) == pytest.approx(2 / 4)
    with pytest.raises(ValueError, match="no question with its base row"):
        circular_accuracy(rows[8:])


def test_scienceqa_choice_is_llava_letter_rule():
    assert scienceqa_choice("B", 3) == "B"
    assert scienceqa_choice("B. cat", 3) == "B"
    assert scienceqa_choice("The answer is C.", 3) == "C"
    assert scienceqa_choice("The answer is C. The answer is A.", 3) is None  # said twice
    assert scienceqa_choice("D", 3) is None                                     # past the choices
    assert scienceqa_choice(" B", 3) is None and scienceqa_choice("(B)", 3) is None
    assert scienceqa_choice("", 3) is None and scienceqa_choice("AB", 3) is None


AOKVQA = [
    {"question_id": "q1", "choices": ["cab", "train", "bus", "car"], "correct_choice_idx": 0,
     "direct_answers": ["cab"] * 2 + ["taxi"] * 8, "difficult_direct_answer": False},
    {"question_id": "q2", "choices": ["red", "blue", "green", "pink"], "correct_choice_idx": 2,
     "direct_answers": ["green"] * 10, "difficult_direct_answer": False},
    {"question_id": "q3", "choices": ["a", "b", "c", "d"], "correct_choice_idx": 1,
     "direct_answers": ["b"] * 10, "difficult_direct_answer": True},
]


def test_aokvqa_multiple_choice_compares_the_submitted_choice_text():
    assert aokvqa_mc_accuracy({"q1": "cab", "q2": "Green", "q3": "b"}, AOKVQA) == pytest.approx(3 / 3)
    assert aokvqa_mc_accuracy({"q1": "cab"}, AOKVQA) == pytest.approx(1 / 3)  # missing predictions score 0
    # The example: choices that contain each other; an exact choice is taken as it is.
    choices = ["sink", "bedroom", "red", "bed"]
    assert aokvqa_choice("bedroom", choices) == "bedroom"
    assert aokvqa_choice("(D)", choices) == "bed"
    assert aokvqa_choice("a bedroom", choices) == "a bedroom"  # "bed" and "bedroom" both occur: unchanged


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


def test_rec_iou_of_exactly_one_half_is_not_a_hit():
    # In floats this IoU is 0.5000000000000001; exactly it is 0.1 * 0.423 / (0.2 * 0.423) = 1/2.
    assert not rec_hit([0.8, 0.5, 0.9, 0.923], [0.8, 0.5, 1.0, 0.923])
    assert rec_hit([0.8, 0.5, 0.9001, 0.923], [0.8, 0.5, 1.0, 0.923])


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
