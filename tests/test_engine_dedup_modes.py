"""Image dedup on a LLaVA-style mix: many conversations about one image are data, not duplicates.

By default an image dedup keys on the image and the conversation; `same_image: merge` turns the
samples of one image into one multi-turn sample (as LLaVA-1.5 merges an image's questions), and
`same_image: drop` keeps one sample per image. Shards of 16 rows, so merges cross shards.
"""

import pyarrow.parquet as pq
import pytest
from test_engine_fixtures import jpeg, near_copy, recipe_dict, write_dataset

from synthloop.engine import Recipe, run
from synthloop.formats.parquet import read_samples
from synthloop.sample import new_sample

PHOTO = jpeg((10, 200, 30), (96, 80))
OTHER = jpeg((250, 20, 120), (96, 80))


def _vqa(i: int, image: bytes, question: str, answer: str) -> dict:
    return new_sample(f"s_{i:03d}", [{"role": "user", "content": f"<image>\n{question}"},
                                     {"role": "assistant", "content": answer}], [{"bytes": image, "path": None}])


def _mix() -> list[dict]:
    """40 different conversations about one image (odd ones on a re-encoded near copy), one of them
    asked twice; 3 about another image; a text-only conversation."""
    copy = near_copy(PHOTO, quality=60)
    samples = [_vqa(i, PHOTO if i % 2 == 0 else copy, f"Question {i} about the photo?", f"Answer {i}.")
               for i in range(40)]
    samples.append(_vqa(40, PHOTO, "Question 0 about the photo?", "answer 0."))  # the same exchange again
    samples += [_vqa(41 + i, OTHER, f"Other question {i}?", "Yes.") for i in range(3)]
    samples.append(new_sample("s_044", [{"role": "user", "content": "Tell me a joke."},
                                        {"role": "assistant", "content": "No."}]))
    return samples


def _curate(tmp_path, ops):
    data = write_dataset(tmp_path / "data", _mix())
    ledger = run(Recipe.model_validate(recipe_dict(tmp_path, data, ops)), progress=False)
    return ledger, {s["id"]: s for s in read_samples(tmp_path / "out")}


@pytest.mark.parametrize("ops", [[{"exact_dedup": {"on": "image"}}], [{"image_near_dedup": {}}],
                                 [{"exact_dedup": {}}, {"image_near_dedup": {}}]])
def test_conversations_about_one_image_survive_by_default(tmp_path, ops):
    ledger, out = _curate(tmp_path, ops)
    assert sorted(out) == [f"s_{i:03d}" for i in range(45) if i != 40]  # only the repeated exchange goes
    assert ledger["dropped"] == 1


def test_merge_makes_one_sample_per_image_with_every_distinct_turn(tmp_path):
    ops = [{"exact_dedup": {"on": "image", "same_image": "merge"}}, {"image_near_dedup": {"same_image": "merge"}}]
    ledger, out = _curate(tmp_path, ops)
    assert sorted(out) == ["s_000", "s_041", "s_044"]
    photo = out["s_000"]
    assert len(photo["images"]) == 1 and photo["messages"][0]["content"] == "<image>\nQuestion 0 about the photo?"
    questions = [m["content"] for m in photo["messages"] if m["role"] == "user"]
    assert questions == ["<image>\nQuestion 0 about the photo?", *(f"Question {i} about the photo?" for i in
                                                                   range(1, 40))]  # absorbed in id order
    assert [m["content"] for m in photo["messages"] if m["role"] == "assistant"][:2] == ["Answer 0.", "Answer 1."]
    # the near copies merge into s_001 first, which then merges into s_000; s_040's exchange adds nothing
    assert photo["meta"]["merged_from"] == [f"s_{i:03d}" for i in range(1, 41)]
    assert out["s_041"]["meta"]["merged_from"] == ["s_042", "s_043"] and len(out["s_041"]["messages"]) == 6
    assert out["s_044"]["messages"][0]["content"] == "Tell me a joke."  # text-only: untouched
    counts = [(e["op"], e["in"], e["kept"], e["dropped"]) for e in ledger["ops"]]
    assert counts == [("input", 45, 45, 0), ("exact_dedup", 45, 4, 41), ("image_near_dedup", 4, 3, 1)]
    audit = pq.read_table(ledger["dropped_path"]).to_pylist()
    # each op's audit row names the survivor it chose; s_001 took the near copies' turns on to s_000
    assert {(r["id"], r["reason"], r["survivor"]) for r in audit} == {
        *((f"s_{i:03d}", "merged into s_000", "s_000") for i in [1, *range(2, 41, 2)]),
        *((f"s_{i:03d}", "merged into s_001", "s_001") for i in range(3, 40, 2)),
        ("s_042", "merged into s_041", "s_041"), ("s_043", "merged into s_041", "s_041")}


def test_drop_keeps_one_sample_per_image(tmp_path):
    ledger, out = _curate(tmp_path, [{"image_near_dedup": {"same_image": "drop"}}])
    assert sorted(out) == ["s_000", "s_041", "s_044"] and len(out["s_000"]["messages"]) == 2
    assert (ledger["input"], ledger["output"], ledger["dropped"]) == (45, 3, 42)
