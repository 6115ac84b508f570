"""Score a model on benchmark samples; write results, predictions, bad cases and per-type weights.

Outputs in `out` (DataEngine's evaluation layout, MLLM-DataEngine `engine_pipeline/data_demo`):
- `results.json`: `{"overall", "per_qtype", "per_task", "n", "errors"}` (+ `"circular"` with CircularEval rows);
- `samples.jsonl`: one line per sample: id, task, qtype, prediction, score, gold (or error);
- `bad_case_<qtype>.json`: `{qtype: [case, ...]}`, cases scored below `bad_threshold`, each with
  DataEngine's fields (idx, question, choices, correct_choice_idx, direct_answers, model_answer,
  question_type, prompt, image_path) plus score, gold and the canonical `messages`, so they serve
  as in-context examples for targeted synthesis;
- `weights.json`: `{qtype: error rate}` (1 - accuracy, 3 decimals), DataEngine's `weight.json`;
- the predictions in the official submission layouts (`submissions`): EvalAI's VQAv2/TextVQA JSON,
  MMBench's tsv/xlsx, A-OKVQA's and ScienceQA's prediction files, lmms-eval's per-sample log.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Literal

import orjson

from synthloop.evaluate.benchmarks.common import INSTRUCTIONS
from synthloop.evaluate.multiple_choice import circular_hits, option_letters
from synthloop.evaluate.scoring import (
    NoGold,
    gold_of,
    option_candidates,
    prompt_messages,
    reference_reply,
    score_prediction,
)
from synthloop.evaluate.prediction_cache import PredictionCache
from synthloop.evaluate.submissions import Submissions
from synthloop.images import ImageError, decode, image_bytes
from synthloop.models.protocols import Request
from synthloop.sample import IMAGE_TOKEN


_OBJECT_ADDRESS = re.compile(r"<[^<>]* at 0x[0-9a-fA-F]+>")


def evaluate(model: Any, samples: Iterable[dict], out: Path | None = None, batch_size: int = 64, *,
             image_root: str | Path | None = None, max_new_tokens: int = 64,
             mc_scoring: Literal["generate", "likelihood"] = "generate", bad_threshold: float = 0.5,
             max_bad_cases: int = 500, on_batch: Callable[[int], None] | None = None,
             cache: PredictionCache | None = None) -> dict:
    """Score every sample with batched model calls and return `results.json`'s content.

    `samples` may be any iterable: it is streamed, so at most two batches of full samples (images
    included) are held at a time. `model` implements `Generator` (and `OptionScorer` for
    `mc_scoring="likelihood"`, where a multiple-choice answer is the option with the highest
    log-likelihood). A sample whose image cannot be read or that has no gold answer is not scored:
    it is counted in `errors` and listed with its error in `samples.jsonl`. Bad cases are the first
    `max_bad_cases` per qtype, in input order, scored below `bad_threshold`. `on_batch(n)` is
    called after each model call on n samples. With a `cache`, predictions it holds are not asked
    again and new ones are added to it as each batch is answered (`prediction_cache`).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, not {batch_size}")
    if mc_scoring == "likelihood" and not hasattr(model, "score_options"):
        raise ValueError("mc_scoring='likelihood' needs a model with score_options (the OptionScorer protocol)")
    rows: list[dict] = []
    bad: dict[str, list[tuple[int, dict]]] = defaultdict(list)
    pending: dict[bool, list[tuple[int, dict]]] = {False: [], True: []}  # likelihood? -> (position, sample)
    submissions = Submissions()

    def flush(likelihood: bool) -> None:
        batch, pending[likelihood] = pending[likelihood], []
        scored = _run_batch(model, [sample for _, sample in batch], likelihood, image_root, max_new_tokens, cache)
        for (position, sample), row in zip(batch, scored, strict=True):
            rows[position] = row
            submissions.add(position, sample, row)
            if "score" in row and row["score"] < bad_threshold:
                cases = bad[sample["qtype"]]
                cases.append((position, bad_case(sample, row)))
                if len(cases) > 2 * max_bad_cases:  # batches of both kinds interleave: keep the earliest
                    cases[:] = sorted(cases, key=lambda case: case[0])[:max_bad_cases]
        if on_batch is not None:
            on_batch(len(batch))

    for sample in samples:
        likelihood = mc_scoring == "likelihood" and _has_options(sample)
        pending[likelihood].append((len(rows), sample))
        rows.append({})
        if len(pending[likelihood]) == batch_size:
            flush(likelihood)
    for likelihood in (False, True):
        if pending[likelihood]:
            flush(likelihood)
    results = summarize(rows)
    if out is not None:
        cases = {q: [case for _, case in sorted(found, key=lambda c: c[0])[:max_bad_cases]]
                 for q, found in bad.items()}
        write_outputs(Path(out), rows, results, cases)
        submissions.write(Path(out))
    return results


