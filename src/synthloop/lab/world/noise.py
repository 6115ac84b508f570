"""Labelled noise: corrupt a known fraction of samples in known ways, then score any filter against the labels.

Every noisy sample carries `meta["noise"] = kind` (and `meta["noise_detail"]`); clean samples have no
`noise` key. Duplicates are new samples (id derived from the original, `meta["duplicate_of"]`); the
original stays clean, so a perfect filter removes exactly the samples labelled noisy.
"""

from __future__ import annotations

import copy
import io
import random

from PIL import Image

from synthloop.formats.boxes import format_box
from synthloop.images import decode
from synthloop.lab.world.describe import BOX_DECIMALS
from synthloop.sample import IMAGE_TOKEN, derive_id

KINDS = ("wrong_answer", "swapped_caption", "near_duplicate", "exact_duplicate", "corrupt_image",
         "truncated_image", "bad_box", "empty_answer", "image_token_mismatch")


def _answer_turn(sample: dict) -> dict:
    """The reply `meta.answer` records: the family question's (`meta.turn` of a multi-turn world
    sample), else the last one."""
    turn = sample["meta"].get("turn")
    if turn is not None:
        return sample["messages"][2 * turn + 1]
    return next(m for m in reversed(sample["messages"]) if m["role"] == "assistant")


def _set_answer(sample: dict, text: str) -> None:
    _answer_turn(sample)["content"] = text
    meta = sample["meta"]
    meta["answer"] = text
    if "answers" in meta:
        meta["answers"] = [text] * len(meta["answers"])


def _wrong_answer(rng: random.Random, sample: dict, answers_by_qtype: dict[str, list[str]]) -> dict | None:
    """Swap the answer for another one of the same form: yes/no flipped, another option letter, or
    another answer of the same qtype from the dataset."""
    right = _answer_turn(sample)["content"]
    if right in ("yes", "no"):
        candidates = ["no" if right == "yes" else "yes"]
    elif sample["meta"].get("choices"):
        candidates = [letter for letter in "ABCD"[: len(sample["meta"]["choices"])] if letter != right]
    else:
        candidates = [a for a in answers_by_qtype.get(sample["qtype"], []) if a != right]
    if not candidates:
        return None
    wrong = rng.choice(candidates)
    _set_answer(sample, wrong)
    meta = sample["meta"]
    if meta.get("choices"):
        meta["mc_answer"] = meta["choices"]["ABCD".index(wrong)]
    if sample["task"] == "rec":
        meta["box"] = [float(v) for v in wrong.strip("[]").split(",")]
    return {"clean_answer": right}


def _near_duplicate(rng: random.Random, sample: dict) -> dict:
    img = decode(sample["images"][0]["bytes"])
    variant = rng.choice(("jpeg", "resize", "crop"))
    if variant == "resize":
        scale = rng.choice((0.75, 1.25, 1.5))
        img = img.resize((round(img.width * scale), round(img.height * scale)), Image.BICUBIC)
    elif variant == "crop":
        margin = max(1, round(0.04 * min(img.size)))
        img = img.crop((margin, margin, img.width - margin, img.height - margin))
    buffer = io.BytesIO()
    img.save(buffer, format="JPEG", quality=rng.randint(70, 92)) if variant == "jpeg" else img.save(buffer, "PNG")
    sample["images"][0] = {"bytes": buffer.getvalue(), "path": None}
    return {"variant": variant}


def _bad_box(rng: random.Random, sample: dict) -> dict:
    x1, y1, x2, y2 = sample["meta"]["box"]
    variant = rng.choice(("degenerate", "inverted", "out_of_range"))
    box = {"degenerate": [x1, y1, x1, y2], "inverted": [x2, y2, x1, y1],
           "out_of_range": [x1, y1, round(x2 + 1.0, 4), round(y2 + 0.5, 4)]}[variant]
    sample["meta"]["box"] = box
    text = format_box(box, decimals=BOX_DECIMALS)
    if sample["task"] == "rec":
        _answer_turn(sample)["content"] = text
        sample["meta"]["answer"] = text
    else:
        user = sample["messages"][0]
        user["content"] = user["content"].rsplit("[", 1)[0] + text + "."
    return {"variant": variant, "clean_box": [x1, y1, x2, y2]}


def _eligible(kind: str, sample: dict) -> bool:
    has_image = bool(sample["images"]) and sample["images"][0].get("bytes") is not None
    if kind == "swapped_caption":
        return sample["task"] == "caption"
    if kind == "bad_box":
        return "box" in sample["meta"] and sample["task"] in ("rec", "reg")
    if kind in ("near_duplicate", "corrupt_image", "truncated_image"):
        return has_image
    return True


