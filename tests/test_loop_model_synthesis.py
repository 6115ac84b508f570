"""A loop whose synthesizer is a model generator and judge: every generated sample is in the round's
engine ledger (kept, dropped with the judge's score or by the per-qtype cap, or quarantined with the
generator's error), and the funnel in loop.json adds up to it."""

from __future__ import annotations

import zlib
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest
from loop_small import QTYPES, TINY_TRAIN

from synthloop.formats.parquet import parquet_files, read_samples
from synthloop.loop.recipe import LoopRecipe
from synthloop.loop.rounds import run_loop
from synthloop.models.protocols import Generation, Request
from synthloop.models.uri import register_loaded

REPLY = "Question: How many objects? Options: (A) one (B) two (C) three (D) four Answer: (B) Explanation: counted."


def _hash(request: Request) -> int:
    return zlib.crc32(request.messages[-1]["content"].encode())


class StubGenerator:
    """A parsable multiple-choice question for three prompts in four, text the post-filters reject otherwise."""

    def generate(self, requests: list[Request], max_new_tokens: int = 64, temperature: float = 0.0,
                 seed: int = 0) -> list[Generation]:
        return [Generation(REPLY if _hash(r) % 4 else "I cannot help with that.", [-0.5]) for r in requests]


class StubJudge:
    """P(Yes) spread over [0, 1] by the image's pixels."""

    def p_yes(self, requests: list[Request]) -> list[float]:
        return [(zlib.crc32(r.images[0].tobytes()) % 1000) / 1000 for r in requests]


@pytest.fixture(scope="module")
def model_loop(tmp_path_factory):
    register_loaded("builtin:stub-generator", StubGenerator())
    register_loaded("builtin:stub-judge", StubJudge())
    recipe = LoopRecipe.model_validate({
        "run_dir": str(tmp_path_factory.mktemp("model_loop")), "seed": 5,
        "seed_pool": {"world": 64, "mix": QTYPES}, "benchmark": {"world": 24, "mix": QTYPES},
        "synthesis": {"budget": 20, "synthesizer": {"kind": "model",
                                                    "generator": {"grounded_generate": {"model": "builtin:stub-generator"}},
                                                    "judge": {"model": "builtin:stub-judge", "low": 0.25, "high": 1.0}},
                      "ops": [{"answer_nonempty": {}}, {"exact_dedup": {"on": "both"}}]},
        "rounds": 1, "train": TINY_TRAIN})
    return recipe, run_loop(recipe, log=lambda line: None)


def _rows(folder: Path, columns: list[str]) -> list[dict]:
    return [row for file in (parquet_files(folder) if folder.is_dir() else [])
            for row in pq.ParquetFile(file).read(columns=columns).to_pylist()]


def test_every_generated_sample_is_in_the_ledger_and_the_funnel_adds_up(model_loop):
    recipe, result = model_loop
    for entry in result["rounds"][2:]:
        folder = Path(recipe.run_dir) / entry["arm"] / f"round_{entry['round']}"
        funnel, ledger = entry["funnel"], orjson.loads((folder / "curate" / "ledger.json").read_bytes())
        parents = [s["id"] for s in read_samples(folder / "synth")]
        assert funnel["asked"] == 20 and funnel["generated"] == len(parents) == 40  # two attempts per sample
        assert funnel["generated"] == sum(v for k, v in funnel.items() if k not in ("asked", "generated"))
        kept = list(read_samples(folder / "curate" / "output"))
        dropped = _rows(folder / "curate" / "dropped", ["id", "op", "reason", "value", "meta"])
        quarantined = _rows(folder / "curate" / "quarantine", ["id", "op", "error"])
        # each parent's generation is kept, dropped or quarantined exactly once
        outcomes = [orjson.loads(s["meta"])["parent"] if isinstance(s["meta"], str) else s["meta"]["parent"]
                    for s in [*kept, *dropped]] + [row["id"] for row in quarantined]
        assert sorted(outcomes) == sorted(parents)
        assert all(row["op"] == "grounded_generate" and "not in the Question/Options" in row["error"]
                   for row in quarantined)
        judged = [row for row in dropped if row["op"] == "judge"]
        assert all(row["reason"] == "judge_p below 0.25" and float(row["value"]) < 0.25 for row in judged)
        assert all(0.25 <= s["scores"]["judge_p"] for s in kept)
        capped = [row for row in dropped if row["op"] == "stratified"]
        assert (funnel["quarantined"], funnel["judged_out"], funnel["capped"]) == (
            len(quarantined), len(judged), len(capped)) == (ledger["quarantined"], ledger["ops"][2]["dropped"],
                                                            ledger["ops"][3]["dropped"])
        assert funnel["added"] == sum(entry["added"].values()) <= 20 and len(kept) <= 20
        assert min(funnel["quarantined"], funnel["judged_out"], funnel["capped"]) > 0  # each path is exercised
