import random

import numpy as np
import pyarrow as pa
import pytest
import skimage.data
from PIL import Image, ImageDraw
from test_ops_helpers import encode, sample_with, text_sample

from synthloop.ops import op_class
from synthloop.ops.base import Batch, Drop, Quarantine
from synthloop.ops.hamming_index import hamming_pairs
from synthloop.ops.minhash_lsh import lsh_bands

PHOTOS = ["astronaut", "chelsea", "coffee", "rocket", "camera", "coins", "moon", "page", "text", "hubble_deep_field",
          "immunohistochemistry", "clock", "cell", "stereo_motorcycle", "colorwheel", "logo", "grass", "gravel"]


def keys_of(op, samples: list[dict], thumbnail: int | None = None, mode: str = "RGB") -> list[tuple[str, object]]:
    keys = op.key(Batch(samples, max_side=thumbnail, mode=mode))
    return [(s["id"], k) for s, k in zip(samples, keys, strict=True)]


def survivors(drops: dict[str, Drop]) -> dict[str, str]:
    return {dup: drop.value["survivor"] for dup, drop in drops.items()}


# --- the Hamming index ---------------------------------------------------------------------------

@pytest.mark.parametrize("max_distance", [0, 1, 3, 6, 10, 20])
def test_hamming_pairs_equal_brute_force(max_distance):
    rng = np.random.default_rng(max_distance)
    base = rng.integers(0, 2**64, 1500, dtype=np.uint64)
    bits = np.uint64(1) << rng.integers(0, 64, (300, 8)).astype(np.uint64)
    near = base[:300] ^ np.bitwise_xor.reduce(bits[:, : max(1, max_distance // 2)], axis=1)
    hashes = np.concatenate([base, near, base[:20]])  # planted near and exact copies
    i, j, d = hamming_pairs(hashes, max_distance)
    all_d = np.bitwise_count(hashes[:, None] ^ hashes[None, :])
    bi, bj = np.nonzero(np.triu(all_d <= max_distance, k=1))
    assert len(bi) >= 20
    assert np.array_equal(i, bi) and np.array_equal(j, bj) and np.array_equal(d, all_d[bi, bj])


# --- exact_dedup ---------------------------------------------------------------------------------

def test_exact_dedup_on_image_text_and_both(tmp_path):
    red, blue = encode(Image.new("RGB", (8, 8), "red")), encode(Image.new("RGB", (8, 8), "blue"))
    samples = [
        sample_with(red, sample_id="b", answer="A red square."),
        sample_with(red, sample_id="a", answer="a  RED square."),  # same bytes, text equal once normalised
        sample_with(blue, sample_id="c", answer="A red square."),
        sample_with(red, sample_id="d", answer="Something else."),
        text_sample("e", "A red square."),  # no image: never an image duplicate
        text_sample("f", "A red square."),
    ]
    results = {}
    for on in ("image", "text", "both"):
        op = op_class("exact_dedup")(on=on)
        results[on] = survivors(op.resolve(keys_of(op, samples)))
    image_alone = op_class("exact_dedup")(on="image", same_image="drop")
    assert survivors(image_alone.resolve(keys_of(image_alone, samples))) == {"b": "a", "d": "a"}
    assert results["image"] == {"b": "a"}  # by default the conversation is part of the key: d asks something else
    assert results["text"] == {"b": "a", "c": "a", "f": "e"}
    assert results["both"] == {"b": "a", "f": "e"}  # two text-only samples: no images on both sides
    drop = op_class("exact_dedup")(on="both").resolve(keys_of(op, samples))["b"]
    assert drop == Drop("duplicate of a", value={"survivor": "a", "distance": 0.0})


def test_exact_dedup_quarantines_unreadable_images_unless_it_reads_only_text():
    op = op_class("exact_dedup")()
    keys = op.key(Batch([sample_with("gone.png")]))
    assert isinstance(keys[0], Quarantine) and "gone.png" in keys[0].error
    text_only = op_class("exact_dedup")(on="text").key(Batch([sample_with("gone.png")]))[0]
    assert isinstance(text_only, bytes) and len(text_only) == 16


# --- image_near_dedup ----------------------------------------------------------------------------

def _photo(name: str) -> Image.Image:
    loaded = getattr(skimage.data, name)()
    array = np.asarray(loaded[0] if isinstance(loaded, tuple) else loaded)
    return Image.fromarray(array[..., :3] if array.ndim == 3 else array).convert("RGB")


def _shapes(seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    img = Image.new("RGB", (160, 160), tuple(rng.integers(0, 256, 3).tolist()))
    draw = ImageDraw.Draw(img)
    for _ in range(4):
        x, y, size = rng.integers(0, 120, 2).tolist() + [int(rng.integers(20, 60))]
        shape = draw.ellipse if rng.random() < 0.5 else draw.rectangle
        shape([x, y, x + size, y + size], fill=tuple(rng.integers(0, 256, 3).tolist()))
    return img


def _copies(img: Image.Image) -> dict[str, bytes]:
    w, h = img.size
    dx, dy = max(1, w // 100), max(1, h // 100)
    return {"q30": encode(img, "JPEG", quality=30), "q75": encode(img, "JPEG", quality=75),
            "half": encode(img.resize((w // 2, h // 2), Image.Resampling.BILINEAR)),
            "crop1pc": encode(img.crop((dx, dy, w - dx, h - dy)), "JPEG", quality=90)}


@pytest.fixture(scope="module")
def near_dup_samples() -> tuple[list[dict], dict[str, str]]:
    """Originals (photos and rendered shapes) and their copies, with random ids; returns the samples
    and, for each copy, the id of its original."""
    rng = random.Random(7)
    originals = {name: _photo(name) for name in PHOTOS} | {f"shapes{k}": _shapes(k) for k in range(8)}
    samples, original_of = [], {}
    for name, img in originals.items():
        original_id = f"{rng.randrange(10**6):06d}_{name}"
        samples.append(sample_with(encode(img, "JPEG", quality=95), sample_id=original_id))
        for kind, data in _copies(img).items():
            copy_id = f"{rng.randrange(10**6):06d}_{name}_{kind}"
            samples.append(sample_with(data, sample_id=copy_id))
            original_of[copy_id] = original_id
    return samples, original_of


# the engine's batch for the op alone (thumbnail, luma only), and batches other ops could ask for
@pytest.mark.parametrize(("thumbnail", "mode"), [(64, "L"), (64, "RGB"), (None, "RGB")])
def test_near_dedup_removes_reencoded_resized_cropped_copies_and_keeps_distinct(near_dup_samples, thumbnail, mode):
    samples, original_of = near_dup_samples
    op = op_class("image_near_dedup")(max_hamming=8)
    drops = op.resolve(keys_of(op, samples, thumbnail=thumbnail, mode=mode))
    groups: dict[str, list[str]] = {}
    for copy_id, original_id in original_of.items():
        groups.setdefault(original_id, [original_id]).append(copy_id)
    expected = {member: min(group) for group in groups.values() for member in group if member != min(group)}
    assert survivors(drops) == expected
    assert all(drop.reason == f"duplicate of {expected[dup]}" for dup, drop in drops.items())
    assert all(0 <= drop.value["distance"] <= 16 for drop in drops.values())


def test_near_dedup_survivors_do_not_depend_on_input_order(near_dup_samples):
    samples, _ = near_dup_samples
    op = op_class("image_near_dedup")(max_hamming=8)
    keys = keys_of(op, samples, thumbnail=op.pixels)
    first = op.resolve(keys)
    for seed in range(3):
        shuffled = keys[:]
        random.Random(seed).shuffle(shuffled)
        assert op.resolve(shuffled) == first
    assert keys_of(op, samples[::-1], thumbnail=op.pixels) == keys[::-1]  # keys are per-sample


def test_near_dedup_clusters_are_transitive_and_report_the_distance_to_the_survivor():
    op = op_class("image_near_dedup")(max_hamming=3, same_image="drop")  # keys: the pHashes alone
    # a~b (3 bits), b~c (3 bits), a and c 6 bits apart: one cluster, survivor a; f is alone
    keys = [("c", [0b111111]), ("a", [0]), ("b", [0b111]), ("d", [0]), ("e", None), ("f", [0xFFFF])]
    assert op.resolve(keys) == {"b": Drop("duplicate of a", value={"survivor": "a", "distance": 3.0}),
                                "c": Drop("duplicate of a", value={"survivor": "a", "distance": 6.0}),
                                "d": Drop("duplicate of a", value={"survivor": "a", "distance": 0.0})}


def test_near_dedup_multi_image_samples_match_image_by_image():
    op = op_class("image_near_dedup")(max_hamming=2, same_image="drop")
    keys = [("a", [0, 0xFF]), ("b", [1, 0xFE]),  # 1 bit each: dup
            ("c", [0, 0xF0]),  # second image 4 bits away: distinct
            ("d", [0])]  # one image: never matches two-image samples
    assert op.resolve(keys) == {"b": Drop("duplicate of a", value={"survivor": "a", "distance": 1.0})}


def test_near_dedup_keys_the_conversation_unless_told_to_look_at_the_image_alone():
    image = encode(_shapes(1), "JPEG", quality=90)
    copy = encode(_shapes(1), "JPEG", quality=40)
    samples = [sample_with(image, sample_id="a", answer="Red."), sample_with(copy, sample_id="b", answer="Red."),
               sample_with(copy, sample_id="c", answer="Blue.")]
    by_conversation = op_class("image_near_dedup")()
    assert survivors(by_conversation.resolve(keys_of(by_conversation, samples))) == {"b": "a"}
    for mode, reason in (("drop", "duplicate of a"), ("merge", "merged into a")):
        op = op_class("image_near_dedup")(same_image=mode)
        drops = op.resolve(keys_of(op, samples))
        assert survivors(drops) == {"b": "a", "c": "a"} and drops["c"].reason == reason


def test_exact_dedup_merges_and_drops_only_on_image():
    with pytest.raises(ValueError, match="same_image: merge needs on: image"):
        op_class("exact_dedup")(on="both", same_image="merge")


def test_near_dedup_quarantines_undecodable_images():
    op = op_class("image_near_dedup")()
    keys = op.key(Batch([sample_with(b"garbage"), sample_with()]))
    assert keys == [Quarantine("image 0: cannot read image header: not an image format Pillow knows"), None]


# --- text_minhash_dedup --------------------------------------------------------------------------

BASE = ("A man in a red jacket rides a bicycle along the river while two dogs run beside him "
        "and a small boat passes under the old stone bridge in the evening light.")


def test_lsh_bands_fit_the_signature_and_threshold():
    for threshold in (0.5, 0.8, 0.9):
        bands, rows = lsh_bands(threshold, 128)
        assert bands * rows <= 128
        assert abs((1 / bands) ** (1 / rows) - threshold) < 0.1  # the S-curve's steepest point


def test_minhash_dedup_drops_near_copies_and_keeps_distinct_texts():
    texts = {
        "t00": BASE,
        "t01": BASE.replace("evening", "morning"),  # one word changed in 32
        "t02": BASE.upper() + "  ",  # same words
        "t03": "Three children build a sandcastle on a sunny beach next to a blue umbrella and a cooler.",
        "t04": "A plate of pasta with tomato sauce, basil leaves and grated cheese on a wooden table.",
        "t05": BASE[: len(BASE) // 2],  # half the text: Jaccard about 0.4
    }
    samples = [text_sample(k, v, question="Describe.") for k, v in texts.items()]
    op = op_class("text_minhash_dedup")(threshold=0.8, role="assistant")
    keys = keys_of(op, samples)
    drops = op.resolve(keys)
    assert survivors(drops) == {"t01": "t00", "t02": "t00"}
    assert drops["t02"].value["distance"] == 0.0
    assert 0 < drops["t01"].value["distance"] <= 0.2
    shuffled = keys[::-1]
    assert op.resolve(shuffled) == drops


def test_minhash_keys_are_deterministic_and_skip_empty_text():
    op = op_class("text_minhash_dedup")(role="assistant", num_perm=64)
    samples = [text_sample("a", BASE), text_sample("b", " ... ")]
    first, second = op.key(Batch(samples)), op.key(Batch(samples))
    assert first == second and len(first[0]) == 64 * 4 and first[1] is None
    assert op.resolve([("a", first[0]), ("b", None)]) == {}


def test_phash_equals_the_textbook_definition_up_to_rounding():
    """Pillow's 8-bit Lanczos resize to 32x32, scipy's DCT-II, 8x8 low frequencies against their median:
    phash's float matrix products agree but for coefficients within rounding of the median."""
    from scipy.fft import dctn

    from synthloop.ops.phash import phash

    images = [_photo(name) for name in PHOTOS] + [_shapes(k) for k in range(8)]
    grey = [np.asarray(img.convert("L").resize((32, 32), Image.Resampling.LANCZOS, reducing_gap=3.0), np.float64)
            for img in images]
    low = dctn(np.stack(grey), type=2, axes=(1, 2))[:, :8, :8].reshape(len(images), 64)
    bits = low > np.median(low, axis=1, keepdims=True)
    reference = np.packbits(bits, axis=1).view(">u8").ravel().astype(np.uint64)
    distances = np.bitwise_count(phash(images) ^ reference)
    assert distances.max() <= 2 and (distances == 0).mean() >= 0.8, distances


@pytest.mark.parametrize("name, params", [("text_minhash_dedup", {"threshold": 0.7, "role": "assistant"}),
                                          ("exact_dedup", {"on": "text"})])
def test_duplicates_among_the_keys_sharing_a_bucket_hash_are_those_among_all(name, params):
    """What a cluster leaves the driver (engine.executors.ray): only the samples whose bucket hash
    another shares; resolving those alone finds the same drops, survivors and distances."""
    from synthloop.ops.dedup_resolve import ArrayKeys, sharing_rows

    rng = random.Random(0)
    texts = [" ".join(f"w{rng.randrange(400)}" for _ in range(40)) for _ in range(300)]
    for k in range(0, 90, 2):  # exact copies, near copies (a word changed) and copies of those (chains)
        words = texts[k if k < 60 else -30].split()
        words[rng.randrange(40)] = "changed"
        texts.append(" ".join(words) if k % 4 else texts[k])
    op = op_class(name)(**params)
    ids, values = zip(*sorted(keys_of(op, [text_sample(f"s{k:04d}", t) for k, t in enumerate(texts)])), strict=True)
    values = pa.array(list(values), op.key_type())
    everything = op.duplicates(ArrayKeys(values))
    hashes = op.bucket_hashes(values)
    shared = sharing_rows(hashes.reshape(-1), np.repeat(np.arange(len(values)), hashes.shape[1]))
    alone = op.duplicates(ArrayKeys(values.take(pa.array(shared))))
    assert op.bucketed and len(everything.rows) >= 20 and len(shared) < len(values) // 3
    assert shared[alone.rows].tolist() == everything.rows.tolist()
    assert shared[alone.survivors].tolist() == everything.survivors.tolist()
    assert alone.distances.tolist() == everything.distances.tolist()



def _near_dedup_keys(rng: np.random.Generator, max_hamming: int, keyed: bool) -> list[list[int]]:
    """pHash keys of one or two images (then, when `keyed`, a conversation digest, one fifth of them the
    same); every other key past the 200th is an earlier key with up to max_hamming bits flipped per image."""
    keys: list[list[int]] = []
    for k in range(400):
        if k >= 200 and k % 2:
            base = keys[int(rng.integers(0, k))]
            images = [h ^ sum(1 << int(b) for b in rng.choice(64, max(0, max_hamming - k % 3 % 2), replace=False))
                      for h in base[: len(base) - keyed]]
            keys.append(images + base[len(images):])
        else:
            images = [int(h) for h in rng.integers(0, 2**64, 1 + k % 2, np.uint64)]
            keys.append(images + ([0 if k % 5 == 0 else int(rng.integers(1, 2**64, dtype=np.uint64))] if keyed else []))
    return keys


@pytest.mark.parametrize("max_hamming, same_image", [(0, "drop"), (6, "drop"), (12, "merge"), (64, "drop"),
                                                     (12, "keep"), (6, "keep")])
def test_near_duplicates_all_share_a_bucket_hash(max_hamming, same_image):
    """Every pair the near dedup matches (same image count, every image within max_hamming bits, same
    conversation when keyed) shares a bucket hash, so a cluster grouping the hashes loses none; the
    duplicates among the samples that share one are those among all."""
    from synthloop.ops.dedup_resolve import ArrayKeys, sharing_rows

    op = op_class("image_near_dedup")(max_hamming=max_hamming, same_image=same_image)
    keys = _near_dedup_keys(np.random.default_rng(max_hamming), max_hamming, op.keys_conversation)
    values = pa.array(keys, op.key_type())
    hashes = op.bucket_hashes(values)
    extra = int(op.keys_conversation)
    matched = 0
    for i in range(len(keys)):
        for j in range(i + 1, len(keys)):
            a, b = keys[i], keys[j]
            if len(a) == len(b) and a[len(a) - extra:] == b[len(b) - extra:] and all(
                    (x ^ y).bit_count() <= max_hamming for x, y in zip(a[: len(a) - extra], b, strict=False)):
                matched += 1
                assert set(hashes[i].tolist()) & set(hashes[j].tolist()), (i, j)
    everything = op.duplicates(ArrayKeys(values))
    shared = sharing_rows(hashes.reshape(-1), np.repeat(np.arange(len(values)), hashes.shape[1]))
    alone = op.duplicates(ArrayKeys(values.take(pa.array(shared))))
    assert matched >= 90 and len(everything.rows) >= 90
    assert shared[alone.rows].tolist() == everything.rows.tolist()
    assert shared[alone.survivors].tolist() == everything.survivors.tolist()
    assert alone.distances.tolist() == everything.distances.tolist()
    if op.keys_conversation:  # (pHash blocks of 9 bits or fewer leave few keys sharing none)
        assert len(shared) < len(values) * 3 // 4
