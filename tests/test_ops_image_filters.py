import numpy as np
import pytest
from test_ops_helpers import encode, png_claiming_size, sample_with, solid

from synthloop.ops import op_class
from synthloop.ops.base import Batch, Drop, Quarantine
from synthloop.ops.filters.image_blur import laplacian_variance


def run(op_name: str, samples: list[dict], thumbnail: int | None = None, image_root=None, mode: str = "RGB",
        **params):
    op = op_class(op_name)(**params)
    return op.process(Batch(samples, image_root=image_root, max_side=thumbnail, mode=mode))


def photo_jpeg() -> bytes:
    rng = np.random.default_rng(0)
    return encode(rng.integers(0, 256, (96, 128, 3), dtype=np.uint8), "JPEG", quality=90)


# --- image_decodable ---------------------------------------------------------------------------

@pytest.mark.parametrize(("thumbnail", "mode"), [(None, "RGB"), (1, "RGB"), (None, "L"), (64, "L")])
def test_decodable_keeps_good_images_and_quarantines_each_kind_of_bad_one(tmp_path, thumbnail, mode):
    good = photo_jpeg()
    (tmp_path / "good.jpg").write_bytes(good)
    samples = [
        sample_with(good, sample_id="bytes"),
        sample_with("good.jpg", sample_id="path"),
        sample_with(good[: len(good) // 2], sample_id="truncated_jpeg"),
        sample_with(good[:-200], sample_id="truncated_jpeg_tail"),  # only the last MCU rows are missing
        sample_with(solid(64, 64)[:-30], sample_id="truncated_png"),
        sample_with(np.random.default_rng(1).bytes(2000), sample_id="random_bytes"),
        sample_with("missing.jpg", sample_id="missing"),
        sample_with(png_claiming_size(12_000, 12_000), sample_id="bomb"),  # 144M pixels: Pillow only warns
        sample_with(png_claiming_size(20_000, 20_000), sample_id="huge_bomb"),  # Pillow refuses outright
        sample_with(good, b"not an image", sample_id="second_image_bad"),
    ]
    outcomes = run("image_decodable", samples, thumbnail=thumbnail, image_root=tmp_path, mode=mode)
    assert outcomes[0] == [samples[0]] and outcomes[1] == [samples[1]]
    errors = {s["id"]: o.error for s, o in zip(samples[2:], outcomes[2:], strict=True)}
    assert all(isinstance(o, Quarantine) for o in outcomes[2:])
    assert "truncated" in errors["truncated_jpeg"] and "truncated" in errors["truncated_jpeg_tail"]
    assert "truncated" in errors["truncated_png"] or "cannot decode" in errors["truncated_png"]
    assert errors["random_bytes"] == "image 0: cannot read image header: not an image format Pillow knows"
    assert "missing.jpg" in errors["missing"] and "No such file" in errors["missing"]
    assert "decompression bomb" in errors["bomb"] and "144000000 pixels" in errors["bomb"]
    assert "decompression bomb" in errors["huge_bomb"]
    assert errors["second_image_bad"].startswith("image 1:")


def test_decodable_max_pixels_is_a_parameter():
    outcomes = run("image_decodable", [sample_with(solid(10, 10))], max_pixels=99)
    assert isinstance(outcomes[0], Quarantine) and "10x10 = 100 pixels > 99" in outcomes[0].error


def test_image_filters_pass_samples_without_images():
    sample = sample_with()
    for name in ("image_decodable", "image_size", "image_aspect_ratio", "image_file_size", "image_blur"):
        assert run(name, [sample]) == [[sample]]
    assert sample["scores"] == {}


# --- image_size / image_aspect_ratio / image_file_size -----------------------------------------

def test_size_reads_true_size_from_header_even_from_a_thumbnail_batch():
    big = solid(400, 300, fmt="JPEG")
    outcomes = run("image_size", [sample_with(big)], thumbnail=32, min_side=301)
    assert outcomes[0] == Drop("image 0 is 400x300: shorter side < min_side 301", value=300)
    kept = sample_with(big)
    assert run("image_size", [kept], thumbnail=32, min_side=300, max_side=400) == [[kept]]
    assert kept["scores"] == {"image_min_side": 300.0, "image_max_side": 400.0}


def test_size_bounds_each_image_of_a_multi_image_sample():
    sample = sample_with(solid(50, 40), solid(200, 100))
    assert run("image_size", [sample], max_side=150)[0].reason == "image 1 is 200x100: longer side > max_side 150"
    assert run("image_size", [dict(sample, scores={})], min_pixels=2001)[0] == Drop(
        "image 0 is 50x40: 2000 pixels < min_pixels 2001", value=2000)
    assert run("image_size", [dict(sample, scores={})], max_pixels=19_999)[0].value == 20_000
    assert sample["scores"] == {"image_min_side": 40.0, "image_max_side": 200.0}


def test_aspect_ratio_is_long_over_short_and_stores_the_worst_image():
    wide, tall, square = solid(300, 100), solid(50, 200), solid(64, 64)
    sample = sample_with(square, wide)
    assert run("image_aspect_ratio", [sample], max_ratio=3.0) == [[sample]]
    assert sample["scores"]["image_aspect_ratio"] == 3.0
    dropped = run("image_aspect_ratio", [sample_with(square, tall)], max_ratio=3.0)[0]
    assert dropped == Drop("image 1: aspect ratio 4 > 3", value=4.0)
    assert isinstance(run("image_aspect_ratio", [sample_with(square)], min_ratio=1.5)[0], Drop)


def test_file_size_bounds_in_bytes():
    data = solid(32, 32)
    sample = sample_with(data)
    assert run("image_file_size", [sample], min_bytes=len(data), max_bytes=len(data)) == [[sample]]
    assert sample["scores"]["image_file_size"] == float(len(data))
    assert run("image_file_size", [sample_with(data)], min_bytes=len(data) + 1)[0].value == len(data)
    assert isinstance(run("image_file_size", [sample_with(data)], max_bytes=len(data) - 1)[0], Drop)
    missing = run("image_file_size", [sample_with("nowhere.png")])[0]
    assert isinstance(missing, Quarantine) and "nowhere.png" in missing.error


# --- image_blur ----------------------------------------------------------------------------------

def test_laplacian_variance_on_known_patterns():
    checker = (np.indices((8, 8)).sum(axis=0) % 2 * 255).astype(np.uint8)
    # every interior pixel sees four opposite neighbours: Laplacian +-1020 in equal numbers
    assert laplacian_variance(_gray(checker)) == 1020.0**2
    assert laplacian_variance(_gray(np.full((20, 20), 77, np.uint8))) == 0.0
    ramp = np.tile(np.arange(0, 200, 10, dtype=np.uint8), (5, 1))  # linear: Laplacian 0 everywhere
    assert laplacian_variance(_gray(ramp)) == 0.0
    assert laplacian_variance(_gray(np.zeros((2, 9), np.uint8))) == 0.0
    spike = np.zeros((3, 3), np.uint8)
    spike[1, 1] = 100
    assert laplacian_variance(_gray(spike)) == 0.0  # one interior pixel: variance of one value


def _gray(array: np.ndarray):
    from PIL import Image

    return Image.fromarray(array, mode="L")


def test_blur_drops_blurred_copy_and_keeps_sharp_one():
    import skimage.data
    from PIL import Image, ImageFilter

    photo = Image.fromarray(skimage.data.camera())
    sharp, blurred = encode(photo), encode(photo.filter(ImageFilter.GaussianBlur(4)))
    samples = [sample_with(sharp, sample_id="sharp"), sample_with(blurred, sample_id="blurred")]
    outcomes = run("image_blur", samples, min_variance=100)
    assert outcomes[0] == [samples[0]]
    assert isinstance(outcomes[1], Drop) and outcomes[1].value < 100 < samples[0]["scores"]["image_blur"]
    assert outcomes[1].reason.startswith("image 0: Laplacian variance")
