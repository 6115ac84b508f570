"""The Ray executor on a two-node local Ray cluster writes what the local executor writes, byte for byte
(output, ledger, audit files, model cache), also when a worker is killed mid-run (Ray retries its
shard), and a run whose driver is killed resumes to the same bytes.

The model op's floats depend on torch's thread count, so the local run uses one thread, as the Ray
actor of an op given `num_cpus: 1` does (Ray sets OMP_NUM_THREADS to an actor's CPUs)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from functools import partial
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import orjson
import psutil
import pytest
import yaml
from test_engine_fixtures import noisy_samples, recipe_dict, write_dataset

from synthloop.engine import Recipe, run

pytestmark = pytest.mark.slow
OPS = [{"image_decodable": {}}, {"image_size": {"min_side": 16}}, {"answer_nonempty": {}},
       {"exact_dedup": {"on": "image", "same_image": "drop"}}, {"embed": {}}, {"image_near_dedup": {"max_hamming": 12}},
       {"image_near_dedup": {"max_hamming": 6, "same_image": "drop"}},
       {"semantic_dedup": {"cluster_size": 8, "threshold": 0.98}}, {"text_minhash_dedup": {"threshold": 0.8}},
       {"random": {"budget": 30}}]
SHARDING = {"batch_size": 4, "shard_rows": 8}
NODE = {"num_cpus": 1, "object_store_memory": 80 * 2**20}


@pytest.fixture(scope="module")
def cluster():
    ray = pytest.importorskip("ray")
    pytest.importorskip("efficientnet_lite_pytorch")
    from ray.cluster_utils import Cluster

    with pytest.MonkeyPatch.context() as env:  # Ray's workers import the t_ ops of test_engine_fixtures
        env.setenv("PYTHONPATH", os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")]))
        two_nodes = Cluster(initialize_head=True, head_node_args={**NODE, "include_dashboard": False})
        two_nodes.add_node(**NODE)
    ray.init(address=two_nodes.address, log_to_driver=False)
    yield two_nodes.address
    ray.shutdown()
    two_nodes.shutdown()


@pytest.fixture(scope="module")
def local(tmp_path_factory):
    """The local executor's run of the recipe (one torch thread): the reference."""
    import torch

    tmp = tmp_path_factory.mktemp("local")
    data = write_dataset(tmp / "data", noisy_samples(48))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        run(Recipe.model_validate(recipe_dict(tmp, data, OPS, workers=1, **SHARDING)), progress=False)
    finally:
        torch.set_num_threads(threads)
    return tmp, data


def _ray_recipe(tmp: Path, data: Path, address: str) -> dict:
    spec = recipe_dict(tmp, data, OPS)
    # each model op's actors hold their CPUs for the run: one node's for embed, half the other's for
    # semantic_dedup, and shard tasks take the other half
    spec["executor"] = {"kind": "ray", "address": address, **SHARDING, "num_cpus": 0.5,
                        "ops": {"embed": {"num_cpus": 1}, "semantic_dedup": {"num_cpus": 0.5}}}
    return spec


def _files(root: Path) -> dict[str, bytes]:
    """Every file a run wrote (Parquet parts, markers, the model cache), the ledger without its paths;
    not the recipe copy and its hash, which name the run's own paths and executor."""
    files = {str(p.relative_to(root)): p.read_bytes() for sub in ("out", "run") for p in (root / sub).rglob("*")
             if p.is_file()}
    files.pop("run/recipe.yaml")
    files.pop("run/recipe.hash")
    ledger = orjson.loads(files.pop("run/ledger.json"))
    files["ledger"] = orjson.dumps({k: v for k, v in ledger.items() if not k.endswith("_path")})
    return files


