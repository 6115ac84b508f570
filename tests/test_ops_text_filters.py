import pytest
from test_ops_helpers import text_sample

from synthloop.ops import op_class
from synthloop.ops.base import Batch, Drop
from synthloop.ops.filters.special_char_ratio import special_ratio
from synthloop.ops.filters.text_repetition import repetition_ratio
from synthloop.ops.text import sample_text
from synthloop.sample import new_sample


def run(op_name: str, samples: list[dict], **params):
    return op_class(op_name)(**params).process(Batch(samples))


def test_sample_text_joins_role_turns_without_placeholders():
    sample = new_sample("s", [{"role": "user", "content": "<image>\nWhat colour?"},
                              {"role": "assistant", "content": " Red. "},
                              {"role": "user", "content": "And <image> this?"},
                              {"role": "assistant", "content": "Blue."}])
    assert sample_text(sample) == "What colour?\n Red. \nAnd  this?\nBlue."
    assert sample_text(sample, "assistant") == "Red. \nBlue."
    assert sample_text(sample, "user") == "What colour?\nAnd  this?"


def test_text_length_counts_chars_and_words():
    sample = text_sample("s", "A red  circle.", question="<image>How many?")
    assert run("text_length", [sample]) == [[sample]]
    # "How many?\nA red  circle." -> 24 characters, 5 words
    assert sample["scores"] == {"text_chars": 24.0, "text_words": 5.0}
    assert run("text_length", [text_sample("s", "A red circle.")], role="assistant", min_words=4)[0] == Drop(
        "3 words < min_words 4", value=3)
    assert run("text_length", [text_sample("s", "A red circle.")], role="assistant", max_chars=12)[0] == Drop(
        "13 characters > max_chars 12", value=13)
    assert run("text_length", [text_sample("s", "")], role="assistant", min_chars=1)[0].value == 0
    assert isinstance(run("text_length", [text_sample("s", "one two three")], max_words=5)[0], Drop)


def test_special_char_ratio_exact_values():
    assert special_ratio("Hello, world!!") == 3 / 14
    assert special_ratio("snake_case") == 1 / 10  # `_` is special
    assert special_ratio("Ünïcödé 123") == 0.0  # letters and digits in any script are not
    assert special_ratio("") == 0.0
    sample = text_sample("s", "<<>>{}[]##", question="x")
    outcome = run("special_char_ratio", [sample], role="assistant", max_ratio=0.5)[0]
    assert outcome == Drop("special character ratio 1.000 > 0.5", value=1.0)
    kept = text_sample("k", "A fine answer.")
    assert run("special_char_ratio", [kept], role="assistant") == [[kept]]
    assert kept["scores"]["special_char_ratio"] == 1 / 14


def test_repetition_ratio_exact_values():
    assert repetition_ratio("a b c a b c", 2) == 0.8  # ab, bc, ca, ab, bc: 4 of 5 repeat
    assert repetition_ratio("the the the the the", 3) == 1.0
    assert repetition_ratio("A cat sat on a mat.", 2) == 0.0
    assert repetition_ratio("The cat. the CAT!", 2) == pytest.approx(2 / 3)  # case and punctuation ignored
    assert repetition_ratio("too short", 3) == 0.0
    assert repetition_ratio("", 1) == 0.0


def test_text_repetition_filter_drops_degenerate_answers():
    loop = text_sample("loop", "I see a dog " * 10)
    fine = text_sample("fine", "A dog runs across a green field next to a small red barn.")
    outcomes = run("text_repetition", [loop, fine], role="assistant", n=3, max_ratio=0.5)
    assert isinstance(outcomes[0], Drop) and outcomes[0].value == 1.0
    assert outcomes[0].reason == "3-gram repetition ratio 1.000 > 0.5"
    assert outcomes[1] == [fine] and fine["scores"]["text_repetition"] == 0.0


def test_image_token_match():
    ok = new_sample("ok", [{"role": "user", "content": "<image> and <image>"}, {"role": "assistant", "content": "x"}],
                    [{"bytes": b"a", "path": None}, {"bytes": b"b", "path": None}])
    missing = dict(ok, id="missing", images=ok["images"][:1])
    extra = dict(ok, id="extra", messages=[{"role": "user", "content": "no placeholder"}])
    outcomes = run("image_token_match", [ok, missing, extra])
    assert outcomes[0] == [ok]
    assert outcomes[1] == Drop("2 <image> placeholder(s) but 1 image(s)", value={"placeholders": 2, "images": 1})
    assert outcomes[2].value == {"placeholders": 0, "images": 2}


def test_answer_nonempty():
    good = text_sample("good", "Yes.")
    blank = text_sample("blank", "  <image> \n")
    no_answer = new_sample("none", [{"role": "user", "content": "Hello?"}])
    two_turns = new_sample("two", [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
                                   {"role": "user", "content": "c"}, {"role": "assistant", "content": ""}])
    outcomes = run("answer_nonempty", [good, blank, no_answer, two_turns])
    assert outcomes[0] == [good]
    assert outcomes[1] == Drop("1 of 1 assistant turn(s) blank", value=1)
    assert outcomes[2] == Drop("no assistant turn", value=0)
    assert outcomes[3] == Drop("1 of 2 assistant turn(s) blank", value=1)
