"""A varied LLaVA fixture shared by the format tests (imported as `test_formats_fixture`)."""

import json
from pathlib import Path

from PIL import Image

from synthloop.formats import registry

WIDE, TALL = (200, 100), (100, 200)

VARIED_RECORDS = [
    {"id": "coco_1", "image": "img/wide.png", "conversations": [
        {"from": "human", "value": "<image>\nWhat colour is the square?"}, {"from": "gpt", "value": "Red."},
        {"from": "human", "value": "And the background?"}, {"from": "gpt", "value": "White, mostly."}]},
    {"id": "text_2", "conversations": [
        {"from": "system", "value": "Answer briefly."}, {"from": "human", "value": "Héllo ✓ 日本語 — \"quotes\"\n"},
        {"from": "gpt", "value": "  leading spaces and a trailing newline\n"}]},
    {"id": "multi_3", "image": ["img/wide.png", "img/tall.jpg"], "conversations": [
        {"from": "human", "value": "Compare <image> with <image>: which is taller?"},
        {"from": "gpt", "value": "The second."}]},
    {"id": "instruct_4", "image": "img/tall.jpg", "conversations": [
        {"from": "human", "value": "Describe the picture in detail.\n<image>"},
        {"from": "gpt", "value": "A blue field."}]},
    {"id": "shikra_5", "image": "img/wide.png", "conversations": [
        {"from": "human", "value": "What is at [0.100,0.200,0.500,0.600] in <image>?"},
        {"from": "gpt", "value": "A box [0.1, 0.2, 0.5, 0.6]; nothing at [0.3,0.3,0.4,0.4]."}]},
    {"id": "listed_6", "image": ["img/wide.png"], "model": "gpt-4v", "conversations": [
        {"from": "human", "value": "<image>\n"}, {"from": "gpt", "value": "[[gpt]]: looks like a tag\n[[human]]: x"}]},
]


def write_fixture(folder: Path, name: str = "varied.json") -> Path:
    """The varied records as a LLaVA JSON list, with their images under `folder/img`."""
    (folder / "img").mkdir(parents=True, exist_ok=True)
    Image.new("RGB", WIDE, "red").save(folder / "img" / "wide.png")
    Image.new("RGB", TALL, "blue").save(folder / "img" / "tall.jpg")
    path = folder / name
    if path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in VARIED_RECORDS), encoding="utf-8")
    else:
        path.write_text(json.dumps(VARIED_RECORDS, ensure_ascii=False, indent=2), encoding="utf-8")
    return path


def test_fixture_reads_into_valid_canonical_samples(tmp_path):
    samples = list(registry.read("llava", write_fixture(tmp_path)))
    assert [s["id"] for s in samples] == [r["id"] for r in VARIED_RECORDS]
    assert [len(s["images"]) for s in samples] == [1, 0, 2, 1, 1, 1]
    assert samples[1]["messages"][0] == {"role": "system", "content": "Answer briefly."}
    assert [m["role"] for m in samples[0]["messages"]] == ["user", "assistant", "user", "assistant"]
    assert samples[5]["meta"] == {"extra_fields": {"model": "gpt-4v"}, "image_list": True}
    assert {s["source"] for s in samples} == {"varied"}
