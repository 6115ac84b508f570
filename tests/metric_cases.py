"""Seeded random and adversarial cases for the differential metric tests (and benchmarks/metric_agreement.py).

Each generator takes a `random.Random` and yields one case at a time. The pools hold the inputs
where the official scorers are known to be subtle: number words, articles, contractions, punctuation
next to spaces and between digits, more than 32 periods, Unicode digits and spaces, option letters
with affixes, refusals, option texts that contain each other or are letters, boxes whose IoU is
exactly one half.
"""

import string

VQA_ATOMS = ["two", "2", "Two", "2.", "two.", "TWO", "ten", "10", "none", "0", "zero", "a dog", "the dog", "dog",
             "Dog.", "an apple", "apple", "dont", "don't", "Dont", "Im", "im", "i'm", "yes", "Yes", "yes.", "yes!",
             "no", "red/blue", "red blue", "red, blue", "redblue", "1,000", "1000", "1,000 red/blue", "3.5", "3 . 5",
             "e.g. this", "eg this", "cat's", "cat 's", "cats", "what's", "whats", " yes", "yes\n", "yes\t",
             "\u0663,\u0664", "\u0663\u0664", "left-hand", "left hand", "(a)", "a", "the", "A", "5 feet", "five feet",
             "x" + "." * 40, "x" + ". " * 40, "a.b." * 20, "1.5.", "st.", "st", "u.s.a.", "usa", "100%",
             "hello\u00a0world", "hello world", "ma'am", "maam", "?", "why?", "why", "i'dve", "Id've"]


def vqa_case(rng):
    """(prediction, 10 gold answers)."""
    pool = rng.sample(VQA_ATOMS, rng.randint(1, 4))
    if rng.random() < 0.3:
        answers = [pool[0]] * 10
    else:
        answers = [rng.choice(pool) for _ in range(10)]
    if rng.random() < 0.2:
        answers = [rng.choice(pool) for _ in range(rng.randint(2, 12))]
    prediction = rng.choice(pool + [rng.choice(VQA_ATOMS)] + [rng.choice(pool) + rng.choice(["", ".", " ", "!"])])
    return prediction, answers


def vqa10_case(rng):
    prediction, answers = vqa_case(rng)
    return prediction, (answers * 10)[:10]


OPTION_TEXTS = ["dog", "cat", "bird", "cow", "red", "dark red", "bed", "bedroom", "sink", "A", "B", "None", "none",
                "N/A", "yes", "no", "A and B", "Plan A", "C.", "the left one", "left", "E", "Z", "1", "1.5", "api"]
PREDICTION_TEMPLATES = ["{L}", "({L})", "{L}.", "{L}:", ":{L}", "({L}).", "{L})", "[{L}]", "**{L}**", "{L},",
                        "The answer is {L}.", "The answer is ({L})", "answer is **{l}**", "Correct answer is {L}",
                        "I think {L} because it is {T}", "{L} {L}", "{L} and {M}", "{L}. {T}", "{T}", "It is {T}.",
                        "a {T}", "{t}", "A {T} is on the left", "A cat is sleeping on the mat", "Z", "I choose Z",
                        "Sorry, I can't help with images of people yet.", "Cannot determine the answer",
                        "Failed to obtain answer via API", "Failed to obtain answer via API {L}", "", "{L}\n",
                        "option {L} is right, not {M}, not {N}, not really", "{L} is the one. That is all I know",
                        "#{L}", "{L}!", "{L};", "{T} {T2}", "none", "None", "{t} or {t2}", "E", "(E)", "e"]


def options_case(rng, max_options=6):
    n = rng.randint(2, max_options)
    texts = rng.sample(OPTION_TEXTS, n)
    return {string.ascii_uppercase[i]: text for i, text in enumerate(texts)}


def prediction_for(rng, options):
    letters = list(options) + ["A", "B", "E", "Z"]
    texts = list(options.values()) + [rng.choice(OPTION_TEXTS)]
    return rng.choice(PREDICTION_TEMPLATES).format(
        L=rng.choice(letters), M=rng.choice(letters), N=rng.choice(letters), l=rng.choice(letters).lower(),
        T=rng.choice(texts), T2=rng.choice(texts), t=rng.choice(texts).lower(), t2=rng.choice(texts).lower())


def option_case(rng):
    """(prediction, {letter: option text})."""
    options = options_case(rng)
    return prediction_for(rng, options), options


def circular_case(rng):
    """(prediction rows {index, prediction, options, answer}, benchmark rows {index, answer}): a few
    questions with rotations, some base rows or rotations missing, some rotations failed (None)."""
    data, meta = [], []
    for base in rng.sample(range(1, 40), rng.randint(1, 5)):
        for k in range(rng.randint(1, 4)):
            options = options_case(rng, 4)
            row = {"index": base + k * 1_000_000, "options": options, "answer": rng.choice(list(options))}
            meta.append({"index": row["index"], "answer": row["answer"]})
            if rng.random() < 0.15:
                continue  # never predicted: missing from the prediction file
            right = rng.random() < 0.6
            row["prediction"] = None if rng.random() < 0.08 else (
                row["answer"] if right else prediction_for(rng, options))
            data.append(row)
    rng.shuffle(data)
    return data, meta


