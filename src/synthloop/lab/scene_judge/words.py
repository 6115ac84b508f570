"""The scene judge's word reader: which word a world image shows, and how likely it shows a given word.

The model is a small CRNN (Shi, Bai and Yao 2015, "An End-to-End Trainable Neural Network for Image-based
Sequence Recognition", arXiv:1507.05717): 2-D convolutions that halve the height and keep all 64 columns
of the 64x64 image (so a double letter keeps a blank column between its two peaks), a max over the rows,
then dilated 1-D convolutions along the columns give each column's log-probabilities over a CTC blank and
the letters a-z. Its input is the ink map 1 - min(R, G, B): every text colour of the world is dark in one
channel. It is trained with connectionist temporal classification (Graves, Fernandez, Gomez and
Schmidhuber 2006, "Connectionist Temporal Classification", ICML; torch.nn.CTCLoss) plus a per-column
cross-entropy that names each letter at the middle of its ink and a blank elsewhere (the renderer knows
where every letter is), which shortens CTC's all-blank plateau at the start of training.

Training scenes are the world's OCR scenes at levels 0-3 (questions.ocr's steps, the demo's level 1 most
often), half of them with a vocabulary word and half with a random string of 3-9 letters, so the reader
reads letters rather than recognising a word list; seeds 7_100_000 + seed (held-out scenes 7_200_000 +).

P(l | image) below is the CTC probability of labelling l: the sum over the column alignments that collapse
to l. `p_word(image, w)` is P(w) / (P(w) + P(r)), r being the most likely labelling other than w among the
prefix beam search's BEAM best (Hannun et al. 2014, arXiv:1408.2873): near 1 when w is read with no close
rival, near 0 when another reading is much more likely, 0.5 when the two are equally likely.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import orjson
import torch
from PIL import Image
from safetensors.torch import load_file, save_file
from torch import nn

from synthloop.lab.scene_judge.pixels import one_torch_thread
from synthloop.lab.world import questions
from synthloop.lab.world.render import draw_scene
from synthloop.lab.world.scene import LEVELS, Word, fill, new_scene
from synthloop.lab.world.text import WORDS_BY_LENGTH, add_word, font, ink_box

ALPHABET = "abcdefghijklmnopqrstuvwxyz"  # class 0 is the CTC blank, class i the letter ALPHABET[i - 1]
SIZE = 64
TRAIN_SEED_BASE = 7_100_000
HELD_OUT_SEED_BASE = 7_200_000
LEVEL_WEIGHTS = (1, 3, 2, 2)  # how often training draws a scene of each level
RANDOM_STRINGS = 0.5  # share of training scenes showing random letters instead of a vocabulary word
BLANK_WEIGHT = 0.2  # the blank's weight in the per-column cross-entropy (most columns are blank)
BEAM = 4  # prefix beam width, for reading and for finding the best other reading
BATCH = 64  # images per forward pass at inference (on one core, 64 ran twice as fast as 512)
CHANNELS = (8, 16, 32, 64)  # the 2-D convolutions' widths, at 64, 32, 16 and 8 rows
HIDDEN = 64  # the 1-D convolutions' width
FORMAT = "synthloop-word-reader/1"


class CRNN(nn.Module):
    def __init__(self, channels: tuple[int, ...] = CHANNELS, hidden: int = HIDDEN):
        super().__init__()
        layers: list[nn.Module] = []
        previous = 1
        for i, width in enumerate(channels):
            layers += [nn.Conv2d(previous, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU()]
            if i < len(channels) - 1:
                layers.append(nn.MaxPool2d((2, 1)))
            previous = width
        self.rows = nn.Sequential(*layers)
        columns: list[nn.Module] = []
        for dilation in (1, 2, 4):
            columns += [nn.Conv1d(previous, hidden, 3, padding=dilation, dilation=dilation),
                        nn.BatchNorm1d(hidden), nn.ReLU()]
            previous = hidden
        self.columns = nn.Sequential(*columns, nn.Conv1d(hidden, len(ALPHABET) + 1, 1))

    def forward(self, ink: torch.Tensor) -> torch.Tensor:
        """(N, 1, 64, 64) ink in [0, 1] -> (64 columns, N, 27 classes) log-probabilities, CTC's layout."""
        return self.columns(self.rows(ink).amax(dim=2)).permute(2, 0, 1).log_softmax(-1)


