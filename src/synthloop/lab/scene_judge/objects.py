"""The scene judge's perception: world images to `SeenScene`s, in the manner of NS-VQA's scene parser (Yi et
al. 2018, "Neural-Symbolic VQA", NeurIPS: propose object segments, then classify each segment's attributes).

1. pixels.py's network labels every pixel (background, clutter, word ink, ten object colours);
2. the connected components (8-connected) of the ink pixels (anything but background and clutter) are the
   candidate objects: world objects are drawn at least 2 px apart from each other and from words, so each
   object is one component, its pixel box the object's box, and its colour P the mean of its pixels' colour
   probabilities (pixels the network calls word ink stay in the component, so they cannot cut a box short);
3. a small shape network looks at each component's crop (its mask, the pixels and the ink probability,
   resized to a GRID x GRID grid, plus the box's size) and gives P over the seven shapes and "none": pieces
   of words and stray pixels are "none" and dropped.

Any image is converted to RGB and resized to 64 x 64 (the size the world renders at and the networks were
trained on; the world's objects and words scale with the image, so a resized world image looks like a
64 px one): a `SeenScene`'s size and boxes are in that 64 px frame.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw
from safetensors.torch import load_file, save_file
from scipy import ndimage
from torch import nn

from synthloop.lab.scene_judge import pixels
from synthloop.lab.scene_judge.seen import SeenObject, SeenScene
from synthloop.lab.world.render import draw_object, draw_scene
from synthloop.lab.world.scene import COLOR_NAMES, SHAPES, Obj, Scene

SIZE = 64
GRID = 16
SHAPE_WIDTH = 16
BATCH = 64  # images per network call in `perceive`
NONE = len(SHAPES)  # the shape network's last class: not an object
EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)
TEXT = pixels.CLASSES.index("text")


class ShapeNet(nn.Module):
    """Two conv blocks over the (mask, ink P, R, G, B) crop, then an MLP that also reads the box size."""

    def __init__(self, width: int = SHAPE_WIDTH) -> None:
        super().__init__()
        self.convs = nn.Sequential(
            nn.Conv2d(5, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.head = nn.Sequential(nn.Linear(2 * width * (GRID // 4) ** 2 + 2, 64), nn.ReLU(),
                                  nn.Linear(64, len(SHAPES) + 1))

    def forward(self, crops: torch.Tensor, sizes: torch.Tensor) -> torch.Tensor:
        return self.head(torch.cat([self.convs(crops).flatten(1), sizes], dim=1))


def as_rgb64(image: Image.Image) -> np.ndarray:
    """uint8 (64, 64, 3) pixels of any PIL image; white (an empty scene) for an image with no pixels or one
    PIL cannot convert or resize (a truncated file)."""
    blank = np.full((SIZE, SIZE, 3), 255, dtype=np.uint8)
    if 0 in image.size:
        return blank
    try:
        image = image.convert("RGB")
        if image.size != (SIZE, SIZE):
            image = image.resize((SIZE, SIZE), Image.BILINEAR)
        return np.asarray(image, dtype=np.uint8)
    except (OSError, ValueError):
        return blank


def components(classes: np.ndarray) -> list[tuple[tuple[int, int, int, int], np.ndarray]]:
    """(box, mask within the box) of each 8-connected component of ink pixels in one (H, W) class map."""
    ink = classes >= TEXT
    labelled, _ = ndimage.label(ink, structure=EIGHT_CONNECTED)
    out = []
    for index, found in enumerate(ndimage.find_objects(labelled), start=1):
        ys, xs = found
        out.append(((xs.start, ys.start, xs.stop, ys.stop), labelled[found] == index))
    return out


def crop_features(rgb: np.ndarray, probs: np.ndarray, box: tuple[int, int, int, int],
                  mask: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """A component's shape-network input from the image and its pixels' class P within the box: (5, GRID,
    GRID) crop and the box's (width, height) / 32."""
    x0, y0, x1, y1 = box
    planes = np.concatenate([mask[None].astype(np.float32), probs[TEXT:TEXT + 1],
                             rgb[y0:y1, x0:x1].transpose(2, 0, 1).astype(np.float32) / 127.5 - 1.0])
    crop = nn.functional.interpolate(torch.from_numpy(planes)[None], size=(GRID, GRID), mode="bilinear",
                                     antialias=True, align_corners=False)[0]
    return crop, torch.tensor([(x1 - x0) / 32, (y1 - y0) / 32])


