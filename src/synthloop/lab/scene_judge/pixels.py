"""The pixel classifier of the scene judge's perception: a small fully convolutional network that labels
every pixel of a world image as background, clutter line, word ink or one of the ten object colours.

It is the first stage of NS-VQA's scene parsing (Yi et al. 2018, "Neural-Symbolic VQA: Disentangling
Reasoning from Vision and Language Understanding", NeurIPS: segment, then classify each object's
attributes, then run the question's program on the parsed scene); objects.py groups the labelled pixels
into objects. Training data are world scenes rebuilt from their random streams (`world_scenes`) with
exact label maps drawn by the renderer's own primitives (`label_map`): objects are flat and never
anti-aliased, words are anti-aliased ink, clutter lines are 1 px grey.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import torch
from PIL import Image, ImageDraw
from scipy import ndimage
from torch import nn

from synthloop.lab.world.generate import FAMILIES
from synthloop.lab.world.questions import NoRoom
from synthloop.lab.world.render import draw_object, draw_scene, draw_word
from synthloop.lab.world.scene import COLOR_NAMES, LEVELS, Scene

CLASSES = ("background", "clutter", "text", *COLOR_NAMES)
FIRST_COLOR = CLASSES.index(COLOR_NAMES[0])
TRAIN_SEED = 7_100_000  # world seeds of the scene judge's training scenes (SCENE_JUDGE.md)
HELD_OUT_SEED = 7_200_000
EDGE_WEIGHT = 5.0
WIDTH = 16


class PixelNet(nn.Module):
    """3x3 convolutions, the last two dilated (a 17 px receptive field: a pixel inside a bold letter's
    stroke sees the stroke's anti-aliased edge, which no object has), and a 1x1 head that reads those
    features beside the pixel's own colour (so an object's edge pixel is labelled by its exact colour)."""

    def __init__(self, width: int = WIDTH) -> None:
        super().__init__()
        self.context = nn.Sequential(
            nn.Conv2d(3, width, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(width, width, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(width, width, 3, padding=2, dilation=2), nn.ReLU(inplace=True),
            nn.Conv2d(width, width, 3, padding=4, dilation=4), nn.ReLU(inplace=True))
        self.head = nn.Sequential(nn.Conv2d(width + 3, 2 * width, 1), nn.ReLU(inplace=True),
                                  nn.Conv2d(2 * width, len(CLASSES), 1))

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        """uint8 (B, H, W, 3) pixels -> (B, classes, H, W) logits. The input is ink, 1 - rgb / 255, so the
        zero padding around the image reads as white background."""
        ink = 1.0 - rgb.permute(0, 3, 1, 2).float() / 255.0
        return self.head(torch.cat([self.context(ink), ink], dim=1))


def world_scenes(n: int, seed: int, level_weights: tuple[float, ...] = (1, 3, 1, 1), size: int = 64) -> list[Scene]:
    """n world scenes of random families and levels, scene k drawn from `scene_judge/{seed}/{k}`."""
    scenes = []
    for k in range(n):
        rng = random.Random(f"scene_judge/{seed}/{k}")
        level = rng.choices(range(len(LEVELS)), weights=level_weights)[0]
        family = rng.choice(sorted(FAMILIES))
        while True:
            try:
                scenes.append(FAMILIES[family](rng, LEVELS[level], size).scene)
                break
            except NoRoom:
                continue
    return scenes


def label_map(scene: Scene) -> np.ndarray:
    """The class index of every pixel, drawn in the renderer's order (clutter, objects, words): word ink
    is a pixel the anti-aliased text covers at least half (a fainter one looks like what lies under it,
    and calling it ink would teach the network that the background beside a sharp edge is ink)."""
    labels = Image.new("L", (scene.size, scene.size), 0)
    draw = ImageDraw.Draw(labels)
    for line in scene.clutter:
        draw.line(line, fill=CLASSES.index("clutter"), width=1)
    for obj in scene.objects:
        draw_object(draw, obj, fill=CLASSES.index(obj.color))
    ink = Image.new("L", labels.size, 0)
    ink_draw = ImageDraw.Draw(ink)
    for word in scene.words:
        draw_word(ink_draw, word, fill=255)
    out = np.array(labels)
    out[np.array(ink) >= 128] = CLASSES.index("text")
    return out


def object_outline(labels: np.ndarray) -> np.ndarray:
    """Pixels within one pixel (8-connected) of an object's outline, inside or outside it."""
    drawn = labels >= FIRST_COLOR
    square = np.ones((3, 3), dtype=bool)
    return ndimage.binary_dilation(drawn, square) & ~ndimage.binary_erosion(drawn, square)


@contextmanager
def one_torch_thread() -> Iterator[None]:
    """Torch on one thread inside: the same sums in the same order on any machine, so training and
    held-out scores give the same bytes."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def fit(net: nn.Module, batch_loss: Callable[[np.ndarray], torch.Tensor], n: int, order: np.random.Generator,
        epochs: int, batch: int, lr: float) -> nn.Module:
    """Adam with a one-cycle schedule over `epochs` shuffles (from `order`) of n examples; `batch_loss`
    gets each batch's example indices."""
    optimiser = torch.optim.Adam(net.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=lr, total_steps=epochs * (n // batch))
    for _ in range(epochs):
        perm = order.permutation(n)
        for start in range(0, n - batch + 1, batch):
            loss = batch_loss(perm[start:start + batch])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
    return net.eval()


def train_pixels(scenes: list[Scene], seed: int, epochs: int = 30, batch: int = 32, crop: int = 32,
                 width: int = WIDTH) -> PixelNet:
    """Fit a PixelNet to the scenes' images and label maps on random crop x crop windows, the pixels on
    either side of an object's outline weighing EDGE_WEIGHT (one wrong pixel there moves a box);
    deterministic for a seed."""
    images = np.stack([np.asarray(draw_scene(scene)) for scene in scenes])
    labels = np.stack([label_map(scene) for scene in scenes])
    torch.manual_seed(seed)
    net = PixelNet(width)
    order = np.random.default_rng(seed)
    outlines = np.stack([object_outline(label_image) for label_image in labels])
    weights = np.where(outlines, EDGE_WEIGHT, 1.0).astype(np.float32)

    def batch_loss(indices: np.ndarray) -> torch.Tensor:
        corners = order.integers(0, images.shape[1] - crop + 1, size=(len(indices), 2))
        windows = [(slice(y, y + crop), slice(x, x + crop)) for y, x in corners]
        x_batch = torch.from_numpy(np.stack([images[i][w] for i, w in zip(indices, windows)]))
        y_batch = torch.from_numpy(np.stack([labels[i][w] for i, w in zip(indices, windows)]).astype(np.int64))
        w_batch = torch.from_numpy(np.stack([weights[i][w] for i, w in zip(indices, windows)]))
        loss = nn.functional.cross_entropy(net(x_batch), y_batch, reduction="none")
        return (loss * w_batch).sum() / w_batch.sum()

    return fit(net, batch_loss, len(images), order, epochs, batch, lr=1e-2)