def to_ink(images: list[Image.Image]) -> torch.Tensor:
    """Any mode and size in; 64x64 ink maps 1 - min(R, G, B) / 255 out, shape (N, 1, 64, 64)."""
    rgb = [img.convert("RGB") for img in images]
    arrays = [np.asarray(img if img.size == (SIZE, SIZE) else img.resize((SIZE, SIZE), Image.BILINEAR))
              for img in rgb]
    return 1 - torch.from_numpy(np.stack(arrays).min(axis=3)).unsqueeze(1).float().div_(255)


def spell(word: str) -> list[int] | None:
    """The word's classes, or None when it has a character outside a-z."""
    return [ALPHABET.index(c) + 1 for c in word] if set(word) <= set(ALPHABET) else None


def prefix_beam(probs: np.ndarray, beam: int = BEAM, floor: float = 1e-4) -> list[str]:
    """The `beam` most likely labellings of one image's (columns, classes) probabilities, most likely
    first, by CTC prefix beam search; letters below `floor` in a column are not tried there."""
    beams: dict[str, tuple[float, float]] = {"": (1.0, 0.0)}  # prefix: (P ending in blank, P ending in a letter)
    for column, spoken in zip(probs.tolist(), (probs[:, 1:] > floor).any(axis=1).tolist()):
        if not spoken:  # a blank column (most are): every prefix stays, now ending in a blank
            beams = {prefix: ((blank + letter) * column[0], 0.0) for prefix, (blank, letter) in beams.items()}
            continue
        letters = [(ALPHABET[c - 1], p) for c, p in enumerate(column) if c and p > floor]
        grown: dict[str, list[float]] = {}
        for prefix, (blank, letter) in beams.items():
            same = grown.setdefault(prefix, [0.0, 0.0])
            same[0] += (blank + letter) * column[0]
            for char, p in letters:
                longer = grown.setdefault(prefix + char, [0.0, 0.0])
                if prefix.endswith(char):  # a repeat extends only after a blank; without one it collapses
                    longer[1] += blank * p
                    same[1] += letter * p
                else:
                    longer[1] += (blank + letter) * p
        best = sorted(grown.items(), key=lambda item: -sum(item[1]))[:beam]
        beams = {prefix: (b, n) for prefix, (b, n) in best}
    return list(beams)


def log_p_words(log_probs: torch.Tensor, words: list[list[int]]) -> torch.Tensor:
    """log P(word | image) per image under CTC: minus torch's CTC loss of that labelling."""
    lengths = torch.tensor([len(w) for w in words], dtype=torch.long)
    targets = torch.tensor([c for w in words for c in w], dtype=torch.long)
    columns = torch.full_like(lengths, log_probs.shape[0])
    return -nn.functional.ctc_loss(log_probs, targets, columns, lengths, reduction="none")


class WordReader:
    def __init__(self, net: CRNN):
        self.net = net.eval().to(memory_format=torch.channels_last)  # faster convolutions on a CPU

    @torch.no_grad()
    def log_probs(self, images: list[Image.Image]) -> torch.Tensor:
        """(64 columns, N, 27) log-probabilities, computed BATCH images at a time."""
        if not images:
            return torch.zeros(SIZE, 0, len(ALPHABET) + 1)
        return torch.cat([self.net(to_ink(images[i:i + BATCH]).contiguous(memory_format=torch.channels_last))
                          for i in range(0, len(images), BATCH)], dim=1)

    def read(self, images: list[Image.Image]) -> list[str]:
        """The most likely labelling of each image (prefix beam search); '' where it sees no letters."""
        probs = self.log_probs(images).exp().double().numpy()
        return [prefix_beam(probs[:, i])[0] for i in range(len(images))]

    def p_word(self, images: list[Image.Image], words: list[str]) -> list[float]:
        """P(w) / (P(w) + P(best other reading)) per image (module docstring), w = words[i] stripped and
        lower-cased; 0.0 for a w with a character outside a-z, which the reader cannot write."""
        if len(images) != len(words):
            raise ValueError(f"p_word: {len(images)} images but {len(words)} words")
        if not images:
            return []
        log_probs = self.log_probs(images)
        probs = log_probs.exp().double().numpy()
        asked = [w.strip().lower() for w in words]
        rivals = [next((r for r in prefix_beam(probs[:, i]) if r != w), None) for i, w in enumerate(asked)]
        log_p = log_p_words(log_probs, [spell(w) or [] for w in asked])
        log_rival = log_p_words(log_probs, [spell(r or "") for r in rivals])
        return [0.0 if spell(w) is None else 1.0 if r is None else float(torch.sigmoid(p - q))
                for w, r, p, q in zip(asked, rivals, log_p, log_rival)]


