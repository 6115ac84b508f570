"""Answer normalisation of the official VQA evaluation: GT-Vision-Lab/VQA
`PythonEvaluationTools/vqaEvaluation/vqaEval.py` at a013f0043c1e2cdc995922dfe257f7149aa9af06, and the
EvalAI processor in haotian-liu/LLaVA `llava/eval/m4c_evaluator.py` at c121f0432da27facab705978f83c4ada465e46fd.

Reproduced from the definitions, quirks included, so scores match the official script:
- punctuation next to a space, or anywhere in a text that has a digit-comma-digit ("1,000"), is
  deleted; elsewhere it becomes a space ("red/blue" -> "red blue");
- `.`, `:` and `'` are not in the punctuation list; a period is deleted unless a digit follows
  ("3." -> "3", "1.5" stays), because the official lookbehind is mistyped as a lookahead;
- number words up to ten become digits, articles are dropped, then apostrophe-less contractions
  are restored ("dont" -> "don't"). Keys with capitals ("Im") never match the lowercased text;
- at most 32 periods are stripped: the official call `periodStrip.sub("", text, re.UNICODE)` passes the
  flag as the count (re.UNICODE is 32). Kept, so that scores equal the official ones.
Run as Python 3 code: `\\d` is any Unicode digit, `split()` any Unicode space.
"""

from __future__ import annotations

import re
from functools import lru_cache

PUNCTUATION = [";", "/", "[", "]", '"', "{", "}", "(", ")", "=", "+", "\\", "_", "-", ">", "<", "@", "`",
               ",", "?", "!"]
PERIOD_STRIP = re.compile(r"(?!<=\d)(\.)(?!\d)")
OFFICIAL_PERIOD_COUNT = 32
COMMA_BETWEEN_DIGITS = re.compile(r"(\d)(,)(\d)")
NUMBER_WORDS = {"none": "0", "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
                "six": "6", "seven": "7", "eight": "8", "nine": "9", "ten": "10"}
ARTICLES = {"a", "an", "the"}
_PUNCTUATION_SET = frozenset(PUNCTUATION)

CONTRACTIONS = {
    "aint": "ain't", "arent": "aren't", "cant": "can't", "couldve": "could've", "couldnt": "couldn't",
    "couldn'tve": "couldn't've", "couldnt've": "couldn't've", "didnt": "didn't", "doesnt": "doesn't",
    "dont": "don't", "hadnt": "hadn't", "hadnt've": "hadn't've", "hadn'tve": "hadn't've", "hasnt": "hasn't",
    "havent": "haven't", "hed": "he'd", "hed've": "he'd've", "he'dve": "he'd've", "hes": "he's",
    "howd": "how'd", "howll": "how'll", "hows": "how's", "Id've": "I'd've", "I'dve": "I'd've", "Im": "I'm",
    "Ive": "I've", "isnt": "isn't", "itd": "it'd", "itd've": "it'd've", "it'dve": "it'd've", "itll": "it'll",
    "let's": "let's", "maam": "ma'am", "mightnt": "mightn't", "mightnt've": "mightn't've",
    "mightn'tve": "mightn't've", "mightve": "might've", "mustnt": "mustn't", "mustve": "must've",
    "neednt": "needn't", "notve": "not've", "oclock": "o'clock", "oughtnt": "oughtn't",
    "ow's'at": "'ow's'at", "'ows'at": "'ow's'at", "'ow'sat": "'ow's'at", "shant": "shan't",
    "shed've": "she'd've", "she'dve": "she'd've", "she's": "she's", "shouldve": "should've",
    "shouldnt": "shouldn't", "shouldnt've": "shouldn't've", "shouldn'tve": "shouldn't've",
    "somebody'd": "somebodyd", "somebodyd've": "somebody'd've", "somebody'dve": "somebody'd've",
    "somebodyll": "somebody'll", "somebodys": "somebody's", "someoned": "someone'd",
    "someoned've": "someone'd've", "someone'dve": "someone'd've", "someonell": "someone'll",
    "someones": "someone's", "somethingd": "something'd", "somethingd've": "something'd've",
    "something'dve": "something'd've", "somethingll": "something'll", "thats": "that's",
    "thered": "there'd", "thered've": "there'd've", "there'dve": "there'd've", "therere": "there're",
    "theres": "there's", "theyd": "they'd", "theyd've": "they'd've", "they'dve": "they'd've",
    "theyll": "they'll", "theyre": "they're", "theyve": "they've", "twas": "'twas", "wasnt": "wasn't",
    "wed've": "we'd've", "we'dve": "we'd've", "weve": "we've", "werent": "weren't", "whatll": "what'll",
    "whatre": "what're", "whats": "what's", "whatve": "what've", "whens": "when's", "whered": "where'd",
    "wheres": "where's", "whereve": "where've", "whod": "who'd", "whod've": "who'd've",
    "who'dve": "who'd've", "wholl": "who'll", "whos": "who's", "whove": "who've", "whyll": "why'll",
    "whyre": "why're", "whys": "why's", "wont": "won't", "wouldve": "would've", "wouldnt": "wouldn't",
    "wouldnt've": "wouldn't've", "wouldn'tve": "wouldn't've", "yall": "y'all", "yall'll": "y'all'll",
    "y'allll": "y'all'll", "yall'd've": "y'all'd've", "y'alld've": "y'all'd've", "y'all'dve": "y'all'd've",
    "youd": "you'd", "youd've": "you'd've", "you'dve": "you'd've", "youll": "you'll", "youre": "you're",
    "youve": "you've",
}


# Gold answers repeat across a benchmark, so normalising each distinct text once pays off.
@lru_cache(maxsize=1 << 16)
def process_punctuation(text: str) -> str:
    out = text
    marks = _PUNCTUATION_SET.intersection(text)
    if marks:
        delete_all = COMMA_BETWEEN_DIGITS.search(text) is not None
        for mark in marks:  # each mark is handled alone, so their order does not matter
            # The official script tests the *original* text, not the partly cleaned one.
            if delete_all or mark + " " in text or " " + mark in text:
                out = out.replace(mark, "")
            else:
                out = out.replace(mark, " ")
    return PERIOD_STRIP.sub("", out, count=OFFICIAL_PERIOD_COUNT) if "." in out else out


def process_digit_article(text: str) -> str:
    words = [NUMBER_WORDS.get(word, word) for word in text.lower().split()]
    return " ".join(CONTRACTIONS.get(word, word) for word in words if word not in ARTICLES)


def strip_whitespace(text: str) -> str:
    """Newlines and tabs become spaces, then the ends are stripped (done to every answer first)."""
    return text.replace("\n", " ").replace("\t", " ").strip()


@lru_cache(maxsize=1 << 16)
def normalize_prediction(text: str) -> str:
    """The official full normalisation of an answer (both sides, when the gold answers differ)."""
    return process_digit_article(process_punctuation(strip_whitespace(text)))


@lru_cache(maxsize=1 << 16)
def normalize_m4c(text: str) -> str:
    """The EvalAI / m4c answer processor (LLaVA's TextVQA evaluator), applied to both sides there."""
    text = text.lower().replace(",", "").replace("?", "").replace("'s", " 's").strip()
    return process_digit_article(process_punctuation(strip_whitespace(text)))
