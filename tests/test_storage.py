"""A run whose run directory, output, audit folders and model cache live on a non-local pyarrow
filesystem (fsspec's in-memory filesystem through `pyarrow.fs.PyFileSystem(FSSpecHandler)`) writes
the same bytes as a run on the local disk."""

from __future__ import annotations

import orjson
import pyarrow.fs as pafs
import pytest
import test_engine_fixtures  # noqa: F401  (registers the t_ ops)
from test_engine_fixtures import noisy_samples, recipe_dict, write_dataset

from synthloop.engine import Recipe, RunDirError, run
from synthloop.models.cache import ModelCache
from synthloop.storage import Location, StorageError

fsspec = pytest.importorskip("fsspec")
pytest.importorskip("efficientnet_lite_pytorch")

OPS = [{"image_decodable": {}}, {"image_size": {"min_side": 16}}, {"answer_nonempty": {}},
       {"exact_dedup": {"on": "image", "same_image": "drop"}}, {"embed": {}},
       {"image_near_dedup": {"max_hamming": 6, "same_image": "drop"}}, {"text_minhash_dedup": {"threshold": 0.8}},
       {"random": {"budget": 20}}]
PATH_KEYS = ("dropped_path", "quarantine_path")


@pytest.fixture
def memory():
    """fsspec's memory filesystem (one per process), emptied of /t afterwards."""
    fs = fsspec.filesystem("memory")
    yield fs
    if fs.exists("/t"):
        fs.rm("/t", recursive=True)


def _files(root: Location) -> dict[str, bytes]:
    return {part.text[len(root.text):]: part.read_bytes() for part in root.files(".parquet")}


def _ledger(root: Location) -> dict:
    ledger = orjson.loads((root / "ledger.json").read_bytes())
    return {key: value for key, value in ledger.items() if key not in PATH_KEYS}


def test_location_parses_paths_and_uris_and_writes_atomically(memory, tmp_path):
    local = Location.of(tmp_path / "a")
    assert isinstance(local.fs, pafs.LocalFileSystem) and local.local == tmp_path / "a"
    remote = Location.of("memory://t/run")
    assert isinstance(remote.fs, pafs.PyFileSystem) and remote.local is None and str(remote / "x") == "memory://t/run/x"
    (remote / "d" / "f.json").write_bytes(b"{}")
    assert memory.ls("/t/run/d", detail=False) == ["/t/run/d/f.json"]  # no temporary left behind
    assert [str(f) for f in remote.files(".json")] == ["memory://t/run/d/f.json"]
    remote.remove_tree()
    assert not remote.exists() and remote.files(".json") == []
    with pytest.raises(StorageError, match="nosuchscheme://x: no filesystem for it"):
        Location.of("nosuchscheme://x")


@pytest.mark.slow
def test_run_on_a_non_local_filesystem_writes_the_same_bytes(memory, tmp_path):
    data = write_dataset(tmp_path / "data", noisy_samples(40))
    local = recipe_dict(tmp_path, data, OPS)
    remote = {**local, "run_dir": "memory://t/run", "output": {"format": "parquet", "path": "memory://t/out"}}
    run(Recipe.model_validate(local), progress=False)
    run(Recipe.model_validate(remote), progress=False)
    for mine, theirs, least in ((tmp_path / "out", "memory://t/out", 3), (tmp_path / "run", "memory://t/run", 30)):
        expected, got = _files(Location.of(mine)), _files(Location.of(theirs))
        assert got == expected and len(got) >= least
    assert any("/cache/s1-" in name for name in expected)  # the embedder cached its calls per shard
    assert _ledger(Location.of("memory://t/run")) == _ledger(Location.of(tmp_path / "run"))


def test_a_forced_rerun_reads_the_model_cache_from_the_object_store(memory, tmp_path, monkeypatch):
    data = write_dataset(tmp_path / "data", noisy_samples(16))
    spec = {**recipe_dict(tmp_path, data, [{"embed": {}}]), "run_dir": "memory://t/run",
            "output": {"format": "parquet", "path": "memory://t/out"}}
    recipe = Recipe.model_validate(spec)
    first = run(recipe, progress=False)
    segments = Location.of("memory://t/run/cache").files(".parquet")
    computed = []
    monkeypatch.setattr(ModelCache, "put_many", lambda self, items: computed.append(items))
    assert run(recipe, force=True, progress=False) == first and segments and computed == []


def test_exporting_another_format_to_an_object_store_is_a_one_line_error(memory, tmp_path):
    data = write_dataset(tmp_path / "data", noisy_samples(4))
    spec = {**recipe_dict(tmp_path, data, []), "output": {"format": "llava", "path": "memory://t/out.json"}}
    with pytest.raises(RunDirError, match="writing llava with images: keep needs local paths"):
        run(Recipe.model_validate(spec), progress=False)
