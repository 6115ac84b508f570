"""`synthloop loop --resume` after SIGKILL, and the same bytes on a loaded machine.

The small loop runs in child processes (each with its own hash seed). A child kills itself with SIGKILL
at a chosen point inside a step: during the synthesis round's engine run (before its dedup resolves),
after a round's training wrote its checkpoint (before the step was marked finished), and after an
evaluation wrote its files. Each following `--resume` continues from the last finished step; the final
`loop.json` must be the pinned one of an uninterrupted run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import yaml
from loop_small import LOOP_JSON_SHA256, sha256, small_recipe

# Patch `module.function` so that, called with a path (or run dir) ending in `where`, it runs (`after`) or not,
# then the process kills itself; then run `synthloop loop RECIPE --resume`.
CHILD = """
import importlib, os, pathlib, signal, sys
module_name, function, where, after, recipe = sys.argv[1:6]
module = importlib.import_module(module_name)
original = getattr(module, function)

def killing(*args, **kwargs):
    paths = [a if isinstance(a, pathlib.Path) else getattr(a, "root", None) for a in args]  # a path or a RunDir
    if where != "-" and any(str(path).endswith(where) for path in paths if path is not None):
        if after == "1":
            original(*args, **kwargs)
        os.kill(os.getpid(), signal.SIGKILL)
    return original(*args, **kwargs)

setattr(module, function, killing)
from synthloop.cli import app
app(["loop", recipe, "--resume"])
"""
KILLS = [  # (what is running, patched function, where)
    ("synthesis", "synthloop.engine.driver", "resolve_stage", "loop/round_1/curate", "0"),
    ("training", "synthloop.train.trainer", "save_checkpoint", "baseline/round_1/ckpt", "1"),
    ("evaluation", "synthloop.evaluate.runner", "write_outputs", "loop/round_2/eval", "1"),
]


def _run(recipe: Path, patch: tuple[str, str, str, str] = ("os", "getpid", "-", "0")) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[1] / "src"),
                                                        os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-c", CHILD, *patch, str(recipe)], env=env, capture_output=True,
                          text=True, timeout=600, check=False)


def _recipe(tmp_path: Path) -> Path:
    path = tmp_path / "loop.yaml"
    path.write_text(yaml.safe_dump(small_recipe(tmp_path / "run")))
    return path


def test_a_loop_killed_during_synthesis_training_and_evaluation_resumes_to_the_same_loop_json(tmp_path):
    recipe = _recipe(tmp_path)
    steps = tmp_path / "run" / "steps"
    for what, module, function, where, after in KILLS:
        killed = _run(recipe, (module, function, where, after))
        assert killed.returncode == -signal.SIGKILL, (what, killed.stderr[-2000:])
        step = where.rsplit("/", 1)[0].replace("/", ".") + "." + {"curate": "curate", "ckpt": "train",
                                                                  "eval": "eval"}[where.rsplit("/", 1)[1]]
        assert not (steps / f"{step}.done").exists() and not (tmp_path / "run" / "loop.json").exists(), what
    finished = _run(recipe)
    assert finished.returncode == 0, finished.stderr[-2000:]
    assert sha256(tmp_path / "run" / "loop.json") == LOOP_JSON_SHA256


def test_a_loaded_machine_gives_the_same_loop_json(tmp_path):
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(os.cpu_count() or 1)]
    try:
        finished = _run(_recipe(tmp_path))
    finally:
        for process in busy:
            process.kill()
            process.wait()
    assert finished.returncode == 0, finished.stderr[-2000:]
    assert sha256(tmp_path / "run" / "loop.json") == LOOP_JSON_SHA256
