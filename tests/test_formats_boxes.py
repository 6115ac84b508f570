import json
import random

import pytest
from test_formats_fixture import write_fixture

from synthloop.formats import registry
from synthloop.formats.boxes import (
    denormalize,
    dialect_of,
    expand_to_square,
    find_boxes,
    format_box,
    normalize,
    pad_boxes_in_text,
    parse_box,
    parse_group,
)


def test_parse_both_dialects():
    assert parse_box("[0.1, 0.2, 0.3, 0.4]") == [0.1, 0.2, 0.3, 0.4]
    assert parse_box("[0.100,0.200,0.300,0.400]") == [0.1, 0.2, 0.3, 0.4]
    assert parse_group("[0.100,0.200,0.300,0.400;0.500,0.500,1.000,1.000]") == [[0.1, 0.2, 0.3, 0.4],
                                                                                 [0.5, 0.5, 1.0, 1.0]]
    assert dialect_of("[0.100,0.200,0.300,0.400]") == "shikra"
    assert dialect_of("[0.1, 0.2, 0.3, 0.4]") == "llava"
    with pytest.raises(ValueError, match="not a box"):
        parse_box("[0.1, 0.2, 0.3]")


def test_format_both_dialects():
    assert format_box([0.1, 0.2, 0.3, 0.4]) == "[0.1, 0.2, 0.3, 0.4]"
    assert format_box([0.1, 0.2, 0.3456, 1.0], "shikra") == "[0.100,0.200,0.346,1.000]"
    assert format_box([0.0, 0.12345, 0.5, 1.0], "llava") == "[0.0, 0.123, 0.5, 1.0]"


def test_normalise_and_denormalise():
    assert denormalize([0.1, 0.2, 0.5, 0.6], 200, 100) == pytest.approx([20, 20, 100, 60])
    assert normalize([20, 20, 100, 60], 200, 100) == [0.1, 0.2, 0.5, 0.6]
    assert normalize([1, 1, 2, 2], 3, 3) == [0.333, 0.333, 0.667, 0.667]


@pytest.mark.parametrize(("size", "expected"), [
    # wide 200x100: y pixels 20..60 shift by (200-100)//2 = 50 -> 70..110, all / 200
    ((200, 100), [0.1, 0.35, 0.5, 0.55]),
    # tall 100x200: x pixels 10..50 shift by 50 -> 60..100, y 40..120, all / 200
    ((100, 200), [0.3, 0.2, 0.5, 0.6]),
    # square: unchanged
    ((150, 150), [0.1, 0.2, 0.5, 0.6]),
    # odd difference 101x50: pixels first, x 10.1 -> 10, 50.5 -> 50 (round half to even); shift
    # (101-50)//2 = 25: y 10..30 -> 35..55; all / 101
    ((101, 50), [0.099, 0.347, 0.495, 0.545]),
])
def test_expand_to_square_matches_hand_computed_values(size, expected):
    assert expand_to_square([0.1, 0.2, 0.5, 0.6], *size) == expected


def _dataoptim_reference(box: list[float], width: int, height: int) -> list[float]:
    """The formula of DataOptim's tools/expand_to_square.py (BAAI-DCAI/DataOptim@c50a7c6), restated."""
    pixels = [round(box[0] * width), round(box[1] * height), round(box[2] * width), round(box[3] * height)]
    side, shift = max(width, height), abs(width - height) // 2
    moved = [v + shift if (i % 2 == 1) == (width > height) and width != height else v for i, v in enumerate(pixels)]
    return [round(v / side, 3) for v in moved]


def test_expand_to_square_equals_dataoptim_on_its_example_and_random_boxes():
    # svit_referring_0 and ref3reg_287603 of DataOptim's example/example-byod.json; the expected text is what
    # tools/expand_to_square.py wrote for them with an 800x600 visual_genome/1.jpg and a 640x427 COCO image
    text = ("The sign [0.147, 0.022, 0.258, 0.325] is located higher in the image compared to the clock "
            "[0.526, 0.152, 0.625, 0.717].")
    assert pad_boxes_in_text(text, 800, 600) == (
        "The sign [0.147, 0.141, 0.258, 0.369] is located higher in the image compared to the clock "
        "[0.526, 0.239, 0.625, 0.662].")
    assert pad_boxes_in_text("the area [0.0, 0.106, 0.827, 1.0]?", 640, 427) == "the area [0.0, 0.236, 0.827, 0.833]?"
    rng = random.Random(0)
    for _ in range(20_000):
        width, height = rng.randint(1, 2000), rng.randint(1, 2000)
        box = sorted(round(rng.random(), 3) for _ in range(2))
        box = [box[0], round(rng.random(), 3), box[1], 1.0]
        assert expand_to_square(box, width, height) == _dataoptim_reference(box, width, height), (box, width, height)


def test_pad_boxes_in_text_keeps_each_dialect_and_leaves_other_brackets():
    text = "A [0.1, 0.2, 0.5, 0.6], B [0.100,0.200,0.500,0.600], pixels [10, 20, 30, 40], list [1, 2]"
    assert pad_boxes_in_text(text, 200, 100) == (
        "A [0.1, 0.35, 0.5, 0.55], B [0.100,0.350,0.500,0.550], pixels [10, 20, 30, 40], list [1, 2]")
    assert find_boxes(text) == [[0.1, 0.2, 0.5, 0.6], [0.1, 0.2, 0.5, 0.6]]


def test_pad_boxes_export_option_uses_each_image_size(tmp_path):
    src = write_fixture(tmp_path)
    out = tmp_path / "padded.json"
    registry.write("llava", registry.read("llava", src), out, image_root=tmp_path, pad_boxes=True)
    records = {r["id"]: r for r in json.loads(out.read_text())}
    assert records["shikra_5"]["conversations"][0]["value"] == "What is at [0.100,0.350,0.500,0.550] in <image>?"
    assert records["shikra_5"]["conversations"][1]["value"] == (
        "A box [0.1, 0.35, 0.5, 0.55]; nothing at [0.3, 0.4, 0.4, 0.45].")
    # multi-image and text-only samples are left alone
    assert records["multi_3"]["conversations"][0]["value"] == "Compare <image> with <image>: which is taller?"