def ocr_scene(rng: random.Random, level: int, text: str | None = None) -> tuple[Image.Image, Word]:
    """A world OCR scene at `level` showing `text` (questions.ocr's steps), or questions.ocr's own scene
    with a vocabulary word when `text` is None; drawn again while the world finds no room."""
    while True:
        if text is None:
            try:
                scene = questions.ocr(rng, LEVELS[level], SIZE).scene
            except questions.NoRoom:
                continue
        else:
            scene = new_scene(rng, LEVELS[level], SIZE)
            if add_word(rng, scene, text) is None:
                continue
            fill(rng, scene, rng.randint(0, max(0, LEVELS[level].objects[0] - 2)))
        return draw_scene(scene), scene.words[0]


def letter_columns(word: Word) -> list[int]:
    """The image column at the middle of each letter's ink, where training teaches the reader to name it."""
    face = font(word.font_size)
    origin = word.x - ink_box(word.text, word.font_size)[0]
    middles = []
    for i, char in enumerate(word.text):
        left, _, right, _ = face.getbbox(char)
        middles.append(min(SIZE - 1, round(origin + face.getlength(word.text[:i]) + (left + right - 1) / 2)))
    return middles


def training_scene(seed: int, k: int) -> tuple[Image.Image, Word]:
    rng = random.Random(f"scene_judge/{TRAIN_SEED_BASE + seed}/{k}")
    level = rng.choices(range(len(LEVELS)), LEVEL_WEIGHTS)[0]
    letters = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(3, 9)))
    return ocr_scene(rng, level, letters if rng.random() < RANDOM_STRINGS else None)


def held_out_scenes(n: int, level: int, seed: int = 0) -> list[tuple[Image.Image, str, str]]:
    """n held-out OCR scenes at `level`: (image, its word, a wrong word as the world's noise picks one:
    another vocabulary word of the level's lengths, as another OCR answer of the demo's pool is)."""
    scenes = []
    for k in range(n):
        rng = random.Random(f"scene_judge/{HELD_OUT_SEED_BASE + seed}/{level}/{k}")
        image, word = ocr_scene(rng, level)
        low, high = LEVELS[level].word_len
        others = [w for length in range(low, high + 1) for w in WORDS_BY_LENGTH[length] if w != word.text]
        scenes.append((image, word.text, rng.choice(others)))
    return scenes


def train_reader(out_dir: Path, seed: int = 0, steps: int = 2400, batch: int = 32, lr: float = 3e-3) -> WordReader:
    """Train on `steps` batches of fresh training scenes, in a fixed order on one thread (the same bytes on
    any machine), and write words.safetensors and words.json into `out_dir`."""
    with one_torch_thread():
        torch.manual_seed(seed)
        net = CRNN().train()
        optimiser = torch.optim.Adam(net.parameters(), lr=lr)
        schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, lr, total_steps=steps, pct_start=0.1)
        frame_weights = torch.tensor([BLANK_WEIGHT] + [1.0] * len(ALPHABET))
        for step in range(steps):
            images, words = zip(*(training_scene(seed, step * batch + i) for i in range(batch)))
            codes = [spell(w.text) for w in words]
            frames = torch.zeros(batch, SIZE, dtype=torch.long)
            for i, (word, code) in enumerate(zip(words, codes)):
                frames[i, letter_columns(word)] = torch.tensor(code)
            log_probs = net(to_ink(list(images)))
            loss = (-log_p_words(log_probs, codes) / torch.tensor([len(c) for c in codes])).mean()
            loss = loss + nn.functional.nll_loss(log_probs.permute(1, 2, 0), frames, weight=frame_weights)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(out_dir / "words.safetensors"),
              metadata={"format": FORMAT})
    config = {"format": FORMAT, "channels": list(CHANNELS), "hidden": HIDDEN, "seed": seed, "steps": steps,
              "batch": batch, "lr": lr}
    (out_dir / "words.json").write_bytes(orjson.dumps(config, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
    return WordReader(net)


def load_reader(directory: Path) -> WordReader:
    """The reader saved by train_reader in `directory`."""
    directory = Path(directory)
    config = orjson.loads((directory / "words.json").read_bytes())
    if config.get("format") != FORMAT:
        raise ValueError(f"{directory / 'words.json'}: format {config.get('format')!r}, expected {FORMAT!r}")
    net = CRNN(tuple(config["channels"]), config["hidden"])
    net.load_state_dict(load_file(str(directory / "words.safetensors")))
    return WordReader(net)
