"""The Ray executor: a stage's shards on a Ray cluster (`executor: {kind: ray, address: ...}`).

Shards are the unit of work. A stage's ops are cut into segments: consecutive ops without a model run
as one Ray task per shard (`num_cpus` each); each model op runs in its own pool of `replicas` actors
that load the model once and hold exactly the resources the recipe gives that op (`ops: {NAME:
{num_gpus: 0.5, num_cpus: 1, replicas: 2}}`), so an op never shares a GPU it did not ask for. A shard's
state passes from segment to segment through Ray's object store (the driver holds references only);
the last segment writes the shard's files to the run directory, which must be a path every node
reaches (a shared mount) or an object store URI (`synthloop.storage`). At most `in_flight` shards are
in the cluster at once, which bounds the object store's use; a Ray this run starts itself gets
`object_store_mb`. Every segment runs `engine.worker` code on the batches one local pass would cut,
so the files are byte-identical to the local executor's. Ray retries a task or actor call whose
worker or node was lost (`max_retries`); a retried shard writes the same files. The global ops are
resolved by the driver between stages, as with every executor, over what tasks return: the stage's
ids are checked unique and exact, near and MinHash dedup shuffle their keys' hashes on the cluster
(`group`), so the driver gets only the samples that share one, and tasks write the removals
(`engine.resolve`); semantic dedup reads its vectors in tasks only: its k-means steps shuffle
per-centroid sums (`ops.kmeans` adds them in item order, so the labels are the local executor's),
and its clusters' members are shuffled by label and compared in tasks, the driver getting the
centroids and the drops.

A URL input's stage-0 shard downloads in its first task (its own task when the stage starts with a
model op), scheduled "SPREAD" so the downloads spread over the nodes (Ray's scheduling strategies,
docs.ray.io/en/latest/ray-core/scheduling/index.html). `download_resource` caps them per node the way
Ray caps any task per node (ray-project/ray@20438814, doc/source/ray-core/patterns/limit-running-tasks.rst;
custom resources: @a3f8bbd, doc/source/ray-core/scheduling/resources.rst): each download task takes
one unit of that custom resource, so a node advertising K units (`ray start --resources`, or
`node_resources` for a Ray the run starts) runs at most K at once, each within its input's
`download.concurrency` and `per_host`.

The executor is built on Ray core (tasks, actors, the object store), not on Ray Data's `map_batches`:
Ray Data cuts and re-batches blocks by its own rules, so an op would see other batches than the local
executor's, and a model op's outputs can depend on its batch (padding to the batch's longest input); a
shard per task keeps the engine's own batches.

Ray is optional (`pip install 'synthloop[ray]'`); a recipe naming it without Ray installed is an
error at its `kind` line.
"""

from __future__ import annotations

import importlib.util
import logging
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from synthloop.engine.executors.base import Executor, ExecutorSpec, register
from synthloop.engine.executors.ray_placement import PREDEFINED, is_custom, unplaceable
from synthloop.engine.executors.ray_resolve import ClusterWorkers
from synthloop.ops.model_op import ModelParams

INSTALL = "pip install 'synthloop[ray]'"
logger = logging.getLogger(__name__)


class OpResources(BaseModel):
    """What one model op's actors ask Ray for."""

    model_config = ConfigDict(extra="forbid")
    num_gpus: float = Field(0, ge=0, description="GPUs per actor; a fraction shares a GPU with other fractions")
    num_cpus: float = Field(1, ge=0, description="CPUs per actor")
    replicas: int = Field(1, ge=1, le=10_000, description="actors in the op's pool (each loads the model once)")

    @field_validator("num_gpus")
    @classmethod
    def _whole_above_one(cls, value: float) -> float:
        """Ray shares a GPU in fractions below 1 only (ray-project/ray@5d44e1f,
        python/ray/includes/task_options_utils.pxi, `prepare_resources`)."""
        if value > 1 and not float(value).is_integer():
            raise ValueError(f"{value:g}: more than one GPU must be a whole number (Ray shares one GPU in fractions)")
        return value


