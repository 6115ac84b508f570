"""Pairs (ours, reference) per metric on seeded cases: what the differential test and
benchmarks/metric_agreement.py count disagreements over. Ours goes through the public functions
and, for A-OKVQA and ScienceQA, through the benchmark readers and `score_prediction`."""

import base64
import csv
import json
import random
import tempfile
from pathlib import Path

import metric_cases as cases
import pandas
import reference_mcq
import reference_rec
import reference_vqa

from synthloop.evaluate.benchmarks import circular_copies, read_aokvqa, read_mmbench, read_scienceqa
from synthloop.evaluate.metrics import parse_box, rec_scores, vqa_accuracy, vqa_accuracy_m4c
from synthloop.evaluate.multiple_choice import circular_accuracy, match_option
from synthloop.evaluate.scoring import score_prediction
from synthloop.images import encode_png
from PIL import Image


def vqa(rng, folder):
    prediction, answers = cases.vqa_case(rng)
    return vqa_accuracy(prediction, answers), reference_vqa.official_vqa_accuracy(prediction, answers)


def m4c(rng, folder):
    prediction, answers = cases.vqa10_case(rng)
    return vqa_accuracy_m4c(prediction, answers), reference_vqa.m4c_accuracy(prediction, answers)


def option_vlmevalkit(rng, folder):
    prediction, options = cases.option_case(rng)
    return match_option(prediction, options), reference_mcq.vlmevalkit_can_infer(prediction, options) or None


def option_mmbench2023(rng, folder):
    prediction, options = cases.option_case(rng)
    return (match_option(prediction, options, rule="mmbench2023"),
            reference_mcq.mmbench2023_can_infer(prediction, options) or None)


def circular(rng, folder):
    data, meta = cases.circular_case(rng)
    try:
        ours = circular_accuracy(data)
    except ValueError:
        ours = None
    failed_as_empty = [{**row, "prediction": row["prediction"] or ""} for row in data]
    return ours, reference_mcq.vlmevalkit_circular(failed_as_empty, meta)


_PNG = base64.b64encode(encode_png(Image.new("RGB", (1, 1)))).decode()


def circular_copy(rng, folder):
    rows = cases.mmbench_rows_case(rng)
    path = Path(folder) / "mmbench.tsv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t")
        writer.writerow(["index", "question", "A", "B", "C", "D", "E", "answer", "image"])
        for row in rows:
            cells = [row["options"].get(letter, "") for letter in "ABCDE"]
            writer.writerow([row["index"], "Which?", *cells, row["answer"], _PNG])
    ours = [(s["meta"]["index"], s["meta"].get("answer"), s["meta"]["options"])
            for s in circular_copies(read_mmbench(path))]
    # The reference sees the rows as VLMEvalKit loads them: pandas.read_csv(sep="\t"), NaN for missing.
    loaded = [{"index": row["index"], "answer": row["answer"],
               "options": {k: str(row[k]) for k in "ABCDE" if not pandas.isna(row[k])}}
              for row in pandas.read_csv(path, sep="\t").to_dict("records")]
    reference = [(r["index"], r["answer"], r["options"]) for r in reference_mcq.vlmevalkit_circularize(loaded)]
    return ours, reference


def aokvqa_mc(rng, folder):
    record, prediction = cases.aokvqa_case(rng)
    path = Path(folder) / "aokvqa.json"
    path.write_text(json.dumps([record]))
    ours = [score_prediction(sample, prediction) for sample in read_aokvqa(path, setting="mc")]
    submitted = reference_mcq_submission(prediction, record["choices"])
    return ours, [reference_mcq.aokvqa_eval([record], {record["question_id"]: submitted}, True)]


def reference_mcq_submission(prediction, choices):
    """The choice text we submit, re-derived from the reference can_infer (see `aokvqa_choice`)."""
    if prediction in choices:
        return prediction
    letter = reference_mcq.vlmevalkit_can_infer(prediction, dict(zip("ABCD", choices)))
    return choices["ABCD".index(letter)] if letter and letter in "ABCD" else prediction


def aokvqa_da(rng, folder):
    record, prediction = cases.aokvqa_case(rng)
    path = Path(folder) / "aokvqa.json"
    path.write_text(json.dumps([record]))
    ours = [score_prediction(sample, prediction) for sample in read_aokvqa(path, setting="da")]
    if record["difficult_direct_answer"] is not False:
        return ours, []
    return ours, [reference_mcq.aokvqa_eval([record], {record["question_id"]: prediction}, False)]


def scienceqa(rng, folder):
    problem, prediction = cases.scienceqa_case(rng)
    path = Path(folder) / "problems.json"
    path.write_text(json.dumps({"1": problem}))
    (sample,) = read_scienceqa(path)
    reference = reference_mcq.scienceqa_correct(prediction, len(problem["choices"]), problem["answer"])
    return score_prediction(sample, prediction), float(reference)


def rec(rng, folder):
    prediction, gold = cases.rec_case(rng)
    box = (parse_box(prediction) if isinstance(prediction, str) else prediction) or [0.0] * 4
    return float(rec_scores([prediction], [gold])[0]), float(reference_rec.exact_rec_hit(box, gold))


COMPARISONS = {"vqa_accuracy": vqa, "vqa_accuracy_m4c": m4c, "match_option (vlmevalkit)": option_vlmevalkit,
               "match_option (mmbench2023)": option_mmbench2023, "circular_accuracy": circular,
               "circular_copies": circular_copy, "aokvqa mc (read_aokvqa + score)": aokvqa_mc,
               "aokvqa da (read_aokvqa + score)": aokvqa_da, "scienceqa (read_scienceqa + score)": scienceqa,
               "rec (IoU > 0.5)": rec}


def disagreements(name, n, seed=0):
    """(disagreeing cases, first few examples) over n seeded cases of one comparison."""
    rng = random.Random(f"{name}:{seed}")
    count, examples = 0, []
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(n):
            ours, reference = COMPARISONS[name](rng, folder)
            if ours != reference:
                count += 1
                if len(examples) < 3:
                    examples.append((ours, reference))
    return count, examples
