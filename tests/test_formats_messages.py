"""The messages format holds the line break LLaVA puts after `<image>` in its layout, not in the text
(`synthloop.chat_parts`): written as TRL documents vision datasets, read back byte for byte, and rows that
kept the break (HuggingFaceH4/llava-instruct-mix-vsft) read as LLaVA wrote them."""

import itertools
import json

import pytest
from tiny_vlms import LLAVA_15_TEMPLATE

from synthloop.chat_parts import join_content, split_content
from synthloop.formats import registry


def test_every_text_of_images_breaks_spaces_and_words_splits_and_joins_back():
    pieces = ["<image>", "\n", " ", "Q", "\n\n"]
    texts = ["".join(p) for n in range(7) for p in itertools.product(pieces, repeat=n)]
    assert [join_content(split_content(text)) for text in texts] == texts


def sample(i: int, messages: list[dict]) -> dict:
    images = sum(m["content"].count("<image>") for m in messages)
    return {"id": f"s_{i}", "images": [{"bytes": None, "path": f"{i}_{k}.png"} for k in range(images)],
            "messages": messages, "task": "vqa", "qtype": "", "source": "world", "meta": {}, "scores": {}}


LAYOUTS = [  # (canonical user turn, its written parts: "I" an image, a string a text part)
    ("<image>\nWhat colour is the cube?", ["I", "What colour is the cube?"]),  # LLaVA's own layout
    ("Who wrote this book?\n<image>", ["Who wrote this book?\n", "I"]),  # image after text (OCR-VQA in LLaVA-665k)
    ("<image>\n<image>\nWhich is bigger?", ["I", "I", "Which is bigger?"]),
    ("Compare <image> with <image>: which is taller?", ["Compare ", "I", " with ", "I", "", ": which is taller?"]),
    ("<image><image>Which is blue?", ["I", "", "I", "", "Which is blue?"]),  # no break to restore: an empty part
    ("<image>\n\nQ\n", ["I", "\n\nQ\n"]),  # a blank line of the user's own stays in the text
    ("<image>\n", ["I", "\n"]),
    ("<image>", ["I"]),
    ("", [""]),
]


def test_canonical_samples_write_as_parts_and_read_back_identical(tmp_path):
    samples = [sample(i, [{"role": "system", "content": "Be brief."}, {"role": "user", "content": text},
                          {"role": "assistant", "content": "Red."},
                          {"role": "user", "content": "And <image>\nthis one?"}, {"role": "assistant", "content": ""}])
               for i, (text, _) in enumerate(LAYOUTS)]
    registry.write("messages", samples, tmp_path / "out.jsonl")
    records = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["messages"][1]["content"] for r in records] == [
        [{"type": "image"} if p == "I" else {"type": "text", "text": p} for p in parts] for _, parts in LAYOUTS]
    assert records[0]["messages"][3]["content"] == [{"type": "text", "text": "And "}, {"type": "image"},
                                                    {"type": "text", "text": "this one?"}]
    assert list(registry.read("messages", tmp_path / "out.jsonl")) == samples


def test_trl_and_llava_instruct_mix_vsft_rows_read_as_llava_text(tmp_path):
    """TRL's documented vision layout (huggingface/trl docs/source/dataset_formats.md @ c723297, "Vision
    datasets"), and rows of HuggingFaceH4/llava-instruct-mix-vsft, which keep LLaVA's breaks in the text and an
    `index` key (its first row as axolotl's llama-3-vision example README quotes it, and a LLaVA-Instruct row
    as public loaders of the dataset quote it: the dataset itself is not reachable offline)."""
    rows = [
        [{"role": "user", "content": [{"type": "image"},
                                      {"type": "text", "text": "What color is the sky in the image?"}]}],
        [{"role": "user", "content": [{"index": None, "text": "Who wrote this book?\n", "type": "text"},
                                      {"index": 0, "text": None, "type": "image"}]},
         {"role": "assistant", "content": [{"index": None, "text": "Donna Eden", "type": "text"}]},
         {"role": "user", "content": [{"index": None, "text": "What is the title of this book?", "type": "text"}]}],
        [{"role": "user", "content": [{"index": 0, "text": None, "type": "image"},
                                      {"index": None, "type": "text",
                                       "text": "\nWhat may be the purpose of this gathering in the field?"}]}],
    ]
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps({"messages": m, "images": ["a.jpg"]}) + "\n" for m in rows), encoding="utf-8")
    assert [[m["content"] for m in s["messages"]] for s in registry.read("messages", path)] == [
        ["<image>\nWhat color is the sky in the image?"],
        ["Who wrote this book?\n<image>", "Donna Eden", "What is the title of this book?"],
        ["<image>\nWhat may be the purpose of this gathering in the field?"]]


def test_an_export_trains_llava_15_on_llavas_own_prompt(tmp_path):
    """Through llava-hf/llava-1.5-7b-hf's chat template (which renders an image part as `<image>\\n`), the
    written `<image>\\nQ` is `USER: <image>\\nQ`, as LLaVA prompts it, not `<image>\\n\\nQ`."""
    tiny_llava = pytest.importorskip("tiny_llava")
    messages = [{"role": "user", "content": "<image>\nWhat colour is the cube?"},
                {"role": "assistant", "content": "Red"}]
    registry.write("messages", [sample(0, messages)], tmp_path / "out.jsonl")
    record = json.loads((tmp_path / "out.jsonl").read_text(encoding="utf-8"))
    rendered = tiny_llava.tiny_tokenizer().apply_chat_template(record["messages"], chat_template=LLAVA_15_TEMPLATE,
                                                               tokenize=False)
    assert rendered == "USER: <image>\nWhat colour is the cube? ASSISTANT: Red "
