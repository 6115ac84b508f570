"""The official scoring files themselves, run unmodified beside our metrics on the seeded cases of
tests/metric_cases.py: disagreements per metric (0 expected). Give the files you downloaded:

    PYTHONPATH=src:tests .venv/bin/python benchmarks/official_scorers.py \\
        --m4c LLaVA/llava/eval/m4c_evaluator.py \\
        --matching-util VLMEvalKit/vlmeval/utils/matching_util.py \\
        --eval-mmbench opencompass-6ca2be6/tools/eval_mmbench.py \\
        --aokvqa aokvqa/   # the repository: evaluation/eval_predictions.py and load_aokvqa.py

Any subset of the four may be given. The package imports those files make only for logging or for a
judge model (vlmeval.smp.log, opencompass.models) are stood in by empty modules. vqaEval.py is
Python 2 and eval_science_qa.py runs only as a script, so those two are checked through the
re-derived references in tests/ (tests/test_eval_differential.py) instead.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import random
import sys
import tempfile
import types
from pathlib import Path

import metric_cases as cases

from synthloop.evaluate.benchmarks import read_aokvqa
from synthloop.evaluate.metrics import vqa_accuracy_m4c
from synthloop.evaluate.multiple_choice import aokvqa_choice, match_option
from synthloop.evaluate.scoring import score_prediction


def load(name: str, path: Path) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def stand_in(name: str, **attributes: object) -> None:
    for depth in range(1, name.count(".") + 2):
        sys.modules.setdefault(".".join(name.split(".")[:depth]), types.ModuleType(name))
    sys.modules[name].__dict__.update(attributes)


def count(label: str, n: int, seed: str, disagrees) -> None:
    rng = random.Random(seed)
    print(f"{label:<64} {sum(bool(disagrees(rng)) for _ in range(n)):>5} of {n}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--m4c", type=Path)
    parser.add_argument("--matching-util", type=Path)
    parser.add_argument("--eval-mmbench", type=Path)
    parser.add_argument("--aokvqa", type=Path)
    parser.add_argument("-n", type=int, default=3000)
    args = parser.parse_args()
    if args.m4c:
        evaluator = load("m4c_evaluator", args.m4c).TextVQAAccuracyEvaluator()

        def m4c(rng: random.Random) -> bool:
            prediction, answers = cases.vqa10_case(rng)
            official = evaluator.eval_pred_list([{"pred_answer": prediction, "gt_answers": list(answers)}])
            return vqa_accuracy_m4c(prediction, answers) != official

        count("vqa_accuracy_m4c vs m4c_evaluator.py", args.n, "m4c", m4c)
    if args.matching_util:
        stand_in("vlmeval.smp.log", get_logger=logging.getLogger)
        matching = load("matching_util", args.matching_util)

        def vlmevalkit(rng: random.Random) -> bool:
            prediction, options = cases.option_case(rng)
            return match_option(prediction, options) != (matching.can_infer(prediction, dict(options)) or None)

        count("match_option vs VLMEvalKit can_infer", args.n, "can_infer", vlmevalkit)
    if args.eval_mmbench:
        stand_in("opencompass.models", OpenAI=object)
        mmbench = load("eval_mmbench", args.eval_mmbench)

        def mmbench2023(rng: random.Random) -> bool:
            prediction, options = cases.option_case(rng)
            official = mmbench.can_infer(prediction, {k: v for k, v in options.items() if k in "ABCD"}) or None
            return match_option(prediction, options, rule="mmbench2023") != official

        count("match_option(rule='mmbench2023') vs eval_mmbench.py can_infer", args.n, "mmbench2023", mmbench2023)
    if args.aokvqa:
        sys.path.insert(0, str(args.aokvqa))
        official_eval = load("eval_predictions", args.aokvqa / "evaluation" / "eval_predictions.py").eval_aokvqa
        folder = Path(tempfile.mkdtemp())

        def aokvqa(rng: random.Random) -> bool:
            record, prediction = cases.aokvqa_case(rng)
            (folder / "aokvqa.json").write_text(json.dumps([record]))
            [sample] = read_aokvqa(folder / "aokvqa.json", setting="mc")
            submitted = {record["question_id"]: aokvqa_choice(prediction, record["choices"])}
            official = official_eval([record], submitted, multiple_choice=True, strict=False) / 100
            return score_prediction(sample, prediction) != official

        count("read_aokvqa + score vs eval_aokvqa on the submitted choice", args.n, "aokvqa", aokvqa)


if __name__ == "__main__":
    main()
