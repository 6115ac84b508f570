"""Kill a run with SIGKILL at several moments, resume it each time, and compare bytes with an
uninterrupted run."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import test_engine_fixtures  # noqa: F401  (registers the t_ ops)

from synthloop.engine import Recipe, run
from test_engine_fixtures import noisy_samples, recipe_dict, write_dataset

TESTS = Path(__file__).parent
DRIVER = (f"import json, sys; sys.path.insert(0, {str(TESTS)!r}); import test_engine_fixtures; "
          "from synthloop.engine import Recipe, run; "
          "run(Recipe.model_validate(json.loads(sys.argv[1])), resume=True, progress=False)")
OPS = [{"image_decodable": {}}, {"t_copies": {"copies": 2, "delay": 0.03}}, {"t_text_dedup": {}},
       {"t_min_words": {"min_words": 2}}, {"t_most_tokens": {"k": 50}}]


def audit_bytes(root: Path) -> dict[str, bytes]:
    files = [p for folder in ("out", "dropped", "quarantine") for p in (root / folder).rglob("*") if p.is_file()]
    return {str(p.relative_to(root)): p.read_bytes() for p in files}


def ledger_counts(root: Path) -> dict:
    ledger = json.loads((root / "run" / "ledger.json").read_bytes())
    return {k: v for k, v in ledger.items() if not k.endswith("_path")}


def done_markers(root: Path, stage: int) -> int:
    return len(list((root / "run" / "stages" / f"s{stage}" / "done").glob("*.json")))


def run_until(spec: dict, stop_when) -> int:
    """Start (or resume) the run in a fresh interpreter; SIGKILL it once `stop_when()` holds. Its return code.
    The processes a killed run started (its fork server and workers) must not outlive it."""
    process = subprocess.Popen([sys.executable, "-c", DRIVER, json.dumps(spec)])
    started: list[psutil.Process] = []
    while process.poll() is None:
        if stop_when():
            started = psutil.Process(process.pid).children(recursive=True)
            process.send_signal(signal.SIGKILL)
            break
        time.sleep(0.01)
    code = process.wait(timeout=120)
    _, alive = psutil.wait_procs(started, timeout=10)
    assert not alive, f"processes the killed run left behind: {[p.pid for p in alive]}"
    return code


@pytest.mark.slow
def test_killed_and_resumed_runs_give_identical_output(tmp_path):
    data = write_dataset(tmp_path / "data", noisy_samples(120), shard_rows=40)
    reference = Recipe.model_validate(recipe_dict(tmp_path / "ref", data, OPS, batch_size=5, shard_rows=10))
    run(reference, progress=False)

    root = tmp_path / "killed"
    spec = recipe_dict(root, data, OPS, batch_size=5, shard_rows=10)
    # (workers, moment to kill): the worker count may change on resume (it does not change the output);
    # with 2 workers the kill orphans them mid-shard, and they must not spoil the resumed run's files.
    chain = [(2, lambda: done_markers(root, 0) >= 3),  # during stage 0
             (1, lambda: done_markers(root, 1) >= 1),  # after the first global step, during stage 1
             (1, lambda: (root / "run" / "stages" / "s1" / "resolved.json").exists()),  # during the last stage
             (1, lambda: False)]  # to the end
    codes = [run_until({**spec, "executor": {**spec["executor"], "workers": w}}, moment) for w, moment in chain]
    assert codes[-1] == 0 and codes[:-1].count(-signal.SIGKILL) >= 2, codes  # the kills landed mid-run
    assert audit_bytes(root) == audit_bytes(tmp_path / "ref")
    assert ledger_counts(root) == ledger_counts(tmp_path / "ref")
