"""A URL recipe on a two-node Ray cluster writes what the local executor writes (output, download parts,
quarantine, ledger less its paths), its downloads spread over both nodes, and no node runs more download
shards at once than the units of `download_resource` it advertises, as the loopback server sees them:
a request's client process tells its node (a Ray worker is a child of its node's raylet).

The recipe starts with a model op, so each shard downloads in a task of its own before the op's actor;
its floats depend on torch's thread count, so the local run uses one thread, as the actor does."""

from __future__ import annotations

import hashlib
import os
import re
from functools import partial
from pathlib import Path
from types import SimpleNamespace

import psutil
import pytest
from test_download_urls import FAST, jpeg, quarantined, write_table
from test_ray_executor import _files
from url_server import Route, serving

from synthloop.engine import Recipe, RecipeError, run

pytestmark = pytest.mark.slow
NODE = {"num_cpus": 2, "resources": {"download": 1}, "object_store_memory": 80 * 2**20}
ROWS, SHARD_ROWS = 24, 4
FAILING = {5: "http_status", 10: "not_an_image", 15: "hash_mismatch", 20: "bad_scheme"}


@pytest.fixture(scope="module")
def cluster():
    """The cluster's address and its raylets' process ids -> node names."""
    ray = pytest.importorskip("ray")
    pytest.importorskip("efficientnet_lite_pytorch")
    from ray._private.ray_constants import PROCESS_TYPE_RAYLET
    from ray.cluster_utils import Cluster

    two_nodes = Cluster(initialize_head=True, head_node_args={**NODE, "include_dashboard": False})
    worker = two_nodes.add_node(**NODE)
    ray.init(address=two_nodes.address, log_to_driver=False)
    raylets = {node.all_processes[PROCESS_TYPE_RAYLET][0].process.pid: name
               for name, node in (("head", two_nodes.head_node), ("worker", worker))}
    yield two_nodes.address, raylets
    ray.shutdown()
    two_nodes.shutdown()


def _node_of(raylets: dict[int, str]):
    """The node whose process holds the client end of a connection to the server ("driver": this one).
    The connection is the one from the client's port to the server's: another process on the machine
    may use the same local port towards another server."""
    def label(client: tuple[str, int], server: tuple[str, int]) -> str:
        for connection in psutil.net_connections("tcp"):
            if (connection.laddr and tuple(connection.laddr) == tuple(client) and connection.raddr
                    and tuple(connection.raddr) == tuple(server) and connection.pid):
                if connection.pid == os.getpid():
                    return "driver"
                return raylets.get(psutil.Process(connection.pid).ppid(), "other")
        return "unknown"
    return label


def _rows(server) -> list[dict]:
    routes = {f"/img/{row}.jpg": Route(body=jpeg(row), delay=0.3) for row in range(ROWS)}
    routes["/img/10.jpg"] = Route(body=b"\xff\xd8\xff\xe0 not really a jpeg")
    routes["/img/20.jpg"] = Route(302, headers={"Location": "ftp://127.0.0.1/20.jpg"})
    del routes["/img/5.jpg"]  # a 404
    server.routes.update(routes)
    return [{"url": server.url(f"/img/{row}.jpg"), "caption": f"picture {row}",
             "sha256": "0" * 64 if row == 15 else None if row in FAILING else hashlib.sha256(jpeg(row)).hexdigest()}
            for row in range(ROWS)]


def _recipe(tmp: Path, table: Path, name: str, executor: dict) -> Recipe:
    return Recipe.model_validate({
        "inputs": [{"format": "urls", "path": str(table), "hash_column": "sha256", "download": FAST}],
        "ops": [{"embed": {}}, {"image_size": {"min_side": 16}}],
        "output": {"format": "parquet", "path": str(tmp / name / "out")}, "run_dir": str(tmp / name / "run"),
        "executor": {"batch_size": 4, "shard_rows": SHARD_ROWS, **executor}})


