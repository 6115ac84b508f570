import json

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
    # odd difference 101x50: shift (101-50)//2 = 25; y 10..30 -> 35..55, / 101; x 10.1..50.5 / 101
    ((101, 50), [0.1, 0.347, 0.5, 0.545]),
])
def test_expand_to_square_matches_hand_computed_values(size, expected):
    assert expand_to_square([0.1, 0.2, 0.5, 0.6], *size) == expected


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