def _has_options(sample: dict) -> bool:
    meta = sample["meta"]
    return sample["task"] == "mcvqa" and bool(meta.get("options") or meta.get("choices"))


def _run_batch(model: Any, batch: list[dict], likelihood: bool, image_root: str | Path | None,
               max_new_tokens: int, cache: PredictionCache | None = None) -> list[dict]:
    """One model call for the batch; a row per sample with its prediction and score, or its error."""
    rows = [_row(sample) for sample in batch]
    requests, ready = [], []
    for row, sample in zip(rows, batch):
        try:
            row["gold"] = gold_of(sample)
            images = [decode(image_bytes(ref, image_root)) for ref in sample["images"]]
        except NoGold as err:
            row["error"] = str(err)
            continue
        except ImageError as err:
            # Pillow's message names the buffer's memory address; drop it so outputs are reproducible.
            row["error"] = f"sample {sample['id']!r}: " + _OBJECT_ADDRESS.sub("<bytes>", str(err))
            continue
        requests.append(Request(images=images, messages=prompt_messages(sample)))
        ready.append((row, sample))
    if not requests:
        return rows
    try:
        predictions: list[str | None] = list(_predict(model, requests, [s for _, s in ready], likelihood,
                                                      max_new_tokens, cache))
    except ValueError:
        # One request the model rejects (e.g. longer than its context) fails the whole call:
        # ask again one by one so that only the rejected samples go unscored.
        predictions = []
        for request, (row, sample) in zip(requests, ready):
            try:
                predictions += _predict(model, [request], [sample], likelihood, max_new_tokens, cache)
            except ValueError as err:
                row["error"] = f"sample {sample['id']!r}: the model rejected it: {err}"
                predictions.append(None)
    for (row, sample), prediction in zip(ready, predictions, strict=True):
        if prediction is not None:
            row["prediction"] = prediction
            row["score"] = score_prediction(sample, prediction)
    return rows


def _predict(model: Any, requests: list[Request], samples: list[dict], likelihood: bool, max_new_tokens: int,
             cache: PredictionCache | None) -> list[str]:
    """The model's answers, those the cache holds read from it, the others asked and added to it."""
    if cache is None:
        return _ask(model, requests, samples, likelihood, max_new_tokens)
    keys = [cache.key(sample, [request.messages, option_candidates(sample) if likelihood else None],
                      likelihood=likelihood, max_new_tokens=max_new_tokens)
            for request, sample in zip(requests, samples, strict=True)]
    missing = [i for i, key in enumerate(keys) if key not in cache.found]
    if missing:
        asked = [samples[i] for i in missing]
        answers = _ask(model, [requests[i] for i in missing], asked, likelihood, max_new_tokens)
        cache.add([keys[i] for i in missing], asked, answers)
    return [cache.found[key] for key in keys]


def _ask(model: Any, requests: list[Request], samples: list[dict], likelihood: bool,
         max_new_tokens: int) -> list[str]:
    if not likelihood:
        return [g.text for g in model.generate(requests, max_new_tokens=max_new_tokens)]
    candidates = [option_candidates(sample) for sample in samples]
    scores = model.score_options(requests, [replies for _, replies in candidates])
    return [letters[max(range(len(s)), key=s.__getitem__)] for (letters, _), s in zip(candidates, scores)]


def _row(sample: dict) -> dict:
    row = {"id": sample["id"], "task": sample["task"], "qtype": sample["qtype"], "source": sample["source"]}
    if "circular_index" in sample["meta"]:  # a benchmark reader's CircularEval row (MMBench's)
        row["index"] = sample["meta"]["circular_index"]
    return row


def summarize(rows: Iterable[dict]) -> dict:
    """Mean score overall, per qtype and per task over the scored rows (micro averages).

    With CircularEval rows (`index`, from a sample's `circular_index`), `circular` is VLMEvalKit's
    CircularEval over the questions whose base row is there: a question counts only if every row of it
    scored 1, and a row that has gold but failed (unreadable image, rejected by the model) counts as a
    wrong rotation, not as no rotation.
    """
    per_qtype: dict[str, list[float]] = defaultdict(list)
    per_task: dict[str, list[float]] = defaultdict(list)
    scores, errors, circular_rows = [], 0, []
    for row in rows:
        if "index" in row and ("score" in row or "gold" in row):
            circular_rows.append((row["index"], row.get("score") == 1.0))
        if "score" not in row:
            errors += 1
            continue
        scores.append(row["score"])
        per_qtype[row["qtype"]].append(row["score"])
        per_task[row["task"]].append(row["score"])
    results: dict[str, Any] = {
        "overall": _mean(scores),
        "per_qtype": {q: _mean(v) for q, v in sorted(per_qtype.items())},
        "per_task": {t: _mean(v) for t, v in sorted(per_task.items())},
        "n": len(scores),
        "errors": errors,
    }
    hits = circular_hits(circular_rows)
    if hits:
        results["circular"] = _mean([float(hit) for hit in hits.values()])
    return results


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def error_weights(results: dict) -> dict[str, float]:
    """DataEngine's `weight.json`: each qtype's error rate, 1 - accuracy, to 3 decimals."""
    return {qtype: round(1.0 - accuracy, 3) for qtype, accuracy in results["per_qtype"].items()}


