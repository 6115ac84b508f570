"""VQAv2 (questions JSON + annotations JSON with 10 answers) and TextVQA (one JSON with `data`)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from synthloop.evaluate.benchmarks.common import SHORT_ANSWER, BenchmarkError, field, load_json, question_sample


# Question subsets whose images live in another COCO folder.
IMAGE_FOLDERS = {"test-dev2015": "test2015"}


def read_vqav2(questions_path: str | Path, annotations_path: str | Path | None = None) -> list[dict]:
    """Samples with `meta["answers"]` (the 10 human answers) when annotations are given (test has none).

    Images are COCO paths `<subtype>/COCO_<subtype>_<image_id:012d>.jpg`, relative to the COCO root
    (test-dev2015 questions are on test2015 images: `test2015/COCO_test2015_...jpg`);
    `qtype` is the official answer type (yes/no, number, other), `meta["question_type"]` the finer one.
    """
    questions_doc = load_json(questions_path)
    subtype = questions_doc.get("data_subtype", "val2014") if isinstance(questions_doc, dict) else "val2014"
    subtype = IMAGE_FOLDERS.get(subtype, subtype)
    questions = field(questions_doc, "questions", str(questions_path))
    annotations: dict = {}
    if annotations_path is not None:
        records = field(load_json(annotations_path), "annotations", str(annotations_path))
        annotations = {field(a, "question_id", f"{annotations_path}: annotation {i}"): a for i, a in enumerate(records)}
    samples = []
    for i, question in enumerate(questions):
        where = f"{questions_path}: question {i}"
        qid, image_id = field(question, "question_id", where), field(question, "image_id", where)
        meta = {"question_id": qid, "image_id": image_id}
        qtype, answer = "", None
        if annotations_path is not None:
            if qid not in annotations:
                raise BenchmarkError(f"{annotations_path}: no annotation for question_id {qid}")
            note = annotations[qid]
            where = f"{annotations_path}: question_id {qid}"
            answers = [field(a, "answer", where) for a in field(note, "answers", where)]
            answer = note.get("multiple_choice_answer") or Counter(answers).most_common(1)[0][0]
            qtype = note.get("answer_type", "")
            meta.update(answers=answers, question_type=note.get("question_type", ""), answer_type=qtype)
        image = {"bytes": None, "path": f"{subtype}/COCO_{subtype}_{int(image_id):012d}.jpg"}
        samples.append(question_sample(f"vqav2_{qid}", field(question, "question", where), answer, image=image,
                                       task="vqa", qtype=qtype, source="vqav2", meta=meta,
                                       instruction=SHORT_ANSWER))
    return samples


def read_textvqa(path: str | Path) -> list[dict]:
    """TextVQA JSON (`{"data": [{question_id, question, image_id, answers: [10 strings]}, ...]}`).

    Images are `<image_id>.jpg` relative to the TextVQA image folder; every sample has qtype `ocr`
    and is scored with LLaVA's m4c accuracy (`meta["metric"] = "vqa_m4c"`).
    """
    samples = []
    for i, record in enumerate(field(load_json(path), "data", str(path))):
        where = f"{path}: data[{i}]"
        qid, image_id = field(record, "question_id", where), field(record, "image_id", where)
        answers = record.get("answers")
        meta = {"question_id": qid, "image_id": image_id, "metric": "vqa_m4c"}
        if answers:
            meta["answers"] = list(answers)
        answer = Counter(answers).most_common(1)[0][0] if answers else None
        image = {"bytes": None, "path": f"{image_id}.jpg"}
        samples.append(question_sample(f"textvqa_{qid}", field(record, "question", where), answer, image=image,
                                       task="vqa", qtype="ocr", source="textvqa", meta=meta,
                                       instruction=SHORT_ANSWER))
    return samples
