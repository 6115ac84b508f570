import json

import pytest
from test_formats_fixture import VARIED_RECORDS, write_fixture

from synthloop.formats import dj, registry
from synthloop.formats.common import FormatError


def round_trip(tmp_path, via: str, dst_name: str, src_name: str = "varied.json") -> list[dict]:
    src = write_fixture(tmp_path, src_name)
    middle = tmp_path / dst_name
    assert registry.write(via, registry.read("llava", src), middle, image_root=tmp_path) == len(VARIED_RECORDS)
    back = tmp_path / "back.json"
    assert registry.write("llava", registry.read(via, middle), back) == len(VARIED_RECORDS)
    return json.loads(back.read_text(encoding="utf-8"))


@pytest.mark.parametrize(("via", "dst_name"), [("dj", "out.jsonl"), ("messages", "out.jsonl"),
                                               ("parquet", "out_parquet"), ("webdataset", "out.tar"),
                                               ("llava", "out.jsonl")])
def test_llava_round_trip_is_identical(tmp_path, via, dst_name):
    assert round_trip(tmp_path, via, dst_name) == VARIED_RECORDS


def test_jsonl_input_reads_like_the_json_list(tmp_path):
    as_list = list(registry.read("llava", write_fixture(tmp_path / "a", "varied.json")))
    as_lines = list(registry.read("llava", write_fixture(tmp_path / "b", "varied.jsonl")))
    assert as_lines == as_list


def test_dj_text_keeps_image_tokens_in_place_and_one_chunk_per_turn(tmp_path):
    src = write_fixture(tmp_path)
    registry.write("dj", registry.read("llava", src), tmp_path / "out.jsonl")
    records = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    assert records[2] == {
        "id": "multi_3", "images": ["img/wide.png", "img/tall.jpg"], "source": "varied",
        "text": "[[human]]: Compare <__dj__image> with <__dj__image>: which is taller?<|__dj__eoc|>\n"
                "[[gpt]]: The second.<|__dj__eoc|>"}
    assert records[3]["text"].startswith("[[human]]: Describe the picture in detail.\n<__dj__image><|__dj__eoc|>")
    assert records[5]["model"] == "gpt-4v"


def test_dj_reads_data_juicer_converter_layout_and_captions():
    converter = ("<__dj__image>\n[[human]]: What is it?\n[[gpt]]: A cat.\n"
                 "[[human]]: Colour?\n[[gpt]]: Grey. <|__dj__eoc|>")
    assert dj.decode_text(converter) == [
        {"role": "user", "content": "<image>\nWhat is it?"}, {"role": "assistant", "content": "A cat."},
        {"role": "user", "content": "Colour?"}, {"role": "assistant", "content": "Grey."}]  # " <eoc>" ends it
    text_only = "[[human]]: Hi\n[[gpt]]: Hello <|__dj__eoc|>"
    assert dj.decode_text(text_only) == [{"role": "user", "content": "Hi"},
                                         {"role": "assistant", "content": "Hello"}]
    # chunk separators lost (a Data-Juicer mapper may strip whitespace): chunk ends still split turns
    assert dj.decode_text("[[human]]: <__dj__image>\nHi?<|__dj__eoc|>[[gpt]]: Hello.<|__dj__eoc|>") == [
        {"role": "user", "content": "<image>\nHi?"}, {"role": "assistant", "content": "Hello."}]
    assert dj.decode_text("<__dj__image> a dog on grass <|__dj__eoc|>") == [
        {"role": "user", "content": "<image>"}, {"role": "assistant", "content": "a dog on grass"}]


def test_dj_rejects_a_turn_holding_a_data_juicer_token(tmp_path):
    sample = {"id": "x", "images": [], "messages": [{"role": "user", "content": "say <|__dj__eoc|>"}],
              "task": "", "qtype": "", "source": "", "meta": {}, "scores": {}}
    with pytest.raises(FormatError, match=r"out.jsonl, id 'x': turn 1 contains a Data-Juicer special token"):
        registry.write("dj", [sample], tmp_path / "out.jsonl")