def test_two_node_ray_run_writes_the_local_executors_bytes(cluster, local, tmp_path, monkeypatch):
    from synthloop.engine.executors.ray import RayExecutor

    reference, data = local
    grouped, group, calls, map_calls = [], RayExecutor.group, [], RayExecutor.map_calls

    def recording(self, items, split, combine):
        notes, results = group(self, items, split, combine)
        name = getattr(split, "func", split).__name__
        if name == "_split_hashes":  # a columnar dedup's hashes, partial(_split_hashes, op): the rows sharing one
            grouped.append((split.args[0].name, len(items), sum(len(rows) for rows in results)))
        else:  # the stage's ids; semantic dedup's k-means start and steps, and its clusters
            grouped.append((name, len(items), None))
        return notes, results

    def counting(self, function, items):
        calls.append((getattr(function, "func", function).__name__, len(items)))
        return map_calls(self, function, items)

    monkeypatch.setattr(RayExecutor, "group", recording)
    monkeypatch.setattr(RayExecutor, "map_calls", counting)
    ledger = run(Recipe.model_validate(_ray_recipe(tmp_path, data, cluster)), progress=False)
    assert ledger["input"] == 48 and ledger["output"] > 20
    # the stages' ids were checked on the cluster, a group per stage of global ops, with every shard's ids
    shards = [(name, items) for name, items, _ in grouped if name == "_split_ids"]
    assert len(shards) == 2 and all(items == 6 for _, items in shards)
    # every columnar dedup grouped its hashes on the cluster: the driver got only the rows sharing one,
    # fewer than the op saw
    dedups = [(name, shared) for name, _, shared in grouped if shared is not None]
    seen = [entry["in"] - entry["quarantined"] for entry in ledger["ops"] if entry["op"] in dict(dedups)]
    assert [(name, shared < in_play) for (name, shared), in_play in zip(dedups, seen, strict=True)] == [
        ("exact_dedup", True), ("image_near_dedup", True), ("image_near_dedup", True), ("text_minhash_dedup", True)]
    removals = [items for name, items in calls if name == "_write_removed_part"]
    assert len(removals) == 2  # each stage's removed parts, written in tasks
    # semantic dedup read its keys in tasks only: counted them, drew the k-means start, ran Lloyd steps
    # and compared its clusters' members
    assert [name for name, _ in calls if name not in ("_ids_at", "_write_removed_part")] == ["_count"]
    semantic = [name for name, _, _ in grouped if name not in ("_split_ids", *dict(dedups))]
    assert semantic[0] == "_drawn_rows" and set(semantic[1:-1]) == {"_step_split"} and semantic[-1] == "_members"
    assert len(semantic) > 3
    expected, got = _files(reference), _files(tmp_path)
    assert sorted(got) == sorted(expected) and any("/cache/s1-" in name for name in got)
    assert [name for name in expected if got[name] != expected[name]] == []


