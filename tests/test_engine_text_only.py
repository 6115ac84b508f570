"""Text-only samples (mix665k holds about 40k ShareGPT conversations) pass every image op untouched."""

import test_engine_fixtures  # noqa: F401  (registers the t_ ops)
from pydantic import ValidationError
from test_engine_fixtures import jpeg, recipe_dict, write_dataset

from synthloop.engine import Recipe, run
from synthloop.formats.parquet import read_samples
from synthloop.ops import REGISTRY, op_class
from synthloop.sample import new_sample

HEADER_OPS = ["image_size", "image_aspect_ratio", "image_file_size", "image_token_match"]  # read no pixels


def _image_op_entries() -> list[dict]:
    """Every registered mapper, filter and dedup about images, with defaults (a model that cannot
    load where one is required: text-only samples must never load it)."""
    op_class("image_size")  # loads the registry
    entries = []
    for name, cls in sorted(REGISTRY.items()):
        if cls.kind not in ("mapper", "filter", "dedup") or name.startswith("t_"):
            continue
        try:
            op = cls()
        except ValidationError:
            op = cls(model="builtin:/no/such/checkpoint")
        if op.uses_images() or name in HEADER_OPS:
            entries.append({name: op.model_dump(mode="json")})
    return entries


def test_text_only_samples_pass_every_image_op(tmp_path):
    entries = _image_op_entries()
    names = {name for entry in entries for name in entry}
    assert {"caption", "ocr", "embed", "safety", "judge", "image_text_score", "image_decodable", "image_blur",
            "image_near_dedup", "semantic_dedup", "genixer_generate", "grounded_generate"} <= names
    samples = [new_sample(f"t_{i}", [{"role": "user", "content": f"Tell me about topic {i}."},
                                     {"role": "assistant", "content": f"Topic {i} is broad."}]) for i in range(5)]
    data = write_dataset(tmp_path / "data", samples)
    ledger = run(Recipe.model_validate(recipe_dict(tmp_path, data, entries)), progress=False)
    assert all((e["in"], e["kept"], e["dropped"], e["quarantined"]) == (5, 5, 0, 0) for e in ledger["ops"])
    assert list(read_samples(tmp_path / "out")) == samples


def test_image_ops_still_see_the_samples_with_images(tmp_path):
    samples = [new_sample("a_text", [{"role": "user", "content": "Hi?"}, {"role": "assistant", "content": "Hello."}]),
               new_sample("b_image", [{"role": "user", "content": "<image>\nWhat?"},
                                      {"role": "assistant", "content": "A pattern."}],
                          [{"bytes": jpeg((1, 2, 3))[:200], "path": None}])]  # truncated: quarantined
    data = write_dataset(tmp_path / "data", samples)
    ledger = run(Recipe.model_validate(recipe_dict(tmp_path, data, [{"image_decodable": {}}])), progress=False)
    assert [s["id"] for s in read_samples(tmp_path / "out")] == ["a_text"]
    assert (ledger["ops"][1]["kept"], ledger["ops"][1]["quarantined"]) == (1, 1)
