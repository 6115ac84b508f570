"""Small annotation files in each dataset's official schema, and the records DataOptim made of them.

Field names and nesting follow the official files as the readers' docstrings cite them. Where
DataOptim's `example/example-byod.json` (BAAI-DCAI/DataOptim @ 5899bb3) shows a record, the
fixture holds the annotation that record came from (same image, question, answer), so the
ingested sample can be compared with DataOptim's record; `DATAOPTIM_RECORDS` are those records,
verbatim.
"""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image

CAPTIONING = [
    "Describe the image as simply as possible with a sentence or phrase.",
    "Give a brief summary of what you see.",
    "Provide a short description of the image.",
    "Write a short description for the image.",
    "Briefly describe the content of the image.",
]
SUFFIX = " Answer the question directly with a short sentence or phrase."


def _vqa_turns(question: str, answer: str) -> list[dict]:
    return [{"from": "human", "value": f"<image>\n{question}{SUFFIX}"}, {"from": "gpt", "value": answer}]


# example-byod.json @ 5899bb3, verbatim (captioning and grounding prompts are DataOptim's own draws)
DATAOPTIM_RECORDS = {
    "coco_0": {"id": "coco_0", "image": "coco/COCO_train2014_000000318556.jpg", "conversations": [
        {"from": "human", "value": "<image>\nBriefly describe the content of the image."},
        {"from": "gpt", "value": "A very clean and well decorated empty bathroom"}]},
    "flickr30k_0": {"id": "flickr30k_0", "image": "flickr30k/1000092795.jpg", "conversations": [
        {"from": "human", "value": "<image>\nBriefly describe the content of the image."},
        {"from": "gpt",
         "value": "Two young guys with shaggy hair look at their hands while hanging out in the yard ."}]},
    "textcaps_0": {"id": "textcaps_0", "image": "open_images/011e7e629fb9ae7b.jpg", "conversations": [
        {"from": "human", "value": "<image>\nGive a brief summary of what you see."},
        {"from": "gpt", "value": "Five Listerine Zero mouthwash bottles on a store shelf"}]},
    "vqav2_524286005": {"id": "vqav2_524286005", "image": "coco/COCO_train2014_000000524286.jpg",
                        "conversations": _vqa_turns("Is that a laptop?", "yes")},
    "okvqa_5227415": {"id": "okvqa_5227415", "image": "coco/COCO_train2014_000000522741.jpg",
                      "conversations": _vqa_turns("For what meal is the food consumed?", "breakfast")},
    "gqa_05145757": {"id": "gqa_05145757", "image": "visual_genome/2327022.jpg",
                     "conversations": _vqa_turns("Who wears a shirt?", "The player wears a shirt.")},
    "aokvqa_dQbC9HGBPG3RCvpPWE4cWG": {"id": "aokvqa_dQbC9HGBPG3RCvpPWE4cWG",
                                      "image": "coco/COCO_val2014_000000133042.jpg", "conversations": [
        {"from": "human", "value": "<image>\nChoose the correct option for the following question: Which player has "
                                   "the higher jersey number?\nA. baserunner\nB. pitcher\nC. goalie\nD. quarterback\n"},
        {"from": "gpt", "value": "The correct option is B."}]},
    "ref3reg_0": {"id": "ref3reg_0", "image": "coco/COCO_train2014_000000544238.jpg", "conversations": [
        {"from": "human", "value": "For the given image <image>, can you provide a unique description of the area "
                                   "[0.0, 0.106, 0.827, 1.0]?"},
        {"from": "gpt", "value": "a girl baseball player"}]},
    "ref3rec_0": {"id": "ref3rec_0", "image": "coco/COCO_train2014_000000544238.jpg", "conversations": [
        {"from": "human", "value": "Locate a girl baseball player in <image> and provide its coordinates, please."},
        {"from": "gpt", "value": "[0.0, 0.106, 0.827, 1.0]."}]},
}