def test_dj_rejects_turns_that_would_read_back_as_the_converter_layout():
    with pytest.raises(ValueError, match="every turn holds a line-start role tag"):
        dj.encode_text([{"role": "user", "content": "Quote:\n[[gpt]]: hello"}])
    with pytest.raises(ValueError, match="every turn holds a line-start role tag"):
        dj.encode_text([{"role": "user", "content": "Q\n[[gpt]]: A"}, {"role": "assistant", "content": "[[human]]: x"}])
    text = dj.encode_text([{"role": "user", "content": "[[gpt]] is fine inline"}])
    assert dj.decode_text(text) == [{"role": "user", "content": "[[gpt]] is fine inline"}]


def test_canonical_fields_survive_messages_and_dj(tmp_path):
    sample = {"id": "w_1", "images": [{"bytes": None, "path": "a.png"}],
              "messages": [{"role": "user", "content": "<image>\nCount?"}, {"role": "assistant", "content": "3"}],
              "task": "vqa", "qtype": "count", "source": "world", "meta": {"answers": ["3"] * 10},
              "scores": {"judge_p": 0.75}}
    for fmt in ("messages", "dj"):
        registry.write(fmt, [sample], tmp_path / f"{fmt}.jsonl")
        assert list(registry.read(fmt, tmp_path / f"{fmt}.jsonl")) == [sample]


def test_parquet_output_loads_with_datasets_and_decodes(tmp_path):
    datasets = pytest.importorskip("datasets")
    src = write_fixture(tmp_path)
    registry.write("parquet", registry.read("llava", src), tmp_path / "pq", image_root=tmp_path)
    ds = datasets.load_dataset("parquet", data_files=str(tmp_path / "pq" / "*.parquet"), split="train")
    assert len(ds) == len(VARIED_RECORDS)
    assert [im.size for im in ds[2]["images"]] == [(200, 100), (100, 200)]
    assert ds[0]["images"][0].convert("RGB").getpixel((5, 5)) == (255, 0, 0)  # the PNG; JPEG is lossy


def test_bytes_only_images_are_saved_beside_path_formats(tmp_path):
    src = write_fixture(tmp_path)
    registry.write("parquet", registry.read("llava", src), tmp_path / "pq", image_root=tmp_path)
    samples = [{**s, "images": [{"bytes": im["bytes"], "path": None} for im in s["images"]]}
               for s in registry.read("parquet", tmp_path / "pq")]
    registry.write("llava", samples, tmp_path / "out" / "train.json")
    records = json.loads((tmp_path / "out" / "train.json").read_text())
    assert records[2]["image"] == ["train_images/multi_3_0.png", "train_images/multi_3_1.jpg"]
    saved = tmp_path / "out" / "train_images" / "multi_3_1.jpg"
    assert saved.read_bytes() == (tmp_path / "img/tall.jpg").read_bytes()


@pytest.mark.parametrize("fmt", ["dj", "messages"])
def test_bulky_meta_arrays_go_to_a_side_parquet_not_into_json_records(tmp_path, fmt):
    import pyarrow.parquet as pq

    vector = [i / 1280 for i in range(1280)]
    sample = {"id": "e_1", "images": [], "messages": [{"role": "user", "content": "Hi"},
                                                      {"role": "assistant", "content": "Yo"}],
              "task": "", "qtype": "", "source": "s", "meta": {"embedding": vector, "answers": [1, 2]}, "scores": {}}
    registry.write(fmt, [sample], tmp_path / "out.jsonl")
    record = json.loads((tmp_path / "out.jsonl").read_text())
    assert record["meta"] == {"answers": [1, 2]}
    assert pq.read_table(tmp_path / "out.arrays.parquet").to_pylist() == [
        {"id": "e_1", "field": "embedding", "values": vector}]
