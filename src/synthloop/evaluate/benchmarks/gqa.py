"""GQA questions JSON (`{question_id: {imageId, question, answer, fullAnswer, types, ...}}`)."""

from __future__ import annotations

from pathlib import Path

from synthloop.evaluate.benchmarks.common import SHORT_ANSWER, BenchmarkError, field, load_json, question_sample


def read_gqa(path: str | Path) -> list[dict]:
    """One `vqa` sample per question, scored by exact match (`meta["metric"] = "exact_match"`, as
    LLaVA scores GQA); `qtype` is the semantic type (rel, attr, obj, cat, global); images are
    `<imageId>.jpg` under the GQA `images` folder."""
    questions = load_json(path)
    if not isinstance(questions, dict):
        raise BenchmarkError(f"{path}: expected an object keyed by question id")
    samples = []
    for qid, record in questions.items():
        where = f"{path}: question {qid}"
        types = record.get("types") or {}
        answer = record.get("answer")
        meta = {"question_id": qid, "image_id": field(record, "imageId", where), "metric": "exact_match",
                "types": types, "full_answer": record.get("fullAnswer"), "is_balanced": record.get("isBalanced")}
        if answer is not None:
            meta["answers"] = [answer]
        image = {"bytes": None, "path": f"{meta['image_id']}.jpg"}
        samples.append(question_sample(f"gqa_{qid}", field(record, "question", where), answer, image=image,
                                       task="vqa", qtype=types.get("semantic") or "gqa", source="gqa", meta=meta,
                                       instruction=SHORT_ANSWER))
    return samples
