"""Data-Juicer files written by Data-Juicer's own converter read back as the LLaVA turns they came from."""

import json
from pathlib import Path

import pytest

from synthloop.formats import registry
from synthloop.formats.common import FormatError

DATA = Path(__file__).parent / "data" / "data_juicer"


def _original() -> list[dict]:
    return list(registry.read("llava", DATA / "llava.json"))


@pytest.mark.parametrize("name", ["default", "split_chunk", "no_eoc"])
def test_converter_output_reads_back_as_the_exact_llava_turns(name):
    samples = list(registry.read("dj", DATA / f"{name}.jsonl"))
    original = _original()
    assert [s["messages"] for s in samples] == [s["messages"] for s in original]
    assert [s["images"] for s in samples] == [s["images"] for s in original]
    assert [s["id"] for s in samples] == ["coco_1", "instruct_2", "shikra_3", "4"]  # the converter's str ids


@pytest.mark.parametrize(("name", "second_turn"), [("broadcast_before", "<image>\nAnd the background?"),
                                                   ("broadcast_follow", "<image>\nAnd the background?")])
def test_broadcast_images_read_as_one_image_per_round(name, second_turn):
    samples = list(registry.read("dj", DATA / f"{name}.jsonl"))
    original = _original()
    assert samples[0]["messages"][2]["content"] == second_turn
    assert [len(s["images"]) for s in samples] == [2, 3, 1, 0]
    assert {im["path"] for im in samples[1]["images"]} == {"img/tall.jpg"}
    # the answers and everything but the broadcast tokens are the LLaVA values
    for got, want in zip(samples, original, strict=True):
        assert [m["content"].replace("<image>\n", "").replace("\n<image>", "") for m in got["messages"]] == \
               [m["content"].replace("<image>\n", "").replace("\n<image>", "") for m in want["messages"]]


def test_our_output_round_trips_and_paths_resolve_from_the_output_folder(tmp_path):
    out = tmp_path / "dj" / "train.jsonl"
    assert registry.write("dj", _original(), out, image_root=DATA) == 4
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    [path] = records[0]["images"]
    assert not Path(path).is_absolute()
    assert (out.parent / path).resolve() == (DATA / "img/wide.png").resolve()
    back = list(registry.read("dj", out))
    assert [s["messages"] for s in back] == [s["messages"] for s in _original()]


def test_video_records_are_refused_by_name():
    with pytest.raises(FormatError, match=r"videos.jsonl, line 1, id 'videos_1': holds videos "
                                          r"\('videos' or <__dj__video>\); synthloop carries images only"):
        list(registry.read("dj", DATA / "videos.jsonl"))


def test_the_llava_recipe_image_token_round_trips(tmp_path):
    out = tmp_path / "train.jsonl"
    registry.write("dj", _original(), out, image_root=DATA, image_token="<image>")
    first = json.loads(out.read_text(encoding="utf-8").splitlines()[0])
    assert first["text"].startswith("[[human]]: <image>\nWhat colour") and "<__dj__image>" not in first["text"]
    assert [s["messages"] for s in registry.read("dj", out)] == [s["messages"] for s in _original()]
    with pytest.raises(FormatError, match="image token '<img>'"):
        registry.write("dj", _original(), tmp_path / "other.jsonl", image_token="<img>")