IMAGES = {  # path under --images -> (width, height)
    "coco/COCO_train2014_000000318556.jpg": (64, 48), "coco/COCO_train2014_000000524286.jpg": (64, 48),
    "coco/COCO_train2014_000000522741.jpg": (64, 48), "coco/COCO_val2014_000000133042.jpg": (64, 48),
    "coco/COCO_train2014_000000544238.jpg": (64, 48), "coco/COCO_train2014_000000163917.jpg": (64, 48),
    "coco/COCO_val2014_000000391895.jpg": (64, 48), "flickr30k/1000092795.jpg": (48, 64),
    "open_images/011e7e629fb9ae7b.jpg": (64, 64), "open_images/03b2dbb7dff0e32d.jpg": (64, 64),
    "ocrvqa/1400013011.jpg": (40, 64), "visual_genome/2327022.jpg": (64, 48), "visual_genome/1.jpg": (64, 48),
    "docvqa/ffbf0023_4.png": (48, 64), "dvqa/bar_train_00000000.png": (64, 64),
    "scienceqa/1/image.png": (64, 48), "scienceqa/2/image.png": (48, 48), "scienceqa/6/image.png": (48, 48),
}


def write_images(root: Path) -> Path:
    for rel, size in IMAGES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", size, (120, 30, 200)).save(root / rel)
    return root


