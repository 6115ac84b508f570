"""Words rendered into scenes: the vocabulary, the font (DejaVu Sans Bold shipped with matplotlib), placement."""

from __future__ import annotations

import random
from functools import cache, lru_cache
from importlib.util import find_spec
from pathlib import Path

from PIL import ImageFont

from synthloop.lab.world.scene import TEXT_COLORS, Scene, Word, find_spot

WORDS = (
    "cat dog sun box red map cup pen bus key egg fox hat ice jam owl sky toy van zoo "
    "book tree fish bird cake door lamp moon star ship rain frog milk gold king leaf "
    "apple bread chair cloud horse house juice lemon music ocean paper plant river smile tiger water "
    "garden orange pencil rabbit school silver spring summer window yellow bridge candle flower forest "
    "balloon blanket chicken diamond dolphin kitchen machine monster morning penguin picture rainbow "
    "elephant mountain sunshine treasure umbrella computer dinosaur keyboard necklace sandwich "
    "blueberry butterfly chocolate crocodile telephone pineapple adventure furniture"
).split()
WORDS_BY_LENGTH: dict[int, tuple[str, ...]] = {
    n: tuple(w for w in WORDS if len(w) == n) for n in range(3, 10)
}


def font_path() -> Path:
    """DejaVu Sans Bold from matplotlib's data folder, located without importing matplotlib."""
    spec = find_spec("matplotlib")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("matplotlib is not installed; it ships the DejaVu font the world renders words with")
    return Path(spec.submodule_search_locations[0]) / "mpl-data" / "fonts" / "ttf" / "DejaVuSans-Bold.ttf"


@cache
def font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(font_path()), size, layout_engine=ImageFont.Layout.BASIC)


@lru_cache(maxsize=4096)
def ink_box(text: str, size: int) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of the ink of `text` drawn at the origin."""
    return font(size).getbbox(text)


def pick_word(rng: random.Random, scene: Scene) -> str:
    low, high = scene.level.word_len
    return rng.choice(WORDS_BY_LENGTH[rng.randint(low, high)])


def add_word(rng: random.Random, scene: Scene, text: str, max_fraction: float = 0.9) -> Word | None:
    """Place `text` as large as fits `max_fraction` of the width (capped at a third of the image height),
    a little smaller at higher levels; None when no free spot is left."""
    size = max(8, scene.size // 3)
    while size > 8 and ink_box(text, size)[2] - ink_box(text, size)[0] > max_fraction * scene.size:
        size -= 1
    if scene.level.clutter:
        size = max(8, round(size * rng.uniform(0.8, 1.0)))
    left, top, right, bottom = ink_box(text, size)
    spot = find_spot(rng, scene, right - left, bottom - top)
    if spot is None:
        return None
    word = Word(text=text, color=rng.choice(TEXT_COLORS), font_size=size, x=spot[0], y=spot[1],
                w=right - left, h=bottom - top)
    scene.words.append(word)
    return word