def _most_at_once(log: list[tuple[str, str | None, float, float]]) -> dict[str, int]:
    """Per node, the most shards whose downloads were in flight at once (a shard's span: its first
    request's start to its last one's end)."""
    spans: dict[tuple[str, int], tuple[float, float]] = {}
    for path, node, start, end in log:
        key = (node or "", int(re.findall(r"\d+", path)[0]) // SHARD_ROWS)
        first, last = spans.get(key, (start, end))
        spans[key] = (min(first, start), max(last, end))
    most: dict[str, int] = {}
    for node in {node for node, _ in spans}:
        edges = sorted(edge for (n, _), (start, end) in spans.items() if n == node for edge in ((start, 1), (end, -1)))
        running = 0
        for _, step in edges:  # at a tie an end (-1) sorts before a start: touching spans do not overlap
            running += step
            most[node] = max(most.get(node, 0), running)
    return most


def test_a_url_recipe_on_two_ray_nodes_writes_the_local_bytes_within_the_per_node_limit(cluster, tmp_path):
    import torch

    address, raylets = cluster
    with serving({}, client_label=_node_of(raylets)) as server:
        table = write_table(tmp_path / "urls.parquet", _rows(server))
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            local = run(_recipe(tmp_path, table, "local", {"workers": 1}), progress=False)
        finally:
            torch.set_num_threads(threads)
        local_requests = len(server.log)
        on_ray = {"kind": "ray", "address": address, "download_resource": "download", "ops": {"embed": {"num_cpus": 1}}}
        ledger = run(_recipe(tmp_path, table, "ray", on_ray), progress=False)
        requests = server.log[local_requests:]
    assert (ledger["input"], ledger["output"], ledger["quarantined"]) == (local["input"], local["output"], 4) == (
        24, 20, 4)
    assert quarantined(tmp_path, "ray") == {f"urls_{row}": kind for row, kind in FAILING.items()}
    expected, got = _files(tmp_path / "local"), _files(tmp_path / "ray")
    assert sorted(got) == sorted(expected) and any(name.startswith("run/downloads/") for name in got)
    assert [name for name in expected if got[name] != expected[name]] == []
    # every URL fetched once, from a worker of one of the nodes; each node downloaded one shard at a time
    assert len(requests) == ROWS and {node for _, node, _, _ in server.log[:local_requests]} == {"driver"}
    assert _most_at_once(requests) == {"head": 1, "worker": 1}


def test_a_download_resource_no_node_has_is_a_one_line_error(cluster, tmp_path):
    address, _ = cluster
    table = write_table(tmp_path / "urls.parquet", [{"url": "http://127.0.0.1:9/a.jpg", "caption": "a",
                                                     "sha256": None}])
    with pytest.raises(ValueError, match=r"^executor.download_resource: no node of the Ray cluster has a unit of "
                                         r"'gpu_download'; start nodes with ray start --resources="):
        run(_recipe(tmp_path, table, "run", {"kind": "ray", "address": address, "download_resource": "gpu_download"}),
            progress=False)


def test_on_an_autoscaling_cluster_a_download_resource_no_node_has_yet_is_a_warning(cluster, tmp_path, caplog):
    from synthloop.engine.executors.ray import RayExecutor, RaySpec

    address, _ = cluster
    spec = RaySpec(address=address, download_resource="gpu_download", autoscaling=True)
    RayExecutor(spec, partial(SimpleNamespace, ops=[]), []).close()
    assert [(r.levelname, r.getMessage()) for r in caplog.records if r.name.startswith("synthloop")] == [(
        "WARNING", "executor.download_resource: no node of the Ray cluster has a unit of 'gpu_download'; start "
        "nodes with ray start --resources='{\"gpu_download\": K}' to download K shards at once on each; waiting "
        "for the autoscaler to add nodes (executor.autoscaling)"), (
        "WARNING", "executor.num_cpus and download_resource: a shard task asks 1 CPU, 0 GPUs, 1 gpu_download, more "
        "than any node of the cluster has (the largest: 2 CPUs, 0 GPUs, 0 gpu_download); waiting for the autoscaler "
        "to add nodes (executor.autoscaling)")]


@pytest.mark.parametrize(("executor", "line", "error"), [
    ("{kind: ray, download_resource: CPU}", 4, "executor.download_resource: 'CPU' is not a custom resource name"),
    ("{kind: ray, download_resource: download}", 4, "executor: download_resource: the Ray this run starts has no "
     "download; give it node_resources: {download: K} to download K shards at once"),
    ("{kind: ray, address: auto, node_resources: {download: 2}}", 4, "executor: node_resources is for a Ray this run "
     "starts (address left out); give a cluster's with ray start --resources"),
    ("{kind: ray, node_resources: {download: -1}}", 4, "executor.node_resources: download: -1.0 is negative")])
def test_bad_download_limits_are_one_line_errors(tmp_path, executor, line, error):
    pytest.importorskip("ray")
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(f"inputs: [{{format: urls, path: urls.parquet}}]\noutput: {{path: out}}\nrun_dir: run\n"
                      f"executor: {executor}\n")
    with pytest.raises(RecipeError) as info:
        Recipe.from_yaml(recipe)
    assert str(info.value).startswith(f"{recipe} line {line}: {error}") and "\n" not in str(info.value)