def colour_p(probs: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    """The mean colour P of a component's pixels, from the class P within its box."""
    mean = probs[pixels.FIRST_COLOR:, mask].mean(1).astype(np.float64)
    mean /= mean.sum()
    return dict(zip(COLOR_NAMES, mean.tolist()))


class Perception:
    def __init__(self, pixel_net: pixels.PixelNet, shape_net: ShapeNet) -> None:
        self.pixel_net, self.shape_net = pixel_net.eval(), shape_net.eval()

    @torch.no_grad()
    def pixel_logits(self, rgbs: np.ndarray) -> torch.Tensor:
        return self.pixel_net(torch.from_numpy(rgbs))

    def perceive(self, images: list[Image.Image]) -> list[SeenScene]:
        """The scene in each image, BATCH images at a time (memory stays flat for any number)."""
        return [scene for start in range(0, len(images), BATCH)
                for scene in self._perceive(images[start:start + BATCH])]

    @torch.no_grad()
    def _perceive(self, images: list[Image.Image]) -> list[SeenScene]:
        rgbs = np.stack([as_rgb64(image) for image in images])
        logits = self.pixel_logits(rgbs)
        classes = logits.argmax(1).numpy()
        # Class P only where it is read (in the components' boxes): the softmax of every pixel costs more.
        found = [(i, box, mask, logits[i, :, box[1]:box[3], box[0]:box[2]].softmax(0).numpy())
                 for i in range(len(images)) for box, mask in components(classes[i])]
        objects: list[list[SeenObject]] = [[] for _ in images]
        if found:
            crops, sizes = zip(*(crop_features(rgbs[i], probs, box, mask) for i, box, mask, probs in found))
            shape_p = self.shape_net(torch.stack(crops), torch.stack(sizes)).softmax(1).double().numpy()
            for (i, box, mask, probs), p in zip(found, shape_p):
                if p.argmax() != NONE:
                    shapes = p[:NONE] / p[:NONE].sum()
                    objects[i].append(SeenObject(color=colour_p(probs, mask),
                                                 shape=dict(zip(SHAPES, shapes.tolist())), box=box))
        return [SeenScene(size=SIZE, objects=tuple(o)) for o in objects]


def load_perception(directory: Path) -> Perception:
    config = json.loads((Path(directory) / "perception.json").read_text())
    pixel_net, shape_net = pixels.PixelNet(config["pixel_width"]), ShapeNet(config["shape_width"])
    pixel_net.load_state_dict(load_file(Path(directory) / "pixels.safetensors"))
    shape_net.load_state_dict(load_file(Path(directory) / "shapes.safetensors"))
    return Perception(pixel_net, shape_net)


def shape_examples(pixel_net: pixels.PixelNet, scenes: list[Scene]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Shape-network training crops of rendered scenes: every object from its true mask, and every
    component the pixel network finds, labelled with the shape of the object whose box it has, else none."""
    perception = Perception(pixel_net, ShapeNet())
    crops, sizes, labels = [], [], []
    for start in range(0, len(scenes), 256):
        chunk = scenes[start:start + 256]
        rgbs = np.stack([np.asarray(draw_scene(scene)) for scene in chunk])
        probs = perception.pixel_logits(rgbs).softmax(1).numpy()
        for rgb, prob, scene in zip(rgbs, probs, chunk):
            truth = {(o.x, o.y, o.x + o.side, o.y + o.side): o for o in scene.objects}
            drawn = pixels.label_map(scene) >= pixels.FIRST_COLOR
            # A component that has an object's pixels but not its box is a pixel error, not a non-object.
            found = [(box, mask) for box, mask in components(prob.argmax(0))
                     if box in truth or not drawn[box[1]:box[3], box[0]:box[2]][mask].any()]
            for box, mask in found + [(box, object_mask(obj)) for box, obj in truth.items()]:
                crop, size = crop_features(rgb, prob[:, box[1]:box[3], box[0]:box[2]], box, mask)
                crops.append(crop)
                sizes.append(size)
                labels.append(SHAPES.index(truth[box].shape) if box in truth else NONE)
    return torch.stack(crops), torch.stack(sizes), torch.tensor(labels)


def object_mask(obj: Obj) -> np.ndarray:
    """The pixels `obj` covers within its box."""
    canvas = Image.new("L", (obj.side, obj.side), 0)
    draw_object(ImageDraw.Draw(canvas), replace(obj, x=0, y=0), fill=1)
    return np.asarray(canvas, dtype=bool)


def train_shapes(crops: torch.Tensor, sizes: torch.Tensor, labels: torch.Tensor, seed: int, epochs: int = 12,
                 batch: int = 64, width: int = SHAPE_WIDTH) -> ShapeNet:
    torch.manual_seed(seed)
    net = ShapeNet(width)

    def batch_loss(indices: np.ndarray) -> torch.Tensor:
        idx = torch.from_numpy(indices)
        return nn.functional.cross_entropy(net(crops[idx], sizes[idx]), labels[idx])

    return pixels.fit(net, batch_loss, len(labels), np.random.default_rng(seed), epochs, batch, lr=3e-3)


def train_perception(out_dir: Path, seed: int = 0, scenes: int = 3000) -> Perception:
    """Train both networks on `scenes` world scenes each (the shape network on scenes the pixel network
    did not see: world seeds TRAIN_SEED + 2 seed and + 1) and write pixels.safetensors, shapes.safetensors
    and perception.json into `out_dir`; deterministic for a seed (one torch thread while training)."""
    with pixels.one_torch_thread():
        pixel_net = pixels.train_pixels(pixels.world_scenes(scenes, pixels.TRAIN_SEED + 2 * seed), seed)
        shape_scenes = pixels.world_scenes(scenes, pixels.TRAIN_SEED + 2 * seed + 1)
        shape_net = train_shapes(*shape_examples(pixel_net, shape_scenes), seed)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in pixel_net.state_dict().items()}, out_dir / "pixels.safetensors")
    save_file({k: v.contiguous() for k, v in shape_net.state_dict().items()}, out_dir / "shapes.safetensors")
    config = {"pixel_width": pixels.WIDTH, "shape_width": SHAPE_WIDTH, "seed": seed, "scenes": scenes}
    (out_dir / "perception.json").write_text(json.dumps(config, indent=1) + "\n")
    return Perception(pixel_net, shape_net)
