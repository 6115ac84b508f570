"""A Ray worker node lost mid-run (its raylet, object store and workers killed, as when a machine
dies) does not change the output: Ray reruns the shard on the node left, and every file of the run
equals the local executor's, byte for byte."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from pathlib import Path

import psutil
import pytest
from test_engine_fixtures import noisy_samples, recipe_dict, write_dataset
from test_ray_executor import SHARDING, _files

from synthloop.engine import Recipe, run

pytestmark = pytest.mark.slow
NODE = {"num_cpus": 1, "object_store_memory": 80 * 2**20}


def test_a_lost_ray_node_is_retried_to_the_same_bytes(tmp_path):
    ray = pytest.importorskip("ray")
    from ray.cluster_utils import Cluster

    marker = tmp_path / "held"
    ops = [{"image_decodable": {}}, {"t_hold_once": {"marker": str(marker)}}, {"answer_nonempty": {}},
           {"exact_dedup": {"on": "image", "same_image": "drop"}}, {"text_minhash_dedup": {"threshold": 0.8}}]
    data = write_dataset(tmp_path / "data", noisy_samples(40))
    marker.write_text("")  # the local run: nobody waits
    run(Recipe.model_validate(recipe_dict(tmp_path / "local", data, ops, **SHARDING)), progress=False)
    marker.unlink()

    with pytest.MonkeyPatch.context() as env:  # Ray's workers import the t_ ops of test_engine_fixtures
        env.setenv("PYTHONPATH", os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")]))
        # the head runs no task (no CPU): every shard runs on one of the two worker nodes
        cluster = Cluster(initialize_head=True, head_node_args={**NODE, "num_cpus": 0, "include_dashboard": False})
        nodes = [cluster.add_node(**NODE) for _ in range(2)]
    try:
        ray.init(address=cluster.address, log_to_driver=False)
        spec = recipe_dict(tmp_path / "ray", data, ops)
        spec["executor"] = {"kind": "ray", "address": cluster.address, **SHARDING}
        outcome: dict = {}
        driver = threading.Thread(target=lambda: outcome.update(run(Recipe.model_validate(spec), progress=False)))
        driver.start()
        while len(held := marker.read_text().split() if marker.exists() else []) < 2:
            assert driver.is_alive(), "the run ended before any task reached t_hold_once"
            time.sleep(0.05)
        pid, node_id = int(held[0]), held[1]
        lost = next(node for node in nodes if node.node_id == node_id)
        cluster.remove_node(lost, allow_graceful=False)
        with contextlib.suppress(psutil.NoSuchProcess):
            psutil.Process(pid).wait(timeout=30)
        assert not psutil.pid_exists(pid)  # the held worker died with its node
        driver.join(timeout=120)
        assert not driver.is_alive()
        # the cluster marks the node dead when its health checks fail, which on a loaded box can come after
        # the run has ended (the retry needs only the lost worker): wait for it, within a minute
        deadline = time.monotonic() + 60
        while _alive(ray, node_id) != [False] and time.monotonic() < deadline:
            time.sleep(0.5)
        assert _alive(ray, node_id) == [False]
    finally:
        ray.shutdown()
        cluster.shutdown()
    assert outcome["input"] == 40 and outcome["output"] > 15
    expected, got = _files(tmp_path / "local"), _files(tmp_path / "ray")
    assert sorted(got) == sorted(expected)
    assert [name for name in expected if got[name] != expected[name]] == []


def _alive(ray, node_id: str) -> list[bool]:
    return [node["Alive"] for node in ray.nodes() if node["NodeID"] == node_id]