def _dump(path: Path, data: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _ten(*counted: tuple[str, int]) -> list[str]:
    return [answer for answer, n in counted for _ in range(n)]


def annotation_files(folder: Path) -> dict[str, list[Path]]:
    """Every dataset's fixture files, by dataset name."""
    sentences = ["Two young guys with shaggy hair look at their hands while hanging out in the yard .",
                 "Two young , White males are outside near many bushes ."]
    vqa_answers = [{"answer": "yes", "answer_confidence": "yes", "answer_id": i} for i in range(1, 11)]
    ok_answers = [{"answer_id": i, "raw_answer": a, "answer_confidence": "yes", "answer": a}
                  for i, a in enumerate(_ten(("breakfast", 6), ("brunch", 2), ("lunch", 2)), 1)]
    return {
        "coco": [_dump(folder / "captions_train2014.json", {
            "info": {"description": "COCO 2014 Dataset"}, "licenses": [],
            "images": [{"license": 5, "file_name": "COCO_train2014_000000318556.jpg", "height": 48, "width": 64,
                        "id": 318556}],
            "annotations": [{"image_id": 318556, "id": 48, "caption": "A very clean and well decorated empty bathroom"},
                            {"image_id": 318556, "id": 67, "caption": "A blue and white bathroom with butterfly "
                                                                      "themed wall tiles."}]})],
        "coco_karpathy": [_dump(folder / "dataset_coco.json", {"dataset": "coco", "images": [
            {"filepath": "val2014", "sentids": [770337], "filename": "COCO_val2014_000000391895.jpg", "imgid": 0,
             "split": "restval", "cocoid": 391895, "sentences": [
                 {"tokens": ["a", "man", "with", "a", "red", "helmet"], "raw": "A man with a red helmet on a small "
                  "moped on a dirt road. ", "imgid": 0, "sentid": 770337}]},
            {"filepath": "val2014", "sentids": [1], "filename": "COCO_val2014_000000391895.jpg", "imgid": 1,
             "split": "test", "cocoid": 391895, "sentences": [{"tokens": ["x"], "raw": "Held out.", "imgid": 1,
                                                               "sentid": 1}]}]})],
        "flickr30k": [_dump(folder / "dataset_flickr30k.json", {"dataset": "flickr30k", "images": [
            {"sentids": [0, 1], "imgid": 0, "split": "train", "filename": "1000092795.jpg", "sentences": [
                {"tokens": s.lower().split(), "raw": s, "imgid": 0, "sentid": i} for i, s in enumerate(sentences)]}]})],
        "textcaps": [_dump(folder / "TextCaps_0.1_train.json", {
            "dataset_type": "train", "dataset_name": "textcaps", "dataset_version": "0.1", "data": [
                {"image_id": "011e7e629fb9ae7b", "image_classes": ["Bottle"], "image_width": 64, "image_height": 64,
                 "set_name": "train", "image_name": "011e7e629fb9ae7b", "image_path": "train/011e7e629fb9ae7b.jpg",
                 "caption_id": 0, "caption_str": "Five Listerine Zero mouthwash bottles on a store shelf",
                 "caption_tokens": ["<s>", "five", "</s>"],
                 "reference_strs": ["Five Listerine Zero mouthwash bottles on a store shelf", "Mouthwash on a shelf"],
                 "reference_tokens": [["five"], ["mouthwash"]]}]})],
        "vqav2": [_dump(folder / "v2_OpenEnded_mscoco_train2014_questions.json", {
            "info": {}, "task_type": "Open-Ended", "data_type": "mscoco", "license": {}, "data_subtype": "train2014",
            "questions": [{"image_id": 524286, "question": "Is that a laptop?", "question_id": 524286005}]}),
            _dump(folder / "v2_mscoco_train2014_annotations.json", {
                "info": {}, "license": {}, "data_subtype": "train2014", "annotations": [
                    {"question_type": "is that a", "multiple_choice_answer": "yes", "answers": vqa_answers,
                     "image_id": 524286, "answer_type": "yes/no", "question_id": 524286005}]})],
        "okvqa": [_dump(folder / "OpenEnded_mscoco_train2014_questions.json", {
            "license": {}, "data_subtype": "train2014", "task_type": "Open-Ended", "data_type": "mscoco",
            "questions": [{"image_id": 522741, "question": "For what meal is the food consumed?",
                           "question_id": 5227415}]}),
            _dump(folder / "mscoco_train2014_annotations.json", {"license": {}, "data_subtype": "train2014",
                  "annotations": [{"image_id": 522741, "answer_type": "other", "question_type": "three",
                                   "question_id": 5227415, "answers": ok_answers, "confidence": 3}]})],
        "ocrvqa": [_dump(folder / "dataset.json", {
            "1400013011": {"imageURL": "http://ecx.images-amazon.com/images/I/51Xyz.jpg", "title": "Some Law",
                           "authorName": "A. Writer", "genre": "Law", "split": 1,
                           "questions": ["Who wrote this book?", "Is this book related to Law?"],
                           "answers": ["A. Writer", "No"]},
            "0000000002": {"imageURL": "http://ecx.images-amazon.com/images/I/2.jpg", "title": "Held out",
                           "authorName": "B", "genre": "Art", "split": 3, "questions": ["Q?"], "answers": ["A"]}})],
        "gqa": [_dump(folder / "train_balanced_questions.json", {"05145757": {
            "semantic": [{"operation": "select", "dependencies": [], "argument": "shirt (1)"}], "entailed": [],
            "equivalent": ["05145757"], "question": "Who wears a shirt?", "imageId": "2327022", "isBalanced": True,
            "groups": {"global": None, "local": "14-shirt_wear,s"}, "answer": "player",
            "semanticStr": "select: shirt (1)->relate: person,wearing,s (2)->query: name [1]",
            "annotations": {"answer": {"0": "2"}, "question": {}, "fullAnswer": {"1": "2"}},
            "types": {"detailed": "relS", "semantic": "rel", "structural": "query"},
            "fullAnswer": "The player wears a shirt."}})],
        "textvqa": [_dump(folder / "TextVQA_0.5.1_train.json", {
            "dataset_type": "train", "dataset_name": "textvqa", "dataset_version": "0.5.1", "data": [
                {"question": "what brand of wine is this?", "image_id": "03b2dbb7dff0e32d",
                 "image_classes": ["Wine"], "flickr_original_url": "", "flickr_300k_url": "", "image_width": 64,
                 "image_height": 64, "answers": _ten(("chateau garraud", 7), ("garraud", 2), ("bordeaux", 1)),
                 "question_tokens": ["what", "brand"], "question_id": 34602, "set_name": "train"}]})],
        "aokvqa": [_dump(folder / "aokvqa_v1p0_train.json", [{
            "split": "train", "image_id": 133042, "question_id": "dQbC9HGBPG3RCvpPWE4cWG",
            "question": "Which player has the higher jersey number?",
            "choices": ["baserunner", "pitcher", "goalie", "quarterback"], "correct_choice_idx": 1,
            "direct_answers": _ten(("pitcher", 8), ("catcher", 2)), "difficult_direct_answer": False,
            "rationales": ["The pitcher wears 45."]}])],
        "vgqa": [_dump(folder / "question_answers.json", [
            {"id": 1, "qas": [{"a_objects": [], "question": "What color is the clock?", "image_id": 1,
                               "qa_id": 986768, "answer": "Green.", "q_objects": []},
                              {"a_objects": [], "question": "Where are the bikes?", "image_id": 1,
                               "qa_id": 986769, "answer": "On the sidewalk.", "q_objects": []}]},
            {"id": 2, "qas": []}])],
        "docvqa": [_dump(folder / "train_v1.0.json", {
            "dataset_name": "docvqa", "dataset_split": "train", "dataset_version": "1.0", "data": [
                {"questionId": 337, "question": "what is the date mentioned in this letter?",
                 "question_types": ["handwritten", "form"], "image": "documents/ffbf0023_4.png", "docId": 279,
                 "ucsf_document_id": "ffbf0023", "ucsf_document_page_no": "4", "answers": ["1/8/93"],
                 "data_split": "train"}]})],
        "dvqa": [_dump(folder / "train_qa.json", [
            {"image": "bar_train_00000000.png", "question": "What is the label of the third bar from the left?",
             "answer": "bowl", "question_type": "structure", "bbox_answer": [88, 200, 30, 12],
             "question_id": 3, "template_id": "label_third"}])],
        "scienceqa": write_scienceqa(folder / "scienceqa"),
        "ref3rec": [write_refcoco(folder / "REC_ref3_train.jsonl")],
        "ref3reg": [folder / "REC_ref3_train.jsonl"],
    }


def write_refcoco(path: Path) -> Path:
    """Shikra's REC JSONL (one expression a line): pixel boxes on the original COCO image."""
    lines = [
        {"img_path": "COCO_train2014_000000544238.jpg", "expression": "a girl baseball player",
         "bbox": [0.0, 50.9, 529.3, 480.0], "dataset_name": "refcoco", "width": 640, "height": 480},
        # no size in the record: read from the image header (64 x 48); the box runs past the right edge
        {"img_path": "COCO_train2014_000000544238.jpg", "expression": "right side",
         "bbox": [32.0, 12.0, 70.0, 48.0], "dataset_name": "refcoco+"},
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path


SCIENCEQA_NORTH = {  # problem 1: lupantech/ScienceQA README.md's example fields (@ 2cbf831), the first train pid
    "question": "Which of these states is farthest north?",
    "choices": ["West Virginia", "Louisiana", "Arizona", "Oklahoma"], "answer": 0, "hint": "", "image": "image.png",
    "task": "closed choice", "grade": "grade2", "subject": "social science", "topic": "geography",
    "category": "Geography", "skill": "Read a map: cardinal directions",
    "lecture": "Maps have four cardinal directions, or main directions. Those directions are north, south, east, and "
               "west.\nA compass rose is a set of arrows that point to the cardinal directions. A compass rose usually "
               "shows only the first letter of each cardinal direction.\nThe north arrow points to the North Pole. On "
               "most maps, north is at the top of the map.",
    "solution": "To find the answer, look at the compass rose. Look at which way the north arrow is pointing. West "
                "Virginia is farthest north.",
    "split": "train"}


def write_scienceqa(folder: Path) -> list[Path]:
    """ScienceQA's problems.json and pid_splits.json: problem 1 as the README shows it, a made-up
    image problem with a hint, five choices, an empty lecture, double spaces and an escaped newline
    (problem 2), a text-only train problem (9, left out) and a val problem (6)."""
    problems = {
        "1": SCIENCEQA_NORTH,
        "2": {"question": "Which animal's  feet are also adapted for swimming?", "choices": [
            "sea otter", "tokay gecko", "sloth", "emu", "penguin"], "answer": 4, "hint": "  Figure: sturgeon.  ",
            "image": "image.png", "task": "closed choice", "grade": "grade4", "subject": "natural science",
            "topic": "biology", "category": "Adaptations", "skill": "Animal adaptations: feet, hands, and flippers",
            "lecture": "", "solution": "Look at the picture.\\nThe penguin has flippers.", "split": "train"},
        "6": {**SCIENCEQA_NORTH, "question": "Which of these states is farthest south?", "split": "val"},
        "9": {"question": "Which tense does the sentence use?\nMona will print her name with care.",
              "choices": ["present tense", "future tense", "past tense"], "answer": 1, "hint": "", "image": None,
              "task": "closed choice", "grade": "grade2", "subject": "language science", "topic": "verbs",
              "category": "Verb tense", "skill": "Is the sentence in the past, present, or future tense?",
              "lecture": "Present tense verbs tell you about something that is happening now.", "solution": "",
              "split": "train"},
    }
    splits = {"train": ["1", "2", "9"], "val": ["6"], "test": [], "trainval": ["1", "2", "6", "9"],
              "minitrain": ["1"], "minival": ["6"], "minitest": []}
    return [_dump(folder / "problems.json", problems), _dump(folder / "pid_splits.json", splits)]
