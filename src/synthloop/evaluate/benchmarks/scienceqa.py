"""ScienceQA `problems.json` (`{pid: {question, choices, answer index, hint, image, split, ...}}`)."""

from __future__ import annotations

import string
from pathlib import Path

from synthloop.evaluate.benchmarks.common import (
    OPTION_LETTER,
    BenchmarkError,
    field,
    load_json,
    options_block,
    question_sample,
)


def read_scienceqa(path: str | Path, split: str | None = "test") -> list[dict]:
    """One `mcvqa` sample per problem of `split` (all splits with None), id `scienceqa_<pid>`.

    The prompt follows LLaVA: the hint as `Context:`, lettered choices, the letter instruction.
    Problems with an image point to `<split>/<pid>/<image>` under the ScienceQA `images` folder;
    the others are text-only samples. `qtype` is the ScienceQA category (e.g. "Weather and climate").
    Scored with LLaVA's letter rule (`meta["metric"] = "scienceqa"`, see `scienceqa_choice`).
    """
    problems = load_json(path)
    if not isinstance(problems, dict):
        raise BenchmarkError(f"{path}: expected an object keyed by problem id")
    samples = []
    for pid, problem in problems.items():
        where = f"{path}: problem {pid}"
        if split is not None and problem.get("split") != split:
            continue
        choices = field(problem, "choices", where)
        answer_index = field(problem, "answer", where)
        if not 0 <= answer_index < len(choices):
            raise BenchmarkError(f"{where}: answer {answer_index} is not one of {len(choices)} choices")
        answer = string.ascii_uppercase[answer_index]
        question = field(problem, "question", where)
        if problem.get("hint"):
            question = f"{question}\nContext: {problem['hint']}"
        image = None
        if problem.get("image"):
            image = {"bytes": None, "path": f"{problem.get('split', split)}/{pid}/{problem['image']}"}
        meta = {"pid": pid, "answer": answer, "options": list(choices), "metric": "scienceqa",
                **{key: problem.get(key) for key in ("subject", "topic", "category", "skill", "grade", "split")}}
        samples.append(question_sample(f"scienceqa_{pid}", f"{question}\n{options_block(choices)}", answer,
                                       image=image, task="mcvqa", qtype=problem.get("category") or "scienceqa",
                                       source="scienceqa", meta=meta, instruction=OPTION_LETTER))
    return samples