def _question_stem(text: str, choices: dict[str, str]) -> str:
    """The question alone: no `<image>`, no listed options, no answer-format instruction."""
    lines = [line for line in text.replace(IMAGE_TOKEN, "").strip().splitlines() if line not in INSTRUCTIONS]
    if choices:
        first = f"{next(iter(choices))}. {next(iter(choices.values()))}"
        lines = lines[: lines.index(first)] if first in lines else lines
    return "\n".join(lines).strip()


def bad_case(sample: dict, row: dict) -> dict:
    """A wrong answer in MLLM-DataEngine's bad-case layout, plus its score, gold and canonical
    `messages` (so ops that take canonical samples as in-context examples can read it too)."""
    gold = row["gold"]
    choices = option_letters(gold["options"]) if gold.get("options") else {}
    question = next((m["content"] for m in reversed(prompt_messages(sample)) if m["role"] == "user"), "")
    case: dict[str, Any] = {"idx": sample["id"], "question": _question_stem(question, choices)}
    if choices:
        letters = list(choices)
        case.update(choices=list(choices.values()), correct_choice_idx=letters.index(gold["answer"])
                    if gold["answer"] in letters else None)
        listed = " ".join(f"({letter}) {text}" for letter, text in choices.items())
        answer = f"The answer is ({gold['answer']}): {choices.get(gold['answer'], '')}."
        prompt = f"Question: {case['question']}\nChoices: {listed}\nAnswer: {answer}"
    else:
        if "answers" in gold:
            case["direct_answers"] = gold["answers"]
        reference = reference_reply(sample) or next(iter(gold.values()))
        prompt = f"Question: {case['question']}\nAnswer: {reference}"
    case.update(model_answer=row["prediction"], question_type=sample["qtype"],
                prompt=f"{prompt}\nQuestion type: {sample['qtype'].replace('_', ' ')}",
                image_path=sample["images"][0].get("path") if sample["images"] else None,
                score=row["score"], gold=gold, messages=sample["messages"])
    return case


def write_outputs(out: Path, rows: list[dict], results: dict, bad_cases: dict[str, list[dict]]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2) + b"\n")
    (out / "weights.json").write_bytes(orjson.dumps(error_weights(results), option=orjson.OPT_INDENT_2) + b"\n")
    with (out / "samples.jsonl").open("wb") as handle:
        for row in rows:
            handle.write(orjson.dumps(row) + b"\n")
    for stale in out.glob("bad_case_*.json"):
        stale.unlink()
    for qtype, cases in sorted(bad_cases.items()):
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", qtype) or "untyped"
        (out / f"bad_case_{name}.json").write_bytes(orjson.dumps({qtype: cases}, option=orjson.OPT_INDENT_2))


def majority_baseline(train_samples: Iterable[dict], bench_samples: Iterable[dict]) -> dict:
    """Scores of always answering the most frequent training reply of the question's qtype (the most
    frequent reply overall for a qtype unseen in training), in `evaluate`'s result layout."""
    by_qtype: dict[str, Counter] = defaultdict(Counter)
    overall: Counter = Counter()
    for sample in train_samples:
        reply = reference_reply(sample)
        if reply is not None:
            by_qtype[sample["qtype"]][reply] += 1
            overall[reply] += 1
    if not overall:
        raise ValueError("no training sample has an assistant reply to count")
    # Ties break by the earliest reply in sorted order, so the baseline does not depend on input order.
    def most_common(counts: Counter) -> str:
        return min(counts.items(), key=lambda item: (-item[1], item[0]))[0]

    fallback = most_common(overall)
    rows = []
    for sample in bench_samples:
        row = _row(sample)
        row["prediction"] = most_common(by_qtype[sample["qtype"]]) if by_qtype.get(sample["qtype"]) else fallback
        try:
            row["score"] = score_prediction(sample, row["prediction"])
        except NoGold as err:
            row["error"] = str(err)
        rows.append(row)
    return summarize(rows)
