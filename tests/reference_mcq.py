"""Reference multiple-choice scorers, re-derived (not copied) from the official files; tests only.

- `vlmevalkit_can_infer`: open-compass/VLMEvalKit vlmeval/utils/matching_util.py (can_infer,
  can_infer_option, can_infer_text) at e8e78f05f3080fe28154f2130321f17951c3be94, VERBOSE unset.
- `vlmevalkit_circular`: the same commit's vlmeval/dataset/utils/multiple_choice.py mcq_circular_eval with
  prefetch_circular_group under `exact_matching` (no judge model), plus report_acc's overall mean.
- `vlmevalkit_circularize`: the same commit's vlmeval/tools.py CIRCULAR (`vlmutil circular`).
- `mmbench2023_can_infer`: open-compass/opencompass tools/eval_mmbench.py at
  6ca2be6626297b06088f0c4aabcfc30426341d78 (the original MMBench script; removed in 3a232db4).
- `scienceqa_correct`: haotian-liu/LLaVA llava/eval/eval_science_qa.py at
  c121f0432da27facab705978f83c4ada465e46fd.
- `aokvqa_eval`: allenai/aokvqa evaluation/eval_predictions.py (eval_aokvqa) at
  83786de0b24c4fef0bfe39420684f6f73d9f3581, as fractions (the script multiplies by 100 last).

Rows are plain dicts standing in for the DataFrame rows; missing cells are None (pandas NaN).
"""

import re
import string
from collections import defaultdict, deque

_REFUSALS = ["Sorry, I can't help with images of people yet.", "I can't process this file.",
             "I'm sorry, but without the image provided", "Cannot determine the answer"]
_VERBOSE = re.compile(r"(?i)(?:correct\s+)?answer\s+is\s+\**([ABCD])\**")


def _option(answer, choices):
    if "Failed to obtain answer via API" in answer:
        return False
    for refusal in _REFUSALS:
        if refusal in answer:
            return "Z"
    modified = answer
    for ch in ".()[],:;!*#{}":
        modified = modified.replace(ch, " ")
    splits = [x.strip() for x in modified.split()]
    count = sum(1 for c in choices if c in splits)
    if count == 1:
        for ch in choices:
            if ch in splits and splits.index(ch) > len(splits) - 5:
                return ch
    elif count == 0 and sum(1 for c in ("Z", "") if c in splits) == 1:
        return "Z"
    found = _VERBOSE.search(answer or "")
    if found and found.group(1).upper() in choices:
        return found.group(1).upper()
    return False


def _text(answer, choices):
    answer = answer.lower()
    if len(answer) > 2 * sum(len(str(v)) for v in choices.values()):
        return False
    lowered = {k: str(v).lower() for k, v in choices.items()}
    hits = [k for k in lowered if lowered[k] in answer]
    return hits[0] if len(hits) == 1 else False


def vlmevalkit_can_infer(answer, choices):
    """`choices` is {letter: text} for the non-missing option cells, in letter order."""
    answer = str(answer)
    return _option(answer, choices) or _text(answer, choices)


def _mmbench_option(answer):
    letters = "ABCDE"  # can_infer_option(answer, num_choice=5)
    if "Failed to obtain answer via API" in answer:
        return False
    splits = [x.strip() for x in answer.split()]

    def count(prefix="", suffix=""):
        return sum(1 for c in letters if prefix + c + suffix in splits)

    if count() == 1:
        for ch in letters:
            if "A" in splits and len(splits) > 3:
                break
            if ch in splits:
                return ch
    for prefix, suffix in [("", "."), ("", ","), ("", ":"), ("", ")"), ("", ")."), ("(", ")"), ("(", ")."),
                           (":", ""), (":", ","), (":", "."), (":", ")"), (":", ").")]:
        if count(prefix, suffix) == 1:
            for ch in letters:
                if prefix + ch + suffix in splits:
                    return ch
    return False


def mmbench2023_can_infer(answer, choices):
    """`choices` is {letter: text}; build_choices there keeps A-D only."""
    lowered = {k: str(v).lower() for k, v in choices.items() if k in "ABCD"}
    hits = [k for k in lowered if lowered[k] in answer.lower()]
    return _mmbench_option(answer) or (hits[0] if len(hits) == 1 else False)