def test_a_killed_ray_driver_resumes_to_the_same_bytes(cluster, local, tmp_path):
    reference, data = local
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump(_ray_recipe(tmp_path, data, cluster)))
    synthloop = Path(sys.executable).with_name("synthloop")
    driver = subprocess.Popen([str(synthloop), "run", str(recipe)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    done = tmp_path / "run" / "stages" / "s1" / "done"
    while driver.poll() is None and not (done.is_dir() and any(done.iterdir())):
        time.sleep(0.1)
    os.killpg(driver.pid, signal.SIGKILL)
    driver.wait()
    assert not (tmp_path / "run" / "ledger.json").exists()  # killed mid-run
    assert len(list(done.iterdir())) < 6  # stage 1 unfinished
    run(Recipe.from_yaml(recipe), resume=True, progress=False)
    expected, got = _files(reference), _files(tmp_path)
    assert [name for name in expected if got.get(name) != expected[name]] == []


@pytest.mark.parametrize("runs_in", ["task", "actor"])
def test_a_killed_ray_worker_is_retried_to_the_same_bytes(cluster, tmp_path, runs_in):
    """t_die_once SIGKILLs the Ray worker process (a shard task's, or a model-op-like actor's when the
    executor gives the op resources) that first runs it; Ray runs the shard again and the run writes
    what the local executor writes."""
    marker = tmp_path / "killed"
    ops = [{"image_decodable": {}}, {"t_die_once": {"marker": str(marker)}},
           {"exact_dedup": {"on": "image", "same_image": "drop"}}]
    data = write_dataset(tmp_path / "data", noisy_samples(24))
    marker.write_text("")  # the local run: nobody dies
    run(Recipe.model_validate(recipe_dict(tmp_path / "local", data, ops, **SHARDING)), progress=False)
    marker.unlink()
    spec = recipe_dict(tmp_path / "ray", data, ops)
    resources = {"ops": {"t_die_once": {"num_cpus": 1}}} if runs_in == "actor" else {}
    spec["executor"] = {"kind": "ray", "address": cluster, **SHARDING, **resources}
    ledger = run(Recipe.model_validate(spec), progress=False)
    killed = int(marker.read_text())
    assert killed != os.getpid() and not psutil.pid_exists(killed)
    assert ledger["input"] == 24 and ledger["output"] > 10
    expected, got = _files(tmp_path / "local"), _files(tmp_path / "ray")
    assert sorted(got) == sorted(expected)
    assert [name for name in expected if got[name] != expected[name]] == []


def _executor(tmp_path: Path, address: str, **executor):
    """A Ray executor for an embed recipe on the cluster: it checks the pools as it starts, before any
    actor or task exists, so a pool it let through wrongly fails a test here rather than hanging a run."""
    from synthloop.engine.executors.ray import RayExecutor

    spec = recipe_dict(tmp_path, write_dataset(tmp_path / "data", noisy_samples(8)), [{"embed": {}}])
    spec["executor"] = {"kind": "ray", "address": address, **executor}
    recipe = Recipe.model_validate(spec)
    return RayExecutor(recipe.executor, partial(SimpleNamespace, ops=recipe.build_ops()), [])


@pytest.mark.parametrize(("executor", "error"), [
    # 1.5 + 0.5 CPUs fit in the cluster's 2, but each node has 1: Ray would wait for a bigger node forever
    ({"num_cpus": 0.5, "ops": {"embed": {"num_cpus": 1.5}}},
     r"embed asks 1.5 CPUs, 0 GPUs per actor, more than any node of the cluster has \(the largest: 1 CPU, 0 GPUs\); "
     r"lower its num_cpus or num_gpus$"),
    # 2 x 0.75 + 0.5 CPUs fit in total, but the two actors leave each node 0.25, too little for a shard task
    ({"num_cpus": 0.5, "ops": {"embed": {"num_cpus": 0.75, "replicas": 2}}},
     r"the model ops' actors \(embed: 2 x 0.75 CPU, 0 GPUs\) and a shard task \(0.5 CPU, 0 GPUs\) do not fit on the "
     r"cluster's 2 nodes together, no room left for a shard task \(the largest: 1 CPU, 0 GPUs\); lower their "
     r"num_cpus, num_gpus or replicas$"),
    ({"ops": {"embed": {"num_cpus": 1, "replicas": 2}}}, r"the model ops' actors \(embed: 2 x 1 CPU, 0 GPUs\) and a "
                                                         r"shard task \(1 CPU, 0 GPUs\) do not fit"),
    ({"ops": {"embed": {"num_gpus": 0.5}}}, r"embed asks 1 CPU, 0.5 GPU per actor, more than any node"),
    ({"num_cpus": 2}, r"a shard task asks 2 CPUs, 0 GPUs, more than any node of the cluster has"),
])
def test_model_op_pools_the_cluster_cannot_place_beside_a_shard_task_are_an_error(cluster, tmp_path, executor, error):
    """Pools that held the room a shard task needs, on every node, would leave it waiting forever."""
    with pytest.raises(ValueError, match=r"^executor.(ops|num_cpus): " + error):
        _executor(tmp_path, cluster, **executor)


def test_on_an_autoscaling_cluster_pools_that_do_not_fit_yet_are_a_warning(cluster, tmp_path, caplog):
    executor = _executor(tmp_path, cluster, autoscaling=True, ops={"embed": {"num_cpus": 1.5}})
    executor.close()
    assert [(r.levelname, r.getMessage()) for r in caplog.records if r.name.startswith("synthloop")] == [(
        "WARNING", "executor.ops: embed asks 1.5 CPUs, 0 GPUs per actor, more than any node of the cluster has (the "
        "largest: 1 CPU, 0 GPUs); lower its num_cpus or num_gpus; waiting for the autoscaler to add nodes "
        "(executor.autoscaling)")]


def test_kmeans_steps_in_ray_tasks_on_two_nodes_give_the_local_labels(cluster):
    """Semantic dedup's fit over several items: the start and the steps in tasks on both nodes, one BLAS
    thread each there against the driver's own, the sums shuffled to the cluster's bucket count."""
    from test_kmeans import blobs, kmeans_labels

    from synthloop.engine.executors.ray import RayExecutor, RaySpec
    from synthloop.ops.kmeans import BLOCK_ROWS

    vectors, _ = blobs(3 * BLOCK_ROWS + 123, 12, spread=0.6)
    executor = RayExecutor(RaySpec(address=cluster), partial(SimpleNamespace, ops=[]), [])
    try:
        on_ray = kmeans_labels(vectors, 12, seed=3, workers=executor)
    finally:
        executor.close()
    assert np.array_equal(on_ray, kmeans_labels(vectors, 12, seed=3))
