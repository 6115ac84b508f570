"""Foreign Hugging Face Parquet/Arrow (TRL, the_cauldron, LLaVA-OneVision, Data-Juicer bytes) read by layout."""

import io
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from synthloop.formats import registry
from synthloop.formats.common import FormatError

DATA = Path(__file__).parent / "data" / "hf"


def _size(ref: dict) -> tuple[int, int]:
    return Image.open(io.BytesIO(ref["bytes"])).size


@pytest.mark.parametrize("name", ["trl.parquet", "trl_arrow"])
def test_trl_images_and_content_parts(name):
    assert registry.detect(DATA / name) == "hf"
    samples = list(registry.read("hf", DATA / name))
    assert [s["messages"][0]["content"] for s in samples] == ["<image>\nWhat colour?", "Compare <image> and <image>",
                                                             "Be brief."]
    assert [[_size(im) for im in s["images"]] for s in samples] == [[(8, 6)], [(8, 6), (6, 8)], []]
    assert samples[2]["messages"][1:] == [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]
    assert samples[0]["id"] == f"{Path(name).stem}_1"


def test_cauldron_images_precede_the_first_question():
    first, second = registry.read("hf", DATA / "cauldron.parquet")
    assert first["messages"] == [{"role": "user", "content": "<image>\nQuestion: colour?\nAnswer briefly."},
                                 {"role": "assistant", "content": "Red."}, {"role": "user", "content": "Shape?"},
                                 {"role": "assistant", "content": "Square."}]
    assert (first["source"], second["source"]) == ("VQAv2", "NLVR2")
    assert second["messages"][0]["content"] == "<image>\n<image>\nWhich is blue?"


def test_onevision_rows_keep_ids_sources_and_text_only_rows():
    image_row, text_row = registry.read("hf", DATA / "onevision.parquet")
    assert (image_row["id"], image_row["source"], _size(image_row["images"][0])) == ("ov_1", "CLEVR", (8, 6))
    assert image_row["messages"][0] == {"role": "user", "content": "<image>\nColour?"}
    assert (text_row["id"], text_row["images"], text_row["source"]) == ("ov_2", [], "magpie")


def test_data_juicer_bytes_parquet_keeps_bytes_and_paths():
    samples = list(registry.read("hf", DATA / "dj_bytes.parquet"))
    assert [s["messages"][1]["content"] for s in samples] == ["A red square.", "A blue square."]
    assert [s["images"][0]["path"] for s in samples] == ["img/red.png", "img/blue.png"]
    assert _size(samples[1]["images"][0]) == (6, 8)


def test_foreign_parquet_is_never_read_as_canonical():
    for name in ("trl.parquet", "cauldron.parquet", "onevision.parquet", "dj_bytes.parquet"):
        with pytest.raises(FormatError, match=rf"{name}: not synthloop's canonical Parquet \(columns: .*\); "
                                              r"read it with --from hf"):
            list(registry.read("parquet", DATA / name))


def test_columns_map_a_custom_layout_and_an_unknown_layout_is_refused_by_name(tmp_path):
    table = pa.table({"pics": [[{"bytes": b"x", "path": "a.png"}]],
                      "chat": [[{"role": "user", "content": "<image>Hi"}, {"role": "assistant", "content": "Yo"}]]})
    pq.write_table(table, tmp_path / "custom.parquet")
    with pytest.raises(FormatError, match=r"custom.parquet: no known column layout in pics, chat \(known: "
                                          r"images\+messages; .*\); map yours with --columns"):
        list(registry.read("hf", tmp_path / "custom.parquet"))
    [sample] = registry.read("hf", tmp_path / "custom.parquet", columns="images=pics,messages=chat")
    assert sample["images"] == [{"bytes": b"x", "path": "a.png"}]
    assert sample["messages"][0]["content"] == "<image>Hi"


def test_canonical_output_round_trips_through_hf(tmp_path):
    samples = list(registry.read("hf", DATA / "trl.parquet"))
    registry.write("parquet", samples, tmp_path / "pq")
    assert registry.detect(tmp_path / "pq") == "parquet"
    assert list(registry.read("hf", tmp_path / "pq")) == samples == list(registry.read("parquet", tmp_path / "pq"))


def test_a_recipe_input_maps_columns_as_the_cli_does(tmp_path):
    from synthloop.engine import Recipe, RecipeError, run
    from synthloop.formats.parquet import read_samples

    png = io.BytesIO()
    Image.new("RGB", (8, 6), "red").save(png, format="PNG")
    table = pa.table({"pics": [[{"bytes": png.getvalue(), "path": "a.png"}]],
                      "chat": [[{"role": "user", "content": "<image>Hi"}, {"role": "assistant", "content": "Yo"}]]})
    pq.write_table(table, tmp_path / "custom.parquet")
    recipe = tmp_path / "recipe.yaml"
    body = f"ops: []\noutput: {{format: parquet, path: {tmp_path / 'out'}}}\nrun_dir: {tmp_path / 'run'}\ninputs:\n"
    recipe.write_text(body + f"  - {{format: hf, path: {tmp_path / 'custom.parquet'}, columns: 'images=pics,messages=chat'}}\n")
    ledger = run(Recipe.from_yaml(recipe), progress=False)
    assert (ledger["input"], ledger["output"], ledger["quarantined"]) == (1, 1, 0)
    assert list(read_samples(tmp_path / "out")) == list(registry.read("hf", tmp_path / "custom.parquet",
                                                                      columns="images=pics,messages=chat"))
    for given, error in [("{format: hf, path: x, columns: 'images'}",
                          r"line 5: inputs\[0\].columns: --columns: expected field=column pairs, got 'images'$"),
                         ("{format: llava, path: x, columns: 'images=pics'}",
                          r"line 5: inputs\[0\]: columns applies to hf inputs only, not llava$")]:
        recipe.write_text(f"{body}  - {given}\n")
        with pytest.raises(RecipeError, match=error):
            Recipe.from_yaml(recipe)