def inject(samples: list[dict], rate: float, seed: int, kinds: tuple[str, ...] = KINDS) -> list[dict]:
    """A copy of `samples` with about `rate * len(samples)` noise events, kinds taken in turn (a kind with no
    eligible sample left is skipped). Duplicates are inserted at random positions; inputs are not modified."""
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        raise ValueError(f"unknown noise kind {unknown[0]!r}; known: {', '.join(KINDS)}")
    if not 0 <= rate <= 1:
        raise ValueError(f"noise rate must be in [0, 1], got {rate}")
    rng = random.Random(f"noise/{seed}")
    out = [copy.deepcopy(s) for s in samples]
    order = list(range(len(out)))
    rng.shuffle(order)
    touched: set[int] = set()
    cursor = dict.fromkeys(KINDS, 0)

    def next_eligible(kind: str) -> int | None:
        """The next untouched sample in shuffled order this kind applies to (a cursor per kind)."""
        while cursor[kind] < len(order):
            i = order[cursor[kind]]
            if i not in touched and _eligible(kind, out[i]):
                return i
            cursor[kind] += 1
        return None

    answers_by_qtype: dict[str, set[str]] = {}
    for s in samples:
        answers_by_qtype.setdefault(s["qtype"], set()).add(_answer_turn(s)["content"])
    sorted_answers = {q: sorted(a) for q, a in answers_by_qtype.items()}
    extra: list[dict] = []
    events = round(rate * len(samples))
    for event in range(events):
        kind = kinds[event % len(kinds)]
        index = next_eligible(kind)
        if index is None:
            continue
        sample = out[index]
        touched.add(index)
        detail: dict | None = {}
        if kind == "wrong_answer":
            detail = _wrong_answer(rng, sample, sorted_answers)
        elif kind == "swapped_caption":
            partner = next_eligible(kind)
            if partner is None or _answer_turn(out[partner])["content"] == _answer_turn(sample)["content"]:
                detail = None
            else:
                touched.add(partner)
                mine, theirs = _answer_turn(sample)["content"], _answer_turn(out[partner])["content"]
                _set_answer(sample, theirs)
                _set_answer(out[partner], mine)
                out[partner]["meta"].update(noise=kind, noise_detail={"swapped_with": sample["id"]})
                detail = {"swapped_with": out[partner]["id"]}
        elif kind in ("near_duplicate", "exact_duplicate"):
            dup = copy.deepcopy(sample)
            dup["id"] = derive_id(sample["id"], kind, event)
            detail = _near_duplicate(rng, dup) if kind == "near_duplicate" else {}
            dup["meta"].update(noise=kind, noise_detail=detail, duplicate_of=sample["id"])
            extra.append(dup)
            continue
        elif kind == "corrupt_image":
            data = bytearray(sample["images"][0]["bytes"])
            data[: min(16, len(data))] = bytes(rng.randrange(256) for _ in range(min(16, len(data))))
            sample["images"][0] = {"bytes": bytes(data), "path": None}
        elif kind == "truncated_image":
            data = sample["images"][0]["bytes"]
            sample["images"][0] = {"bytes": data[: len(data) // 3], "path": None}
        elif kind == "bad_box":
            detail = _bad_box(rng, sample)
        elif kind == "empty_answer":
            detail = {"clean_answer": _answer_turn(sample)["content"]}
            _set_answer(sample, "")
        elif kind == "image_token_mismatch":
            user = next(m for m in sample["messages"] if m["role"] == "user")
            if IMAGE_TOKEN in user["content"] and rng.random() < 0.5:
                user["content"] = user["content"].replace(IMAGE_TOKEN, "", 1).lstrip("\n")
                detail = {"variant": "missing"}
            else:
                user["content"] = f"{IMAGE_TOKEN}\n{user['content']}"
                detail = {"variant": "extra"}
        if detail is None:  # nothing fitted; the sample stays clean
            continue
        sample["meta"].update(noise=kind, noise_detail=detail)
    for dup in extra:
        out.insert(rng.randint(0, len(out)), dup)
    return out


def _ratio(num: int, den: int) -> float:
    return num / den if den else 1.0


def score_filter(samples: list[dict], kept_ids: set[str] | list[str], removed_ids: set[str] | list[str]) -> dict:
    """Precision and recall of a filter, overall and per noise kind, from the ids it kept and removed
    (dropped or quarantined). For a duplicate group (an original and its copies) the filter may keep any
    one member: removing the original and keeping a copy scores the same as the reverse.

    Per kind, `recall` = removed samples of that kind / samples of that kind, and `precision` = removed
    samples of that kind / (those + removed clean samples): the precision of the filter as a detector of
    that kind alone. Raises ValueError when an id is both kept and removed or a sample is in neither set."""
    kept, removed = set(kept_ids), set(removed_ids)
    both = kept & removed
    if both:
        raise ValueError(f"sample {min(both)!r} is both kept and removed")
    label = {s["id"]: s["meta"].get("noise") for s in samples}
    missing = [i for i in label if i not in kept and i not in removed]
    if missing:
        raise ValueError(f"{len(missing)} sample(s) neither kept nor removed, e.g. {missing[0]!r}")
    copies: dict[str, list[str]] = {}
    for s in samples:
        if s["meta"].get("duplicate_of") in label:
            copies.setdefault(s["meta"]["duplicate_of"], []).append(s["id"])
    for original, dups in copies.items():
        # A group with exactly one member kept is perfectly deduplicated whichever member survived.
        kept_dup = next((d for d in dups if d in kept), None)
        if original in removed and kept_dup is not None and sum(d in kept for d in dups) == 1:
            label[original], label[kept_dup] = label[kept_dup], None
    noisy = {i for i, kind in label.items() if kind}
    removed_known = removed & set(label)
    false_removed = len(removed_known - noisy)
    result = {
        "samples": len(label), "noisy": len(noisy), "kept": len(kept & set(label)), "removed": len(removed_known),
        "precision": _ratio(len(removed_known & noisy), len(removed_known)),
        "recall": _ratio(len(removed_known & noisy), len(noisy)),
        "kinds": {},
    }
    for kind in sorted({k for k in label.values() if k}):
        ids = {i for i, k in label.items() if k == kind}
        hit = len(ids & removed_known)
        result["kinds"][kind] = {"count": len(ids), "removed": hit, "recall": _ratio(hit, len(ids)),
                                 "precision": _ratio(hit, hit + false_removed)}
    return result
