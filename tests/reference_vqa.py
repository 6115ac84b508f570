"""Reference VQA scorers, re-derived (not copied) from the official files, for differential tests only.

- `official_vqa_accuracy`: GT-Vision-Lab/VQA PythonEvaluationTools/vqaEvaluation/vqaEval.py at
  a013f0043c1e2cdc995922dfe257f7149aa9af06 ("Fixed processing answers bug", 2021), the evaluate() loop
  for one question, run as Python 3 code (str patterns, so `\\d` is any Unicode digit).
- `m4c_accuracy`: haotian-liu/LLaVA llava/eval/m4c_evaluator.py at c121f0432da27facab705978f83c4ada465e46fd,
  EvalAIAnswerProcessor + TextVQAAccuracyEvaluator for one entry.

Written step by step as those files do them, deliberately not sharing code with synthloop.
"""

import re

_PUNCT = [";", "/", "[", "]", '"', "{", "}", "(", ")", "=", "+", "\\", "_", "-", ">", "<", "@", "`", ",", "?",
          "!"]
_NUMBERS = {"none": "0", "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6",
            "seven": "7", "eight": "8", "nine": "9", "ten": "10"}
_ARTICLES = ["a", "an", "the"]
# The official pattern: a lookahead spelled like a lookbehind, so it only asks "no digit after the dot".
_PERIOD = re.compile(r"(?!<=\d)(\.)(?!\d)")
_VQA_COMMA = re.compile(r"(\d)(\,)(\d)")
_M4C_COMMA = re.compile(r"(?<=\d)(\,)+(?=\d)")
# The third positional argument of Pattern.sub is `count`; the official files pass re.UNICODE (32) there.
_OFFICIAL_COUNT = int(re.UNICODE)


def _contractions():
    # The official table, as pairs (word without apostrophe -> with).
    pairs = """aint ain't|arent aren't|cant can't|couldve could've|couldnt couldn't|couldn'tve couldn't've|
    couldnt've couldn't've|didnt didn't|doesnt doesn't|dont don't|hadnt hadn't|hadnt've hadn't've|
    hadn'tve hadn't've|hasnt hasn't|havent haven't|hed he'd|hed've he'd've|he'dve he'd've|hes he's|howd how'd|
    howll how'll|hows how's|Id've I'd've|I'dve I'd've|Im I'm|Ive I've|isnt isn't|itd it'd|itd've it'd've|
    it'dve it'd've|itll it'll|let's let's|maam ma'am|mightnt mightn't|mightnt've mightn't've|
    mightn'tve mightn't've|mightve might've|mustnt mustn't|mustve must've|neednt needn't|notve not've|
    oclock o'clock|oughtnt oughtn't|ow's'at 'ow's'at|'ows'at 'ow's'at|'ow'sat 'ow's'at|shant shan't|
    shed've she'd've|she'dve she'd've|she's she's|shouldve should've|shouldnt shouldn't|shouldnt've shouldn't've|
    shouldn'tve shouldn't've|somebody'd somebodyd|somebodyd've somebody'd've|somebody'dve somebody'd've|
    somebodyll somebody'll|somebodys somebody's|someoned someone'd|someoned've someone'd've|
    someone'dve someone'd've|someonell someone'll|someones someone's|somethingd something'd|
    somethingd've something'd've|something'dve something'd've|somethingll something'll|thats that's|
    thered there'd|thered've there'd've|there'dve there'd've|therere there're|theres there's|theyd they'd|
    theyd've they'd've|they'dve they'd've|theyll they'll|theyre they're|theyve they've|twas 'twas|wasnt wasn't|
    wed've we'd've|we'dve we'd've|weve we've|werent weren't|whatll what'll|whatre what're|whats what's|
    whatve what've|whens when's|whered where'd|wheres where's|whereve where've|whod who'd|whod've who'd've|
    who'dve who'd've|wholl who'll|whos who's|whove who've|whyll why'll|whyre why're|whys why's|wont won't|
    wouldve would've|wouldnt wouldn't|wouldnt've wouldn't've|wouldn'tve wouldn't've|yall y'all|
    yall'll y'all'll|y'allll y'all'll|yall'd've y'all'd've|y'alld've y'all'd've|y'all'dve y'all'd've|
    youd you'd|youd've you'd've|you'dve you'd've|youll you'll|youre you're|youve you've"""
    return dict(pair.split() for pair in pairs.replace("\n", "").split("|"))


CONTRACTIONS = _contractions()


def _punctuation(in_text, comma_pattern):
    out_text = in_text
    for p in _PUNCT:
        if (p + " " in in_text or " " + p in in_text) or re.search(comma_pattern, in_text) is not None:
            out_text = out_text.replace(p, "")
        else:
            out_text = out_text.replace(p, " ")
    return _PERIOD.sub("", out_text, _OFFICIAL_COUNT)


def _digit_article(in_text):
    words = []
    for word in in_text.lower().split():
        word = _NUMBERS.get(word, word)
        if word not in _ARTICLES:
            words.append(word)
    return " ".join(CONTRACTIONS.get(word, word) for word in words)


def _clean(text):
    return text.replace("\n", " ").replace("\t", " ").strip()


def official_vqa_accuracy(prediction, gold_answers):
    """One question's accuracy in vqaEval.py's evaluate() (before its rounding to percent)."""
    gts = [_clean(answer) for answer in gold_answers]
    res = _clean(prediction)
    if len(set(gts)) > 1:
        gts = [_digit_article(_punctuation(answer, _VQA_COMMA)) for answer in gts]
        res = _digit_article(_punctuation(res, _VQA_COMMA))
    accs = []
    for i in range(len(gts)):  # answers are dicts with distinct answer_ids there: "others" is by position
        others = gts[:i] + gts[i + 1:]
        accs.append(min(1, float(len([other for other in others if other == res])) / 3))
    total = 0  # Python 2's sum(): plain left-to-right addition
    for acc in accs:
        total = total + acc
    return float(total) / len(accs)


def m4c_process(item):
    """EvalAIAnswerProcessor.__call__."""
    item = item.lower().replace(",", "").replace("?", "").replace("'s", " 's").strip()
    item = _clean(item)
    return _digit_article(_punctuation(item, _M4C_COMMA))


def m4c_accuracy(prediction, gold_answers):
    """TextVQAAccuracyEvaluator.eval_pred_list for a single entry."""
    answers = [m4c_process(answer) for answer in gold_answers]
    assert len(answers) == 10
    indexed = list(enumerate(answers))
    scores = {}
    for unique in set(answers):
        accs = []
        for gt in indexed:
            others = [item for item in indexed if item != gt]
            accs.append(min(1, float(len([item for item in others if item[1] == unique])) / 3))
        scores[unique] = sum(accs) / len(accs)
    return scores.get(m4c_process(prediction), 0.0)
