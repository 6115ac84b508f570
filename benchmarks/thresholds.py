"""Default thresholds measured: MinHash LSH bands x rows, and NudeNet false positives on safe images.

    .venv/bin/python benchmarks/thresholds.py minhash [--n 2000]
    .venv/bin/python benchmarks/thresholds.py nudenet [--scenes 200]

minhash: planted near-duplicate texts (word substitutions of 40-word texts, true Jaccard of the op's
5-word shingles computed exactly); for several (bands, rows) at threshold 0.8 and 128 permutations,
the share of true pairs (J >= 0.8) that `text_minhash_dedup` finds (candidates from banded LSH, then
checked on the full signature), and the same through rensa's RMinHashLSH.
nudenet: NudeNet's detections on scikit-image's photos and on rendered world scenes (all safe):
the highest score per class, and how many images each `max_unsafe` would drop.
"""

from __future__ import annotations

import argparse
import random
from collections import defaultdict

import numpy as np


def minhash(n: int) -> None:
    from rensa import RMinHash, RMinHashLSH

    from synthloop.ops.minhash_lsh import band_hashes, candidate_pairs, lsh_bands, shingles, signatures

    rng = random.Random(0)
    vocabulary = [f"w{k}" for k in range(20000)]
    texts, pairs = [], []
    for _ in range(n):
        base = rng.choices(vocabulary, k=40)
        copy = base[:]
        for k in rng.sample(range(40), rng.randint(0, 3)):
            copy[k] = rng.choice(vocabulary)
        pairs.append((len(texts), len(texts) + 1))
        texts += [" ".join(base), " ".join(copy)]
    sets = [shingles(t, 5) for t in texts]
    true = {(a, b) for a, b in pairs if len(set(sets[a]) & set(sets[b])) / len(set(sets[a]) | set(sets[b])) >= 0.8}
    sigs = signatures(sets, 128, 0)
    print(f"{len(true)} planted pairs with Jaccard >= 0.8 (of {len(pairs)}); lsh_bands(0.8, 128) = {lsh_bands(0.8, 128)}")
    for bands, rows in ((9, 13), (9, 14), (8, 16), (16, 8)):
        i, j = candidate_pairs(band_hashes(sigs, bands, rows))
        found = {(int(a), int(b)) for a, b in zip(i, j, strict=True) if (sigs[a] == sigs[b]).mean() >= 0.8}
        print(f"  ours {bands:2d} x {rows:2d}: recall {len(found & true) / len(true):.3f}, "
              f"candidates {len(i)}, kept pairs outside the truth {len(found - true)}")
    for bands in (8, 16):  # rensa needs num_perm divisible by num_bands
        lsh = RMinHashLSH(0.8, 128, bands)
        hashes = []
        for k, tokens in enumerate(sets):
            h = RMinHash(128, 0)
            h.update(tokens)
            hashes.append(h)
            lsh.insert(k, h)
        found = {(a, b) for a, b in true if b in lsh.query(hashes[a]) and hashes[a].jaccard(hashes[b]) >= 0.8}
        print(f"  rensa RMinHashLSH {bands} bands: recall {len(found) / len(true):.3f}")


def nudenet(scenes: int) -> None:
    import skimage.data
    from nudenet import NudeDetector

    from synthloop.lab.world.generate import generate

    images = {}
    for name in skimage.data.__all__:
        try:
            array = getattr(skimage.data, name)()
        except Exception:  # noqa: BLE001  (loaders that need a download fail offline)
            continue
        array = np.asarray(array[0] if isinstance(array, tuple) else array)
        if array.ndim in (2, 3) and min(array.shape[:2]) >= 32:
            images[f"skimage:{name}"] = array
    from synthloop.images import decode

    for sample in generate(scenes, seed=0):
        images[sample["id"]] = np.asarray(decode(sample["images"][0]["bytes"]))
    detector = NudeDetector()
    best: dict[str, tuple[float, str]] = defaultdict(lambda: (0.0, ""))
    per_image: dict[str, dict[str, float]] = {}
    for name, array in images.items():
        rgba = np.asarray(__import__("PIL.Image").Image.fromarray(array).convert("RGBA"))
        scores: dict[str, float] = {}
        for found in detector.detect_batch([rgba])[0]:
            scores[found["class"]] = max(scores.get(found["class"], 0.0), found["score"])
            if found["score"] > best[found["class"]][0]:
                best[found["class"]] = (found["score"], name)
        per_image[name] = scores
    print(f"{len(images)} safe images ({sum(k.startswith('skimage') for k in images)} photos)")
    for cls, (score, name) in sorted(best.items(), key=lambda item: -item[1][0]):
        print(f"  {cls:28s} max {score:.3f} ({name})")
    from synthloop.models.backends.pkg import NSFW_CLASSES

    for threshold in (0.5, 0.6, 0.7, 0.8, 0.85, 0.9):
        dropped = [n for n, s in per_image.items() if max((v for c, v in s.items() if c in NSFW_CLASSES), default=0) > threshold]
        print(f"  max_unsafe {threshold}: drops {len(dropped)} {dropped[:4]}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["minhash", "nudenet"])
    parser.add_argument("--n", type=int, default=2000, help="minhash: planted pairs")
    parser.add_argument("--scenes", type=int, default=200, help="nudenet: rendered world scenes")
    args = parser.parse_args()
    minhash(args.n) if args.what == "minhash" else nudenet(args.scenes)
