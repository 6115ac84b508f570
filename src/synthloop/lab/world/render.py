"""Draw a scene with PIL: flat colours, no anti-aliasing on shapes, so pixels match the annotation exactly."""

from __future__ import annotations

import math

from PIL import Image, ImageDraw

from synthloop.images import encode_png
from synthloop.lab.world.scene import CLUTTER_RGB, COLORS, Obj, Scene, Word
from synthloop.lab.world.text import font, ink_box


def _star(points: int = 5, inner: float = 0.42) -> list[tuple[float, float]]:
    """A star's vertices stretched to fill the unit box exactly."""
    raw = []
    for i in range(2 * points):
        radius = 1.0 if i % 2 == 0 else inner
        angle = math.radians(-90 + 180 * i / points)
        raw.append((radius * math.cos(angle), radius * math.sin(angle)))
    xs, ys = [p[0] for p in raw], [p[1] for p in raw]
    return [((x - min(xs)) / (max(xs) - min(xs)), (y - min(ys)) / (max(ys) - min(ys))) for x, y in raw]


_THIRD = 1 / 3
# Polygon outlines in the unit box; circle and square are drawn with their own primitives.
POLYGONS: dict[str, list[tuple[float, float]]] = {
    "triangle": [(0.5, 0.0), (1.0, 1.0), (0.0, 1.0)],
    "diamond": [(0.5, 0.0), (1.0, 0.5), (0.5, 1.0), (0.0, 0.5)],
    "hexagon": [(0.25, 0.0), (0.75, 0.0), (1.0, 0.5), (0.75, 1.0), (0.25, 1.0), (0.0, 0.5)],
    "star": _star(),
    "cross": [(_THIRD, 0), (2 * _THIRD, 0), (2 * _THIRD, _THIRD), (1, _THIRD), (1, 2 * _THIRD),
              (2 * _THIRD, 2 * _THIRD), (2 * _THIRD, 1), (_THIRD, 1), (_THIRD, 2 * _THIRD), (0, 2 * _THIRD),
              (0, _THIRD), (_THIRD, _THIRD)],
}


def draw_object(draw: ImageDraw.ImageDraw, obj: Obj, fill: int | tuple[int, int, int] | None = None) -> None:
    """Draw `obj` in its colour, or in `fill` (e.g. a class index into an "L" label map: the same pixels)."""
    rgb = COLORS[obj.color] if fill is None else fill
    # Pixel coordinates are inclusive, so a side of s pixels spans x .. x + s - 1.
    x0, y0, span = obj.x, obj.y, obj.side - 1
    if obj.shape == "circle":
        draw.ellipse((x0, y0, x0 + span, y0 + span), fill=rgb)
    elif obj.shape == "square":
        draw.rectangle((x0, y0, x0 + span, y0 + span), fill=rgb)
    else:
        draw.polygon([(x0 + u * span, y0 + v * span) for u, v in POLYGONS[obj.shape]], fill=rgb)


def draw_word(draw: ImageDraw.ImageDraw, word: Word, fill: int | tuple[int, int, int] | None = None) -> None:
    """Draw `word` anti-aliased in its colour, or in `fill` (255 into an "L" image gives its ink coverage)."""
    left, top, _, _ = ink_box(word.text, word.font_size)
    draw.text((word.x - left, word.y - top), word.text, fill=COLORS[word.color] if fill is None else fill,
              font=font(word.font_size))


def draw_scene(scene: Scene) -> Image.Image:
    img = Image.new("RGB", (scene.size, scene.size), scene.background)
    draw = ImageDraw.Draw(img)
    for line in scene.clutter:
        draw.line(line, fill=CLUTTER_RGB, width=1)
    for obj in scene.objects:
        draw_object(draw, obj)
    for word in scene.words:
        draw_word(draw, word)
    return img


def render_png(scene: Scene) -> bytes:
    return encode_png(draw_scene(scene))
