"""What the scene judge's perception sees in an image: objects, each with a probability over the world's
colours and shapes and a pixel box. The program answers world questions from a `SeenScene`; perception
builds one from pixels, and `from_annotation` builds one from the ground truth a world sample carries in its
`meta` (so the program can be checked against the world's own answers without any perception error)."""

from __future__ import annotations

from dataclasses import dataclass

from synthloop.lab.world.scene import COLOR_NAMES, SHAPES


@dataclass(frozen=True)
class SeenObject:
    color: dict[str, float]  # P(colour) over scene.COLOR_NAMES, summing to 1
    shape: dict[str, float]  # P(shape) over scene.SHAPES, summing to 1
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 in the image's pixels; x1 and y1 exclusive

    @property
    def side(self) -> int:
        """The side of the square box the world drew the object in."""
        return max(self.box[2] - self.box[0], self.box[3] - self.box[1])

    @property
    def center(self) -> tuple[float, float]:
        return (self.box[0] + self.box[2]) / 2, (self.box[1] + self.box[3]) / 2

    def p(self, color: str | None = None, shape: str | None = None) -> float:
        """Probability that the object has `color` and `shape` (either may be left out)."""
        return (self.color[color] if color else 1.0) * (self.shape[shape] if shape else 1.0)


@dataclass(frozen=True)
class SeenScene:
    size: int  # the image's side in pixels
    objects: tuple[SeenObject, ...]


def _one_hot(names: tuple[str, ...], name: str) -> dict[str, float]:
    return {n: float(n == name) for n in names}


def from_annotation(meta: dict) -> SeenScene:
    """A world sample's ground truth (`meta`: `image_size` and `objects` with normalised boxes, as
    `Scene.annotation()` writes them) as perception would see it with no error."""
    size = meta["image_size"]
    return SeenScene(size=size, objects=tuple(
        SeenObject(color=_one_hot(COLOR_NAMES, o["color"]), shape=_one_hot(SHAPES, o["shape"]),
                   box=tuple(round(v * size) for v in o["box"]))
        for o in meta["objects"]))