# No texts pandas reads as missing here: VLMEvalKit's tool refuses the gaps they leave (see the TSV tests).
MMBENCH_TEXTS = [t for t in OPTION_TEXTS if t not in ("None", "none", "N/A")] + ["A B", "B C", "ABC", "XYZ", "X-Y",
                                                                               "(A) dog", "AB", "D"]


def mmbench_rows_case(rng):
    """Benchmark rows {index, options, answer} with 2-5 contiguous options (CircularEval input)."""
    rows = []
    big = rng.random() < 0.2
    for base in rng.sample(range(0, 60), rng.randint(1, 6)):
        n = rng.randint(2, 5)
        texts = rng.sample(MMBENCH_TEXTS, n)
        options = {string.ascii_uppercase[i]: text for i, text in enumerate(texts)}
        answer = rng.choice(list(options) + (["AB"] if rng.random() < 0.05 else []))
        rows.append({"index": base + (2_000_000 if big else 0), "options": options, "answer": answer})
    return rows


AOKVQA_CHOICES = ["sink", "bedroom", "red", "bed", "bus", "car", "cab", "taxi", "train", "A", "B", "a bus", "Red"]


def aokvqa_case(rng):
    """(question record in the A-OKVQA schema, prediction)."""
    choices = rng.sample(AOKVQA_CHOICES, 4)
    if rng.random() < 0.1:
        choices[rng.randrange(4)] = choices[rng.randrange(4)]  # duplicated choice texts
    correct = rng.randrange(4)
    direct = [rng.choice(choices + ["Bed", "bed "]) for _ in range(10)]
    record = {"question_id": f"q{rng.randrange(10**9)}", "image_id": rng.randrange(1000), "question": "What?",
              "choices": choices, "correct_choice_idx": correct, "direct_answers": direct,
              "difficult_direct_answer": rng.random() < 0.2, "rationales": []}
    options = {string.ascii_uppercase[i]: text for i, text in enumerate(choices)}
    prediction = rng.choice([rng.choice(choices), prediction_for(rng, options), rng.choice(direct)])
    return record, prediction


SCIENCEQA_TEMPLATES = ["{L}", "{L}. {T}", "{L}.", "{L}.{T}", " {L}", "{L} ", "({L})", "{l}", "The answer is {L}.",
                       "The answer is {L}", "The answer is {L}. The answer is {M}.", "The answer is {l}.",
                       "Answer: {L}", "{T}", "", "FAILED", "E", "E. {T}", "{L}. ", "{L}:"]


def scienceqa_case(rng):
    """(problem in the ScienceQA problems.json schema, prediction)."""
    n = rng.randint(2, 5)
    choices = rng.sample(OPTION_TEXTS, n)
    problem = {"question": "Which?", "choices": choices, "answer": rng.randrange(n), "hint": "", "image": None,
               "split": "test", "category": "c", "subject": "s", "topic": "t", "skill": "k", "grade": "g1"}
    letters = "ABCDEFG"
    prediction = rng.choice(SCIENCEQA_TEMPLATES).format(
        L=rng.choice(letters[:n + 1]), M=rng.choice(letters[:n]), l=rng.choice(letters[:n]).lower(),
        T=rng.choice(choices))
    return problem, prediction


def _decimal(rng):
    step = rng.choice([1, 2, 4, 5, 10, 20, 25, 50, 100, 1000])
    return rng.randrange(0, step + 1) / step


def rec_case(rng):
    """(prediction: text or list of 4 numbers, gold box): many pairs with IoU exactly 1/2."""
    x1, y1 = sorted((_decimal(rng), _decimal(rng))), sorted((_decimal(rng), _decimal(rng)))
    gold = [x1[0], y1[0], x1[1], y1[1]]
    kind = rng.random()
    if kind < 0.5:  # half the gold box's width or height: IoU exactly 1/2 when the halving is exact
        box = list(gold)
        if rng.random() < 0.5:
            box[2] = round(gold[0] + (gold[2] - gold[0]) / 2, rng.choice([2, 3, 6]))
        else:
            box[3] = round(gold[1] + (gold[3] - gold[1]) / 2, rng.choice([2, 3, 6]))
    elif kind < 0.7:  # the gold box is half of a box twice as large
        box = [gold[0], gold[1], round(2 * gold[2] - gold[0], 6), gold[3]]
    else:
        xs, ys = sorted((_decimal(rng), _decimal(rng))), sorted((_decimal(rng), _decimal(rng)))
        box = [xs[0], ys[0], xs[1], ys[1]]
    style = rng.random()
    if style < 0.4:
        return box, gold
    if style < 0.8:
        return "[" + ", ".join(repr(v) for v in box) + "]", gold
    return "the box [" + ",".join(f"{v:.3f}" for v in box) + "]", gold
