import io

import pytest
from PIL import Image

from synthloop.formats.parquet import read_samples, write_samples
from synthloop.sample import SampleError, derive_id, new_sample, validate_sample


def png(color: str = "red", size: tuple[int, int] = (8, 6)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "PNG")
    return buffer.getvalue()


def varied_samples() -> list[dict]:
    return [
        new_sample("a_1", [{"role": "user", "content": "<image>\nWhat colour?"}, {"role": "assistant", "content": "red"}],
                   [{"bytes": png(), "path": "a.png"}], task="vqa", qtype="color", source="a",
                   meta={"answers": ["red"] * 10}, scores={"image_width": 8.0}),
        new_sample("b_2", [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Héllo ✓"},
                           {"role": "assistant", "content": "Hi"}]),
    ]


def test_parquet_round_trip_is_exact(tmp_path):
    samples = varied_samples()
    write_samples(samples, tmp_path / "out", shard_rows=1)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["part-00000.parquet", "part-00001.parquet"]
    assert list(read_samples(tmp_path / "out")) == samples


def test_hugging_face_datasets_reads_parquet_and_decodes_images(tmp_path):
    datasets = pytest.importorskip("datasets")
    write_samples(varied_samples(), tmp_path / "out")
    ds = datasets.load_dataset("parquet", data_files=str(tmp_path / "out" / "*.parquet"), split="train")
    first = ds[0]
    assert first["images"][0].size == (8, 6)
    assert first["images"][0].convert("RGB").getpixel((0, 0)) == (255, 0, 0)
    assert first["messages"][1] == {"role": "assistant", "content": "red"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"images": []}, "sample 'a_1': 1 <image> placeholder(s) but 0 image(s)"),
        ({"id": ""}, "sample '': id: String should have at least 1 character"),
        ({"messages": [{"role": "robot", "content": "<image>"}]}, "sample 'a_1': messages.0.role:"),
        ({"images": [{"bytes": None, "path": None}]}, "sample 'a_1': images.0: an image needs bytes or a path"),
    ],
)
def test_validation_names_sample_and_problem(change, message):
    sample = {**varied_samples()[0], **change}
    with pytest.raises(SampleError) as err:
        validate_sample(sample)
    assert str(err.value).startswith(message)


def test_derived_ids_are_deterministic_and_distinct():
    assert derive_id("x_1", "caption", 0) == derive_id("x_1", "caption", 0)
    assert derive_id("x_1", "caption", 0) != derive_id("x_1", "caption", 1)
    assert derive_id("x_1", "caption", 0).startswith("x_1~caption0_")