def vlmevalkit_circular(data, meta):
    """Overall CircularEval accuracy. `data`: prediction rows {index, prediction, options}; `meta`: the
    benchmark's rows {index, answer}. None when no base row is left to score (np.mean of nothing)."""
    answer_map = {row["index"]: row["answer"] for row in meta}
    rows = sorted(({**row, "g_index": row.get("g_index", int(row["index"] % 1e6))} for row in data
                   if row["index"] in answer_map), key=lambda row: row["index"])
    main = [row for row in rows if row["index"] == row["g_index"]]
    hits = []
    for base in main:
        group = [row for row in rows if row["g_index"] == base["index"]]
        hit = 1
        for row in group:
            prediction = vlmevalkit_can_infer(str(row["prediction"]), dict(row["options"]))
            if prediction != answer_map[row["index"]]:
                hit = 0
        hits.append(hit)
    return sum(hits) / len(hits) if hits else None


def _abnormal(options):
    def letters_only(s):
        for ch in {c for c in s if c not in string.ascii_letters and c != " "}:
            s = s.replace(ch, " ")
        return s

    has_label = False
    for text in options.values():
        if len({word for word in letters_only(text).split() if word in options}) > 1:
            return True
        if text in string.ascii_uppercase:
            has_label = True
    return has_label


def vlmevalkit_circularize(rows):
    """Rows {index, options: {letter: text}, answer} -> the circular file's rows, in its order, each with
    index, g_index, options, answer and `image` (the base index for copies, None for the originals)."""
    offset = 1e6
    while max(row["index"] for row in rows) >= offset:
        offset *= 10
    groups = defaultdict(list)
    for row in rows:
        n = len(row["options"])
        bad = _abnormal(row["options"]) or n == 0 or len(row["answer"]) > 1 \
            or row["answer"] not in string.ascii_uppercase[:n]
        groups["abnormal" if bad else n].append(row)
    out = []
    for key, members in groups.items():
        if key == "abnormal":
            out += [{**row, "g_index": row["index"], "image": None} for row in members]
            continue
        labels = list(string.ascii_uppercase[:key])
        rotations = [labels]
        turning = deque(labels)
        for _ in range(key - 1):
            turning.rotate(1)
            rotations.append(list(turning))
        for i, rotation in enumerate(rotations):
            for row in members:
                if i == 0:
                    out.append({**row, "g_index": row["index"], "image": None})
                    continue
                mapping = dict(zip(labels, rotation))
                options = {}
                for source, target in mapping.items():
                    options[target] = row["options"][source]
                index = int(row["index"] + offset * i)
                out.append({**row, "index": index, "g_index": int(index % offset), "image": int(index % offset),
                            "answer": mapping[row["answer"]], "options": {k: options[k] for k in labels}})
    return out


def scienceqa_correct(pred_text, n_choices, answer_index):
    """1 when eval_science_qa.py counts the prediction as correct (default --options A-E)."""
    options = ["A", "B", "C", "D", "E"]
    if pred_text in options:
        answer = pred_text
    elif len(pred_text) >= 3 and pred_text[0] in options and pred_text[1:3] == ". ":
        answer = pred_text[0]
    else:
        found = re.compile(r"The answer is ([A-Z]).").findall(pred_text)
        answer = found[0] if len(found) == 1 else "FAILED"
    pred_idx = options.index(answer) if answer in options[:n_choices] else -1
    return int(pred_idx == answer_index)


def aokvqa_eval(dataset, preds, multiple_choice):
    """eval_aokvqa(dataset, preds, multiple_choice, strict=False) / 100."""
    by_id = {q["question_id"]: q for q in dataset}
    if not multiple_choice:
        by_id = {k: v for k, v in by_id.items() if v["difficult_direct_answer"] is False}
    acc = []
    for qid, q in by_id.items():
        if qid not in preds:
            acc.append(0.0)
        elif multiple_choice:
            acc.append(float(preds[qid] == q["choices"][q["correct_choice_idx"]]))
        else:
            acc.append(min(1.0, sum([preds[qid] == da for da in q["direct_answers"]]) / 3.0))
    return sum(acc) / len(acc)
