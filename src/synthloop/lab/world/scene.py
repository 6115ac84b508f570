"""Scenes of the embedded world: objects with shape, colour, size and position, plus rendered words.

A scene is plain data in pixel units; `Scene.annotation()` gives the JSON-ready ground truth
(normalised `[x1, y1, x2, y2]` boxes) that goes into a sample's `meta`. Placement keeps a gap of
`GAP` pixels between everything, so objects never touch or overlap.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

SHAPES = ("circle", "square", "triangle", "diamond", "star", "hexagon", "cross")
COLORS: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30),
    "green": (30, 150, 50),
    "blue": (30, 70, 220),
    "yellow": (240, 200, 20),
    "orange": (245, 130, 20),
    "purple": (140, 50, 180),
    "pink": (250, 120, 190),
    "brown": (130, 80, 30),
    "gray": (128, 128, 128),
    "black": (20, 20, 20),
}
COLOR_NAMES = tuple(COLORS)
TEXT_COLORS = ("black", "blue", "red", "purple", "brown", "green")
CLUTTER_RGB = (205, 205, 205)
GAP = 2


@dataclass(frozen=True)
class Level:
    """One difficulty level; every family reads the fields it needs."""

    objects: tuple[int, int]  # fewest and most objects in a scene (the largest count answer)
    side: tuple[float, float]  # object side as a fraction of the image side
    clutter: int  # distractor lines drawn under the objects
    word_len: tuple[int, int]  # letters in a rendered word
    size_ratio: float  # smallest side ratio a "which is bigger" question asks about
    tinted: bool  # pale random background instead of white


LEVELS = (
    Level(objects=(1, 3), side=(0.22, 0.34), clutter=0, word_len=(3, 4), size_ratio=1.6, tinted=False),
    Level(objects=(2, 5), side=(0.16, 0.28), clutter=0, word_len=(4, 5), size_ratio=1.5, tinted=False),
    Level(objects=(3, 7), side=(0.12, 0.22), clutter=2, word_len=(5, 7), size_ratio=1.35, tinted=True),
    Level(objects=(4, 8), side=(0.10, 0.18), clutter=4, word_len=(7, 9), size_ratio=1.25, tinted=True),
)


@dataclass
class Obj:
    shape: str
    color: str
    x: int
    y: int
    side: int

    @property
    def expr(self) -> str:
        return f"{self.color} {self.shape}"


@dataclass
class Word:
    text: str
    color: str
    font_size: int
    x: int
    y: int
    w: int
    h: int


@dataclass
class Scene:
    size: int
    level: Level
    background: tuple[int, int, int] = (255, 255, 255)
    objects: list[Obj] = field(default_factory=list)
    words: list[Word] = field(default_factory=list)
    clutter: list[tuple[int, int, int, int]] = field(default_factory=list)

    def boxes(self) -> list[tuple[int, int, int, int]]:
        """Pixel boxes (x, y, w, h) of everything placed so far."""
        return [(o.x, o.y, o.side, o.side) for o in self.objects] + [(w.x, w.y, w.w, w.h) for w in self.words]

    def norm_box(self, x: int, y: int, w: int, h: int) -> list[float]:
        s = self.size
        return [round(x / s, 4), round(y / s, 4), round((x + w) / s, 4), round((y + h) / s, 4)]

    def annotation(self) -> dict:
        return {
            "image_size": self.size,
            "background": list(self.background),
            "objects": [
                {"shape": o.shape, "color": o.color, "size": size_word(o.side / self.size),
                 "position": position_word(o.x + o.side / 2, o.y + o.side / 2, self.size),
                 "box": self.norm_box(o.x, o.y, o.side, o.side)}
                for o in self.objects
            ],
            "words": [{"text": w.text, "color": w.color, "box": self.norm_box(w.x, w.y, w.w, w.h)} for w in self.words],
        }


def size_word(fraction: float) -> str:
    return "small" if fraction < 0.18 else "medium" if fraction < 0.27 else "large"


def position_word(cx: float, cy: float, size: int) -> str:
    """Region of the 3x3 grid a centre falls in: 'top left', 'top', ..., 'center', ..., 'bottom right'."""
    col = ("left", "", "right")[min(int(3 * cx / size), 2)]
    row = ("top", "", "bottom")[min(int(3 * cy / size), 2)]
    return f"{row} {col}".strip() or "center"


def new_scene(rng: random.Random, level: Level, size: int) -> Scene:
    background = (255, 255, 255)
    if level.tinted:
        background = tuple(rng.randint(236, 255) for _ in range(3))
    scene = Scene(size=size, level=level, background=background)
    for _ in range(level.clutter):
        scene.clutter.append(tuple(rng.randrange(size) for _ in range(4)))
    return scene


def find_spot(rng: random.Random, scene: Scene, w: int, h: int,
              region: tuple[int, int, int, int] | None = None, tries: int = 60) -> tuple[int, int] | None:
    """A random top-left corner where a w x h box fits inside `region` (x0, y0, x1, y1), GAP away from all."""
    x0, y0, x1, y1 = region or (0, 0, scene.size, scene.size)
    if x1 - x0 < w or y1 - y0 < h:
        return None
    taken = scene.boxes()
    for _ in range(tries):
        x, y = rng.randint(x0, x1 - w), rng.randint(y0, y1 - h)
        if all(x + w + GAP <= bx or bx + bw + GAP <= x or y + h + GAP <= by or by + bh + GAP <= y
               for bx, by, bw, bh in taken):
            return x, y
    return None


def random_side(rng: random.Random, scene: Scene, low: float | None = None, high: float | None = None) -> int:
    lo, hi = scene.level.side
    return max(6, round(rng.uniform(lo if low is None else low, hi if high is None else high) * scene.size))


def add_object(rng: random.Random, scene: Scene, shape: str | None = None, color: str | None = None,
               side: int | None = None, region: tuple[int, int, int, int] | None = None,
               forbid: Callable[[str, str], bool] | None = None) -> Obj | None:
    """Place one object; unset attributes are drawn at random, never repeating a (colour, shape) pair
    already in the scene (so "the red circle" always names one object) nor matching `forbid`."""
    used = {(o.color, o.shape) for o in scene.objects}
    pairs = [(c, s) for c in ([color] if color else COLOR_NAMES) for s in ([shape] if shape else SHAPES)
             if (c, s) not in used and not (forbid and forbid(s, c))]
    if not pairs:
        return None
    color, shape = rng.choice(pairs)
    side = side or random_side(rng, scene)
    spot = find_spot(rng, scene, side, side, region)
    if spot is None:
        return None
    obj = Obj(shape=shape, color=color, x=spot[0], y=spot[1], side=side)
    scene.objects.append(obj)
    return obj


def fill(rng: random.Random, scene: Scene, total: int, forbid: Callable[[str, str], bool] | None = None) -> None:
    """Add random objects until the scene holds `total` (fewer when space runs out)."""
    while len(scene.objects) < total:
        if add_object(rng, scene, forbid=forbid) is None:
            return
