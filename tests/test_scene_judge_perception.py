"""The scene judge's perception: label maps agree with the renderer, the packaged checkpoint perceives held-out
world scenes as their ground truth says, odd images never raise, and training regenerates bit for bit."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from synthloop.images import decode
from synthloop.lab.scene_judge import objects, pixels
from synthloop.lab.scene_judge.seen import SeenObject, SeenScene, from_annotation
from synthloop.lab.world.render import draw_scene, render_png
from synthloop.lab.world.scene import CLUTTER_RGB, COLORS

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
import scene_perception  # noqa: E402  (the benchmark's held-out scenes and its comparison)

CHECKPOINT = Path(objects.__file__).parent / "checkpoint"


@pytest.fixture(scope="module")
def perception() -> objects.Perception:
    return objects.load_perception(CHECKPOINT)


def test_label_maps_mark_exactly_the_pixels_the_renderer_paints():
    for scene in pixels.world_scenes(60, seed=1):
        rgb = np.asarray(draw_scene(scene))
        labels = pixels.label_map(scene)
        words = np.zeros(labels.shape, dtype=bool)
        for word in scene.words:
            words[word.y:word.y + word.h, word.x:word.x + word.w] = True
        assert (labels[~words] != pixels.CLASSES.index("text")).all()
        for name, colour in COLORS.items():
            painted = (rgb == colour).all(-1) & ~words
            assert np.array_equal(painted, labels == pixels.CLASSES.index(name)), name
        # Outside words, clutter and background pixels have their colours; inside, faint ink may blend in.
        assert (rgb[~words & (labels == pixels.CLASSES.index("clutter"))] == CLUTTER_RGB).all()
        assert (rgb[~words & (labels == pixels.CLASSES.index("background"))] == scene.background).all()
        for obj in scene.objects:
            mask = objects.object_mask(obj)
            box = labels[obj.y:obj.y + obj.side, obj.x:obj.x + obj.side]
            assert np.array_equal(box == pixels.CLASSES.index(obj.color), mask)


# Measured with the packaged checkpoint on these 600 scenes: no scene differs from its ground truth
# (benchmarks/scene_perception.py measures 2,000 per level).
@pytest.mark.parametrize(("level", "n"), [(1, 300), (0, 100), (2, 100), (3, 100)])
def test_packaged_perception_sees_held_out_scenes_as_their_ground_truth(perception, level, n):
    samples = scene_perception.held_out(n, level)
    seen = perception.perceive([decode(s["images"][0]["bytes"]) for s in samples])
    wrong = [(s["id"], why) for scene, s in zip(seen, samples)
             if (why := scene_perception.mismatch(scene, from_annotation(s["meta"])))]
    assert wrong == []
    for scene in seen:
        for obj in scene.objects:
            assert sum(obj.color.values()) == pytest.approx(1) and sum(obj.shape.values()) == pytest.approx(1)


def test_the_comparison_notices_each_kind_of_difference():
    truth = from_annotation(scene_perception.held_out(1, 1)[0]["meta"])
    first = truth.objects[0]
    shifted = SeenScene(truth.size, (SeenObject(first.color, first.shape, (0, 0, 1, 1)), *truth.objects[1:]))
    assert scene_perception.mismatch(truth, truth) is None
    assert scene_perception.mismatch(SeenScene(truth.size, truth.objects[1:]), truth) == "count"
    assert scene_perception.mismatch(shifted, truth) == "box"
    recoloured = {c: float(c != max(first.color, key=first.color.get)) / 9 for c in first.color}
    assert scene_perception.mismatch(
        SeenScene(truth.size, (SeenObject(recoloured, first.shape, first.box), *truth.objects[1:])), truth) == "colour"


def draw_png() -> bytes:
    return render_png(pixels.world_scenes(1, seed=2)[0])


def test_odd_images_give_a_scene_and_never_raise(perception):
    images = [Image.new("RGB", (1, 1), "white"), Image.new("L", (300, 20), 255), Image.new("RGBA", (64, 64)),
              Image.new("P", (17, 99)), Image.new("I;16", (64, 64)), Image.new("CMYK", (128, 128)),
              Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)),
              Image.new("RGB", (0, 0)), Image.open(io.BytesIO(draw_png()[:80]))]  # empty; truncated
    seen = perception.perceive(images)
    assert [s.size for s in seen] == [objects.SIZE] * len(images)
    assert seen[0].objects == seen[1].objects == seen[-2].objects == seen[-1].objects == ()  # all white
    assert [o.box for o in perception.perceive([Image.new("RGB", (1, 1), "black")])[0].objects] == [(0, 0, 64, 64)]
    assert perception.perceive([]) == []


def test_training_is_deterministic(tmp_path):
    for run in ("a", "b"):
        objects.train_perception(tmp_path / run, seed=3, scenes=48)
    for name in ("pixels.safetensors", "shapes.safetensors", "perception.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    seen = objects.load_perception(tmp_path / "a").perceive([Image.new("RGB", (64, 64), "white")])
    assert [s.size for s in seen] == [objects.SIZE]