class RaySpec(ExecutorSpec):
    kind: Literal["ray"] = "ray"
    address: str | None = Field(None, description="auto: the cluster `ray start` runs here; ray://HOST:10001: a "
                                "remote one; none: start Ray on this machine for the run")
    num_cpus: float = Field(1, gt=0, description="CPUs per task: a shard's ops without a model, a resolve's parts")
    in_flight: int | None = Field(None, ge=1, description="shards in the cluster at once; default 2 per CPU")
    object_store_mb: int | None = Field(None, ge=80, description="object store of a Ray this run starts")
    max_retries: int = Field(3, ge=0, description="retries of a shard's task or actor call after a lost worker")
    ops: dict[str, OpResources] = Field(default_factory=dict, description="model op name (or index) -> resources")
    download_resource: str | None = Field(None, description="custom resource a URL shard's download task takes one "
                                          "unit of: a node with K units downloads at most K shards at once")
    node_resources: dict[str, float] = Field(default_factory=dict, description="custom resources of a Ray this run "
                                             "starts (address left out), e.g. {download: 4}")
    autoscaling: bool = Field(False, description="the cluster adds nodes on demand (Ray's autoscaler, KubeRay): model "
                              "op pools, or a download_resource, that its nodes cannot hold now are a warning, not "
                              "an error")

    @field_validator("kind")
    @classmethod
    def _ray_installed(cls, value: str) -> str:
        if importlib.util.find_spec("ray") is None:
            raise ValueError(f"executor kind ray needs Ray, which is not installed: {INSTALL}")
        return value

    @field_validator("download_resource")
    @classmethod
    def _custom_resource(cls, value: str | None) -> str | None:
        if value is not None:
            _check_custom(value)
        return value

    @field_validator("node_resources")
    @classmethod
    def _custom_resources(cls, value: dict[str, float]) -> dict[str, float]:
        for name, amount in value.items():
            _check_custom(name)
            if amount < 0:
                raise ValueError(f"{name}: {amount} is negative")
        return value

    @model_validator(mode="after")
    def _download_nodes(self) -> RaySpec:
        if self.node_resources and self.address is not None:
            raise ValueError("node_resources is for a Ray this run starts (address left out); give a cluster's "
                             "with ray start --resources")
        name = self.download_resource
        if name and self.address is None and self.node_resources.get(name, 0) < 1:
            raise ValueError(f"download_resource: the Ray this run starts has no {name}; give it node_resources: "
                             f"{{{name}: K}} to download K shards at once")
        return self


@register
class RayExecutor(Executor):
    spec_class = RaySpec

    def __init__(self, spec: RaySpec, new_worker: Callable[..., Any], modules: list[str]):
        super().__init__(spec, new_worker, modules)
        import ray

        self.ops = new_worker().ops  # a worker sets nothing up until it runs
        known = {op.name for op in self.ops} | {str(i) for i in range(len(self.ops))}
        if unknown := sorted(set(spec.ops) - known):
            raise ValueError(f"executor.ops: {unknown[0]} names no op of the recipe (give an op name or index)")
        self.ray = ray
        self.started = not ray.is_initialized()
        if self.started:
            memory = spec.object_store_mb * 2**20 if spec.object_store_mb else None
            # "local" starts a Ray for this run even where other Ray instances run (None would join one)
            ray.init(address=spec.address or "local", object_store_memory=None if spec.address else memory,
                     resources=spec.node_resources or None, include_dashboard=False, log_to_driver=False,
                     configure_logging=False)
        self.in_flight = spec.in_flight or 2 * max(int(ray.cluster_resources().get("CPU", 1)), 1)
        self.factory = (uuid.uuid4().hex, new_worker)  # the token tells a reused Ray process a new run began
        self.factory_ref = ray.put(self.factory)
        options = {"num_cpus": spec.num_cpus, "max_retries": spec.max_retries}
        self.task = ray.remote(_run_segment).options(**options)
        self.pools: dict[int, list[Any]] = {}
        try:
            self.download_task = ray.remote(_run_segment).options(**options, scheduling_strategy="SPREAD",
                                                                 **_download_resources(ray, spec))
            self._check_pools_fit([node["Resources"] for node in ray.nodes() if node["Alive"]])
        except ValueError:
            self.close()
            raise
        self.workers = ClusterWorkers(ray, options, self._get)

    def _segments(self, stage: Any) -> list[tuple[int | None, list[int]]]:
        """The stage's ops cut into (model op index or None, op indices), in stage order."""
        segments: list[tuple[int | None, list[int]]] = []
        for index in stage.sample_ops + stage.global_ops:
            if self._resources(index) is not None:
                segments.append((index, [index]))
            elif segments and segments[-1][0] is None:
                segments[-1][1].append(index)
            else:
                segments.append((None, [index]))
        return segments or [(None, [])]

    def _steps(self, task: Any) -> list[tuple[int | None, list[int]]]:
        """The shard's segments; a URL shard downloads in the first, a task (not a model op's actor)."""
        segments = self._segments(task.stage)
        if task.url_input is not None and segments[0][0] is not None:
            return [(None, []), *segments]
        return segments

    def _resources(self, index: int) -> OpResources | None:
        op = self.ops[index]
        given = self.spec.ops.get(str(index), self.spec.ops.get(op.name))
        return given or (OpResources() if isinstance(op, ModelParams) else None)

    def _check_pools_fit(self, nodes: list[dict[str, float]]) -> None:
        """The model ops' actors hold their CPUs and GPUs for the whole run, each on one node: each must
        fit on some alive node, and all of them together with a shard task (`ray_placement`), or Ray
        would wait for room forever. On an autoscaling cluster (`autoscaling`) that is a warning: Ray
        waits for the nodes its autoscaler adds."""
        pools = [(self.ops[i].name, {"CPU": r.num_cpus, "GPU": r.num_gpus}, r.replicas)
                 for i in range(len(self.ops)) if (r := self._resources(i)) is not None]
        download = {self.spec.download_resource: 1} if self.spec.download_resource else {}
        if problem := unplaceable(pools, {"CPU": self.spec.num_cpus, **download}, nodes):
            _refuse(self.spec, problem)

    def _pool(self, index: int) -> list[Any]:
        if index not in self.pools:
            resources = self._resources(index)
            actor = self.ray.remote(_SegmentActor).options(
                num_cpus=resources.num_cpus, num_gpus=resources.num_gpus, max_restarts=self.spec.max_retries,
                max_task_retries=self.spec.max_retries)
            self.pools[index] = [actor.remote(self.factory) for _ in range(resources.replicas)]
        return self.pools[index]

    def _submit(self, work: Any, task: Any, step: int) -> Any:
        steps = self._steps(task)
        model_op, indices = steps[step]
        last = step == len(steps) - 1
        if model_op is None:
            downloads = step == 0 and task.url_input is not None
            return (self.download_task if downloads else self.task).remote(self.factory_ref, work, indices, last)
        pool = self._pool(model_op)
        return pool[task.shard % len(pool)].run.remote(work, indices, last)

    def map_unordered(self, tasks: Iterable[Any]) -> Iterator[dict[str, Any]]:
        pending: dict[Any, tuple[Any, int]] = {}  # object ref -> (shard task, segment)
        for task in tasks:
            pending[self._submit(task, task, 0)] = (task, 0)
            while len(pending) >= self.in_flight:
                yield from self._advance(pending)
        while pending:
            yield from self._advance(pending)

    def _advance(self, pending: dict[Any, tuple[Any, int]]) -> Iterator[dict[str, Any]]:
        """Wait for a segment; hand its state to the shard's next segment, or yield the shard's counts."""
        done, _ = self.ray.wait(list(pending), num_returns=1)
        for ref in done:
            task, step = pending.pop(ref)
            if step + 1 < len(self._steps(task)):
                pending[self._submit(ref, task, step + 1)] = (task, step + 1)
            else:
                yield self._get(ref)

    def _get(self, ref: Any) -> Any:
        """A task's value; a task's error as the op raised it (not Ray's wrapper with its traceback)."""
        try:
            return self.ray.get(ref)
        except self.ray.exceptions.RayTaskError as err:
            raise (err.cause if isinstance(err.cause, Exception) else err) from None

    def group(self, items: list[Any], split: Callable[[Any, int], tuple[list[Any], Any]],
              combine: Callable[[list[Any]], Any]) -> tuple[list[Any], list[Any]]:
        return self.workers.group(items, split, combine)

    def map_calls(self, function: Callable[[Any], Any], items: list[Any]) -> list[Any]:
        return self.workers.map_calls(function, items)

    def close(self) -> None:
        for pool in self.pools.values():
            for actor in pool:
                self.ray.kill(actor)
        if self.started:
            self.ray.shutdown()


