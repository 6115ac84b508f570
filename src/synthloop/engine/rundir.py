"""The run directory: the resolved recipe and its hash, per-shard work with done markers, the ledger.

```
RUN_DIR/
  recipe.yaml  recipe.hash      the resolved recipe; resuming with another hash is an error
  inputs.json                   the input files' fingerprints; resuming with changed inputs is an error
  ledger.json                   the funnel (engine.ledger)
  dropped/part-sK-J.parquet     what the ops dropped, with op, reason, value and survivor (unless
  quarantine/part-sK-J.parquet  the recipe's output names other folders); what they could not process
  cache/sK-J/                   model outputs of shard J of stage K keyed by (model, input hash) (models.cache)
  downloads/part-J.parquet      a URL input's fetched bytes or failure per URL of shard J (engine.download)
  stages/input.json             how many input shards there are (written once the input is read)
  stages/sK/data/part-J.parquet         stage K's output for shard J (stages before the last)
  stages/sK/keys/opI/part-J.parquet     compact keys of global op I for shard J
  stages/sK/done/part-J.json            done marker of shard J: its counts, written last
  stages/sK/removed/part-J.parquet      ids the global ops after stage K removed from shard J
  stages/sK/merged/part-J.parquet       turns merging dedups move into shard J's survivors (engine.merge)
  stages/sK/resolved.json               done marker of stage K's global ops: their counts
  output/part-J.parquet         the canonical shards when engine.export writes the output in another form
OUTPUT/part-J.parquet
```
RUN_DIR, OUTPUT and the audit folders may be paths or URIs of any pyarrow filesystem (`synthloop.storage`):
a shared folder or an object store that workers on other machines reach.
A run that failed or finished starts over with `force` (the model cache stays: it is keyed by
content). Every file is written to a temporary name unique to the writing process and renamed, so a kill
at any moment leaves either the whole file or none, and a shard without its done marker is
simply redone (deterministically, so its files come out the same).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import yaml

from synthloop.engine.export import exports
from synthloop.engine.input_check import input_change, input_fingerprints
from synthloop.engine.recipe import Recipe, RecipeError
from synthloop.storage import TEMPORARY, Location


class RunDirError(RecipeError):
    """The run directory does not fit the request (changed recipe, existing output, ...)."""


def write_atomic(path: Path | Location, data: bytes) -> None:
    Location.of(path).write_bytes(data)


def write_json(path: Path | Location, value: Any) -> None:
    write_atomic(path, orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))


def read_json(path: Path | Location) -> Any:
    return orjson.loads(Location.of(path).read_bytes())


def read_parquet(path: Path | Location, columns: list[str] | None = None) -> pa.Table:
    return Location.of(path).read_parquet(columns)


class RunDir:
    def __init__(self, recipe: Recipe):
        self.root = Location.of(recipe.run_dir)
        # the canonical shards: the output itself, or what engine.export writes out in the output format
        self.output = self.root / "output" if exports(recipe.output.format, recipe.output.images) else Location.of(
            recipe.output.path)
        out = recipe.output
        self.dropped = Location.of(out.dropped) if out.dropped else self.root / "dropped"
        self.quarantine = Location.of(out.quarantine) if out.quarantine else self.root / "quarantine"
        if exports(out.format, out.images) and not (Location.of(out.path).local and self.quarantine.local):
            raise RunDirError(f"output.path {out.path}: writing {out.format} with images: {out.images} needs local "
                              "paths for the output and the quarantine (object stores hold canonical Parquet, "
                              "format: parquet with images: keep)")

    recipe_file = property(lambda self: self.root / "recipe.yaml")
    hash_file = property(lambda self: self.root / "recipe.hash")
    inputs_file = property(lambda self: self.root / "inputs.json")
    ledger_file = property(lambda self: self.root / "ledger.json")
    cache = property(lambda self: self.root / "cache")
    input_marker = property(lambda self: self.root / "stages" / "input.json")

    def cache_part(self, k: int, j: int) -> Location:
        """The model cache of shard j of stage k (`models.cache`)."""
        return self.cache / f"s{k}-{j:05d}"

    def stage(self, k: int) -> Location:
        return self.root / "stages" / f"s{k}"

    def data_part(self, k: int, j: int) -> Location:
        return self.stage(k) / "data" / f"part-{j:05d}.parquet"

    def keys_part(self, k: int, op_index: int, j: int) -> Location:
        return self.stage(k) / "keys" / f"op{op_index}" / f"part-{j:05d}.parquet"

    def done_marker(self, k: int, j: int) -> Location:
        return self.stage(k) / "done" / f"part-{j:05d}.json"

    def removed_part(self, k: int, j: int) -> Location:
        return self.stage(k) / "removed" / f"part-{j:05d}.parquet"

    def merged_part(self, k: int, j: int) -> Location:
        return self.stage(k) / "merged" / f"part-{j:05d}.parquet"

    def resolved_marker(self, k: int) -> Location:
        return self.stage(k) / "resolved.json"

    def download_part(self, j: int) -> Location:
        return self.root / "downloads" / f"part-{j:05d}.parquet"

    def output_part(self, j: int) -> Location:
        return self.output / f"part-{j:05d}.parquet"

    def dropped_part(self, k: int, j: int) -> Location:
        return self.dropped / f"part-s{k}-{j:05d}.parquet"

    def quarantine_part(self, k: int, j: int) -> Location:
        return self.quarantine / f"part-s{k}-{j:05d}.parquet"

    def start(self, recipe: Recipe, resume: bool, force: bool = False) -> bool:
        """Prepare for a fresh run, a resume, or (`force`) a fresh run over an earlier one; True when
        resuming earlier work."""
        if resume and force:
            raise RunDirError("--resume continues a run and --force starts it over: give one of them")
        fingerprints = input_fingerprints([spec.path for spec in recipe.inputs])
        resuming = resume and self.hash_file.exists()
        if resuming:
            self._check_resumable(recipe, fingerprints)
        else:
            if force:
                self._clear()
            if self.hash_file.exists():
                raise RunDirError(f"{self.root} already holds a run; continue it with --resume or start it over "
                                  "with --force")
            for folder in (self.output, self.dropped, self.quarantine):
                if folder.files(".parquet"):
                    raise RunDirError(f"{folder} already holds Parquet files; remove them, choose another path, "
                                      "or start over with --force")
            for leftover in ("stages", "downloads"):  # leftovers of a run killed at its start
                (self.root / leftover).remove_tree()
        self._remove_temporaries()
        if not resuming:
            self.recipe_file.write_bytes(yaml.safe_dump(recipe.resolved(), sort_keys=False).encode())
            write_json(self.inputs_file, fingerprints)
            self.hash_file.write_bytes(f"{recipe.resolved_hash()}\n".encode())
        return resuming

    def _check_resumable(self, recipe: Recipe, fingerprints: dict) -> None:
        stored = self.hash_file.read_text().strip()
        if stored != recipe.resolved_hash():
            raise RunDirError(
                f"recipe changed since the run in {self.root} started (hash {stored} -> "
                f"{recipe.resolved_hash()}); restore the recipe, or start over with --force")
        if self.inputs_file.exists() and (change := input_change(read_json(self.inputs_file), fingerprints)):
            raise RunDirError(f"cannot resume the run in {self.root}: {change} since it started; "
                              "start over with --force")

    def _clear(self) -> None:
        """Remove what an earlier run wrote (its output and audit parts, stages, markers), not the cache."""
        for folder in (self.output, self.dropped, self.quarantine):
            for part in folder.files(".parquet", recursive=False):
                if part.name.startswith("part-"):
                    part.unlink()
        (self.root / "stages").remove_tree()
        (self.root / "downloads").remove_tree()
        for file in (self.ledger_file, self.inputs_file, self.recipe_file, self.hash_file):
            file.unlink()

    def _remove_temporaries(self) -> None:
        for folder in (self.root, self.output, self.dropped, self.quarantine):
            for tmp in folder.files(TEMPORARY):
                tmp.unlink()
