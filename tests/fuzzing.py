"""A seeded fuzzer over every reader (through `synthloop convert`) and the recipe loader.

Each case mutates a valid input (bytes flipped, cut, spliced, or a JSON value replaced by a hostile
one: deep nesting, lone surrogates, 65-bit integers, list ids, paths out of the image root, a FIFO,
/dev/zero) and classifies what happened:

- `ok`: converted with nothing quarantined; `quarantined`: converted, some samples quarantined;
  `error`: refused with one line naming the input. For both conversions the counts must add up
  (read = written + quarantined, and the output holds `written` records).
- `crash` (a traceback), `hang` (past the time limit), `bad count`, `bad error` (not one line, or
  not naming the file): defects; `failures` keeps one example of each.

Used by tests/test_fuzz.py (a short seeded run in CI) and benchmarks/fuzz.py (a long one).
"""

from __future__ import annotations

import io
import json
import os
import random
import re
import signal
import tarfile
import traceback
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from PIL import Image
from typer.testing import CliRunner

from synthloop.cli import app
from synthloop.engine import Recipe, RecipeError
from synthloop.formats.parquet import write_samples
from synthloop.formats.registry import read

DEFECTS = ("crash", "hang", "bad count", "bad error")
DEEP = "__deep__"  # replaced in the text by 5,000 nested lists (past Python's recursion limit)
HOSTILE = [DEEP, "\ud800", 2**70, ["a", "b"], None, True, -1, 1e308, "", "<image>" * 3,
           "../outside.png", "/dev/zero", "fifo.png", "escape.png", "x" * 10_000, {"from": "gpt"}, "\x00", []]
TURNS = [{"from": "human", "value": "<image>\nWhat is it?"}, {"from": "gpt", "value": "A red square."},
         {"from": "human", "value": "Sure?"}, {"from": "gpt", "value": "Yes."}]
RECIPE = {"inputs": [{"format": "llava", "path": "data.jsonl", "image_root": "images/"}],
          "ops": [{"image_size": {"min_side": 8}}, {"exact_dedup": {"on": "image"}},
                  {"text_length": {"max_words": 90}}],
          "output": {"format": "parquet", "path": "out/"}, "run_dir": "runs/x",
          "executor": {"workers": 1, "batch_size": 64}, "seed": 3}


@dataclass
class Outcomes:
    counts: Counter = field(default_factory=Counter)
    failures: dict[str, str] = field(default_factory=dict)

    def add(self, target: str, outcome: str, detail: str = "") -> None:
        self.counts[(target, outcome)] += 1
        if outcome in DEFECTS:
            self.failures.setdefault(f"{target}: {outcome}", detail[-2000:])

    def by_outcome(self) -> Counter:
        totals: Counter = Counter()
        for (_, outcome), n in self.counts.items():
            totals[outcome] += n
        return totals

    def defects(self) -> int:
        return sum(n for (_, outcome), n in self.counts.items() if outcome in DEFECTS)