def _check_custom(name: str) -> None:
    if not is_custom(name):
        raise ValueError(f"{name!r} is not a custom resource name (Ray's own: {', '.join(PREDEFINED)}, node:*)")


def _download_resources(ray: Any, spec: RaySpec) -> dict[str, Any]:
    """The download task's extra resources: a unit of `download_resource`, which some node must have
    (on an autoscaling cluster, may have later: a warning)."""
    if spec.download_resource is None:
        return {}
    name = spec.download_resource
    if not any(node["Alive"] and node["Resources"].get(name, 0) >= 1 for node in ray.nodes()):
        _refuse(spec, f"executor.download_resource: no node of the Ray cluster has a unit of {name!r}; start nodes "
                      f"with ray start --resources='{{\"{name}\": K}}' to download K shards at once on each")
    return {"resources": {name: 1}}


def _refuse(spec: RaySpec, problem: str) -> None:
    """A request no node can hold now: an error, or on an autoscaling cluster a warning (Ray waits for the
    nodes its autoscaler adds)."""
    if not spec.autoscaling:
        raise ValueError(problem)
    logger.warning("%s; waiting for the autoscaler to add nodes (executor.autoscaling)", problem)


_workers: dict[str, Any] = {}  # run token -> this Ray worker process's engine worker


def _worker(new_worker: tuple[str, Callable[..., Any]]) -> Any:
    token, make = new_worker
    if token not in _workers:
        _workers.clear()  # a process Ray reuses for another run drops the previous run's ops
        _workers[token] = make()
    return _workers[token]


def _run_segment(new_worker: tuple[str, Callable[..., Any]], work: Any, indices: list[int], last: bool) -> Any:
    return _worker(new_worker).run(work, indices, last)


class _SegmentActor:
    """One replica of a model op's pool: an engine worker whose model op loads once, on first use."""

    def __init__(self, new_worker: tuple[str, Callable[..., Any]]):
        self.worker = _worker(new_worker)

    def run(self, work: Any, indices: list[int], last: bool) -> Any:
        return self.worker.run(work, indices, last)
