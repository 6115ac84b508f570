"""LLaMA-Factory's sharegpt files and TRL's content parts: read as the tools write them, written as they read."""

import json
from pathlib import Path

import pytest
from test_formats_fixture import VARIED_RECORDS, write_fixture

from synthloop.formats import registry
from synthloop.formats.common import FormatError

DATA = Path(__file__).parent / "data" / "llama_factory"


def test_llama_factory_mllm_demo_reads_with_its_dataset_info_tags():
    samples = list(registry.read("sharegpt", DATA / "mllm_demo.json"))
    assert len(samples) == 6
    assert samples[0]["messages"][:3] == [
        {"role": "user", "content": "<image>Who are they?"},
        {"role": "assistant", "content": "They're Kane and Gretzka from Bayern Munich."},
        {"role": "user", "content": "What are they doing?<image>"}]
    assert [im["path"] for im in samples[0]["images"]] == ["mllm_demo_data/1.jpg", "mllm_demo_data/1.jpg"]


@pytest.mark.parametrize(("name", "media"), [("mllm_video_demo.json", "videos"), ("mllm_audio_demo.json", "audios")])
def test_video_and_audio_demos_are_refused_by_name(name, media):
    with pytest.raises(FormatError, match=rf"{name}, line 2, id '\w+_1': holds {media}; synthloop carries images only"):
        list(registry.read("sharegpt", DATA / name))
    with pytest.raises(FormatError, match=rf"holds {media}; synthloop carries images only"):
        list(registry.read("messages", DATA / name))


def test_the_readme_layout_is_detected_and_refused_by_the_llava_reader_by_name(tmp_path):
    record = {"conversations": [{"from": "human", "value": "<image>Hi"}, {"from": "gpt", "value": "Hello"}],
              "images": ["a.jpg"]}
    (tmp_path / "data.json").write_text(json.dumps([record]))
    assert registry.detect(tmp_path / "data.json") == "sharegpt"
    [sample] = registry.read("sharegpt", tmp_path / "data.json")
    assert sample["images"] == [{"bytes": None, "path": "a.jpg"}]
    with pytest.raises(FormatError, match="has 'images', not 'image': LLaMA-Factory's sharegpt layout; "
                                          "read it with --from sharegpt"):
        list(registry.read("llava", tmp_path / "data.json"))


def test_sharegpt_output_has_images_always_a_dataset_entry_and_reads_back(tmp_path):
    src = write_fixture(tmp_path)
    out = tmp_path / "lf" / "train.json"
    assert registry.write("sharegpt", registry.read("llava", src), out, image_root=tmp_path) == len(VARIED_RECORDS)
    records = json.loads(out.read_text(encoding="utf-8"))
    assert records[1]["images"] == [] and records[1]["conversations"][0] == {"from": "system",
                                                                            "value": "Answer briefly."}
    assert (out.parent / records[0]["images"][0]).resolve() == (tmp_path / "img/wide.png").resolve()
    info = json.loads((out.parent / "dataset_info.json").read_text())
    assert info == {"train": {"file_name": "train.json", "formatting": "sharegpt",
                              "columns": {"messages": "conversations", "images": "images"}}}
    back = list(registry.read("sharegpt", out))
    assert [s["messages"] for s in back] == [s["messages"] for s in registry.read("llava", src)]


def test_sharegpt_refuses_turns_llama_factory_would_skip(tmp_path):
    sample = {"id": "x", "images": [], "messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}],
              "task": "", "qtype": "", "source": "", "meta": {}, "scores": {}}
    with pytest.raises(FormatError, match=r"id 'x': turn 2: LLaMA-Factory needs user and assistant turns alternating"):
        registry.write("sharegpt", [sample], tmp_path / "o.json")


def test_messages_output_is_trl_content_parts_with_images_always(tmp_path):
    src = write_fixture(tmp_path)
    registry.write("messages", registry.read("llava", src), tmp_path / "out.jsonl", image_root=tmp_path)
    records = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    assert records[2]["messages"][0]["content"] == [
        {"type": "text", "text": "Compare "}, {"type": "image"}, {"type": "text", "text": " with "},
        {"type": "image"}, {"type": "text", "text": ""}, {"type": "text", "text": ": which is taller?"}]
    assert records[0]["messages"][0]["content"] == [{"type": "image"},
                                                    {"type": "text", "text": "What colour is the square?"}]
    assert records[1]["images"] == []
    for record in records:  # every image part has its image
        parts = [p for m in record["messages"] for p in m["content"]]
        assert sum(p["type"] == "image" for p in parts) == len(record["images"])