def make_world(folder: Path) -> None:
    """The image root (with a FIFO and a symlink out of it), and one valid input per reader."""
    images = folder / "images"
    images.mkdir(parents=True)
    Image.new("RGB", (16, 12), "red").save(images / "a.png")
    Image.new("RGB", (12, 16), "blue").save(images / "b.jpg")
    (folder / "outside.png").write_bytes((images / "a.png").read_bytes())
    (images / "escape.png").symlink_to(folder / "outside.png")
    os.mkfifo(images / "fifo.png")
    records = [{"id": f"r{i}", "image": ["a.png", "b.jpg"][i % 2], "conversations": TURNS} for i in range(4)]
    (folder / "data.json").write_text(json.dumps(records, indent=1))
    (folder / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    dj = [{"id": f"d{i}", "text": "<__dj__image>\n[[human]]: What? <|__dj__eoc|> [[gpt]]: Red. <|__dj__eoc|>",
           "images": ["a.png"]} for i in range(3)]
    (folder / "dj.jsonl").write_text("".join(json.dumps(r) + "\n" for r in dj))
    messages = [{"id": f"m{i}", "messages": [{"role": "user", "content": "<image>Hi"},
                                             {"role": "assistant", "content": "Red"}], "images": ["b.jpg"]}
                for i in range(3)]
    (folder / "messages.jsonl").write_text("".join(json.dumps(r) + "\n" for r in messages))
    samples = list(read("llava", folder / "data.jsonl", images))
    for sample in samples:
        sample["images"] = [{"bytes": (images / ref["path"]).read_bytes(), "path": ref["path"]}
                            for ref in sample["images"]]
    write_samples(samples, folder / "pq")
    tar = io.BytesIO()
    with tarfile.open(fileobj=tar, mode="w") as archive:
        for i, sample in enumerate(samples):
            for name, data in ((f"{i:04d}.json", json.dumps({**sample, "images": [
                    {"path": ref["path"], "file": f"{i:04d}.png"} for ref in sample["images"]]}).encode()),
                    (f"{i:04d}.png", sample["images"][0]["bytes"])):
                info = tarfile.TarInfo(name)
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
    (folder / "data.tar").write_bytes(tar.getvalue())
    (folder / "recipe.yaml").write_text(yaml.safe_dump(RECIPE, sort_keys=False))


# (format, seed file, output format): every reader; parquet output embeds images, so the image checks run
TARGETS = [("llava", "data.json", "parquet"), ("llava", "data.jsonl", "messages"), ("dj", "dj.jsonl", "webdataset"),
           ("messages", "messages.jsonl", "parquet"), ("parquet", "pq/part-00000.parquet", "llava"),
           ("webdataset", "data.tar", "dj")]


def mutate_bytes(data: bytes, rng: random.Random) -> bytes:
    kind = rng.randrange(5)
    at = rng.randrange(len(data) + 1)
    if kind == 0:
        return data[:at]  # truncation
    if kind == 1:
        flipped = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            flipped[rng.randrange(len(flipped))] = rng.randrange(256)
        return bytes(flipped)
    if kind == 2:
        return data[:at] + rng.randbytes(rng.randint(1, 64)) + data[at:]
    if kind == 3:
        end = min(len(data), at + rng.randint(1, 256))
        return data[:at] + data[end:]
    other = rng.randrange(len(data) + 1)
    return data[:at] + data[min(at, other):max(at, other)] + data[at:]  # a duplicated span


def mutate_json(value, rng: random.Random):
    """`value` with one node (chosen at random, depth first) replaced by a hostile value."""
    if isinstance(value, dict) and value and rng.random() < 0.8:
        key = rng.choice(list(value))
        return {**value, key: mutate_json(value[key], rng)}
    if isinstance(value, list) and value and rng.random() < 0.8:
        index = rng.randrange(len(value))
        return [*value[:index], mutate_json(value[index], rng), *value[index + 1:]]
    return rng.choice(HOSTILE)


def deepened(text: str) -> str:
    return text.replace(f'"{DEEP}"', "[" * 5000 + "]" * 5000).replace(DEEP, "[" * 5000 + "]" * 5000)


def mutated_text_records(path: Path, rng: random.Random) -> bytes:
    text = path.read_text()
    if path.suffix == ".json":
        return deepened(json.dumps(mutate_json(json.loads(text), rng))).encode()
    lines = text.splitlines()
    index = rng.randrange(len(lines))
    lines[index] = deepened(json.dumps(mutate_json(json.loads(lines[index]), rng)))
    return ("\n".join(lines) + "\n").encode()


class Hang(Exception):
    pass


def _alarm(signum, frame):  # noqa: ARG001
    raise Hang


def within(seconds: float, call: Callable[[], object]) -> object:
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return call()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


COUNTS = re.compile(r"read (\d+), written (\d+), quarantined (\d+)")


def convert_case(world: Path, fmt: str, seed_file: str, to: str, rng: random.Random, case: int,
                 outcomes: Outcomes, time_limit: float) -> None:
    source = world / seed_file
    structural = fmt in ("llava", "dj", "messages") and rng.random() < 0.6
    data = mutated_text_records(source, rng) if structural else mutate_bytes(source.read_bytes(), rng)
    case_dir = world / "cases" / str(case)
    case_dir.mkdir(parents=True)
    src = case_dir / Path(seed_file).name
    src.write_bytes(data)
    dst = case_dir / {"parquet": "out", "webdataset": "out.tar", "messages": "out.jsonl", "llava": "out.json",
                      "dj": "out.jsonl"}[to]
    bad = case_dir / "bad.jsonl"
    target = f"{fmt} -> {to}"
    args = ["convert", str(src), str(dst), "--from", fmt, "--to", to, "--image-root", str(world / "images"),
            "--quarantine", str(bad)]
    try:
        result = within(time_limit, lambda: CliRunner().invoke(app, args))
    except Hang:
        outcomes.add(target, "hang", f"{src}")
        return
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        outcomes.add(target, "crash", "".join(traceback.format_exception(result.exception)))
        return
    if result.exit_code != 0:
        message = result.stderr.strip()
        one_line = message.startswith("error: ") and "\n" not in message and "Traceback" not in message
        outcomes.add(target, "error" if one_line and str(case_dir) in message else "bad error", message)
        return
    match = COUNTS.search(result.stdout)
    written_records = _count_records(to, dst)
    quarantined_lines = len(bad.read_bytes().splitlines()) if bad.exists() else 0
    if not match or int(match[1]) != int(match[2]) + int(match[3]) or int(match[2]) != written_records \
            or int(match[3]) != quarantined_lines:
        outcomes.add(target, "bad count", f"{result.stdout} records={written_records} quarantine={quarantined_lines}")
        return
    outcomes.add(target, "quarantined" if int(match[3]) else "ok")


def _count_records(fmt: str, path: Path) -> int:
    if not path.exists():
        return 0
    return sum(1 for _ in read(fmt, path, path.parent))


def recipe_case(world: Path, rng: random.Random, case: int, outcomes: Outcomes, time_limit: float) -> None:
    source = world / "recipe.yaml"
    if rng.random() < 0.5:
        data = mutate_bytes(source.read_bytes(), rng)
    else:
        data = deepened(yaml.safe_dump(mutate_json(RECIPE, rng), sort_keys=False)).encode()
        if rng.random() < 0.3:  # a duplicate key, an alias bomb or deep nesting
            data += rng.choice([b"seed: 4\n",
                                b"a: &a [1, 1, 1, 1, 1, 1, 1, 1]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\n"
                                b"c: &c [*b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c]\n",
                                b"deep: " + b"[" * 3000 + b"]" * 3000 + b"\n"])
    path = world / "cases" / f"recipe{case}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    try:
        within(time_limit, lambda: Recipe.from_yaml(path))
    except Hang:
        outcomes.add("recipe", "hang", str(path))
    except RecipeError as err:
        message = str(err)
        outcomes.add("recipe", "error" if message.startswith(str(path)) and "\n" not in message else "bad error",
                     message)
    except Exception:  # noqa: BLE001 - what the fuzzer looks for
        outcomes.add("recipe", "crash", traceback.format_exc())
    else:
        outcomes.add("recipe", "ok")


def fuzz(world: Path, cases: int, seed: int = 0, time_limit: float = 10.0, deadline: float | None = None,
         progress: Callable[[int, Outcomes], None] | None = None) -> Outcomes:
    """Run `cases` seeded cases (fewer if `time.monotonic()` passes `deadline`) spread over every target;
    `world` must be a fresh, empty folder."""
    make_world(world)
    rng, outcomes = random.Random(seed), Outcomes()
    for case in range(cases):
        if deadline is not None and time.monotonic() > deadline:
            break
        pick = case % (len(TARGETS) + 1)
        if pick == len(TARGETS):
            recipe_case(world, rng, case, outcomes, time_limit)
        else:
            convert_case(world, *TARGETS[pick], rng, case, outcomes, time_limit)
        if progress is not None:
            progress(case + 1, outcomes)
    return outcomes
