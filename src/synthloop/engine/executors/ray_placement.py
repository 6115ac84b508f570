"""Whether resource requests that are held for the whole run fit together on a Ray cluster's nodes.

A Ray request (an actor's or a task's `{"CPU": 1, "GPU": 0.5, ...}`) runs on one node only. Ray counts
resources in 1/10,000 units. A node's CPUs and custom resources are one pool each, shared out in those
units. Each of its GPUs is an instance of 1: a request asking for k whole GPUs plus a fraction takes k
GPUs that are wholly free, then the fraction on one GPU that still has it free (the most used GPU that
does). So three actors asking 0.6 GPU each do not fit on a node with two GPUs (ray-project/ray@38dc9fc,
src/ray/common/scheduling/resource_instance_set.cc, `NodeResourceInstanceSet::TryAllocate`). A
request that no node can hold is "infeasible": Ray logs a warning and keeps it queued until a node
that can hold it joins, without an error (@ac2c1fb, src/ray/raylet/scheduling/cluster_task_manager.cc,
`infeasible_tasks_`); one that fits only where other requests hold the room waits for them to end,
which an actor held for the run never does.

`first_unplaced` packs the requests first-fit decreasing: the largest first (GPUs, then CPUs), each on
the first node with room, trying first the nodes without GPUs or custom resources it does not ask for
(Ray keeps requests without GPUs off GPU nodes the same way, `scheduler_avoid_gpu_nodes`, @f94c1d7,
src/ray/raylet/scheduling/policy/hybrid_scheduling_policy.cc). It is greedy, as Ray's scheduler is.
When it places every request, a placement exists: the check is sufficient to refuse, not a promise
that Ray, placing requests one at a time as they come, finds that placement. When it does not place
them all, a cleverer packing might exist for odd mixes of shapes, but no greedy scheduler would
reliably find it. `benchmarks/ray_placement.py` sets its verdicts beside what Ray starts. What it
cannot know: other jobs' use of the cluster (it packs onto the nodes' totals), nodes that join later
(an autoscaling cluster), and the memory a model needs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

UNIT = 10_000  # Ray's smallest share of a resource is 1/UNIT (ray._raylet.RESOURCE_UNIT_SCALING)
Request = Mapping[str, float]
PREDEFINED = ("CPU", "GPU", "memory", "object_store_memory")  # Ray's own resources, not custom ones


class _Room:
    """What is left of one node: GPU instances one by one, every other resource as one pool."""

    def __init__(self, total: Request):
        self.gpus = [UNIT] * int(total.get("GPU", 0))
        self.pools = {name: _units(amount) for name, amount in total.items() if name != "GPU"}

    def take(self, request: Request) -> bool:
        """Hold the request here if it fits (and say so); leave the room as it was if it does not."""
        asked = {name: _units(amount) for name, amount in request.items() if amount > 0}
        if any(self.pools.get(name, 0) < units for name, units in asked.items() if name != "GPU"):
            return False
        gpus = self._gpus_after(asked.get("GPU", 0))
        if gpus is None:
            return False
        self.gpus = gpus
        for name, units in asked.items():
            if name != "GPU":
                self.pools[name] -= units
        return True

    def _gpus_after(self, units: int) -> list[int] | None:
        """The GPU instances after taking `units` the way Ray does; None when they cannot be taken."""
        gpus = list(self.gpus)
        whole, fraction = divmod(units, UNIT)
        free = [i for i, left in enumerate(gpus) if left == UNIT]
        if len(free) < whole:
            return None
        for i in free[:whole]:
            gpus[i] = 0
        if fraction:
            fitting = [i for i, left in enumerate(gpus) if left >= fraction]
            if not fitting:
                return None
            best = min(fitting, key=lambda i: gpus[i])  # the fullest GPU that still has the fraction
            gpus[best] -= fraction
        return gpus


def fits_alone(request: Request, nodes: Sequence[Request]) -> bool:
    """Whether some node, empty, could hold the request."""
    return any(_Room(node).take(request) for node in nodes)


def first_unplaced(requests: Sequence[tuple[str, Request]], nodes: Sequence[Request]) -> str | None:
    """The label of the first (label, request) that a first-fit decreasing packing of all of them onto
    the nodes finds no room for; None when every one is placed."""
    rooms = [(_Room(node), _special(node)) for node in nodes]
    orders: dict[tuple, list[_Room]] = {}  # per request shape: the rooms in the order it tries them
    tried: dict[tuple, int] = {}  # per shape: rooms before this one had no room for it, and never will again
    largest_first = sorted(requests, key=lambda item: (item[1].get("GPU", 0), item[1].get("CPU", 0)), reverse=True)
    for label, request in largest_first:
        shape = tuple(sorted(request.items()))
        if shape not in orders:
            asked = {name for name, amount in request.items() if amount > 0}
            orders[shape] = [room for room, special in sorted(rooms, key=lambda room: bool(room[1] - asked))]
        order, at = orders[shape], tried.get(shape, 0)
        while at < len(order) and not order[at].take(request):
            at += 1
        if at == len(order):
            return label
        tried[shape] = at
    return None


def unplaceable(pools: Sequence[tuple[str, Request, int]], task: Request, nodes: Sequence[Request]) -> str | None:
    """Why the model ops' pools ((op name, request per actor, replicas)) and a shard task cannot all be
    placed on the nodes, in one line; None when they can."""
    names = [name for name in task if name != "CPU"]
    node = f"the largest: {describe(largest(nodes), names)}"
    if not fits_alone(task, nodes):
        settings = "executor.num_cpus" + (" and download_resource" if names else "")
        return f"{settings}: a shard task asks {describe(task, names)}, more than any node of the cluster has ({node})"
    for name, request, _ in pools:
        if not fits_alone(request, nodes):
            return (f"executor.ops: {name} asks {describe(request)} per actor, more than any node of the cluster has "
                    f"({node}); lower its num_cpus or num_gpus")
    actors = [(f"an actor of {name}", request) for name, request, replicas in pools for _ in range(replicas)]
    unplaced = first_unplaced([*actors, ("a shard task", task)], nodes)
    if unplaced is None:
        return None
    held = "; ".join(f"{name}: {replicas} x {describe(request)}" for name, request, replicas in pools)
    return (f"executor.ops: the model ops' actors ({held}) and a shard task ({describe(task, names)}) do not fit "
            f"on the cluster's {_count(len(nodes), 'node')} together, no room left for {unplaced} ({node}); "
            f"lower their num_cpus, num_gpus or replicas")


def largest(nodes: Sequence[Request]) -> Request:
    """The node with the most GPUs, then the most CPUs (an empty request when there is none)."""
    return max(nodes, key=lambda node: (node.get("GPU", 0), node.get("CPU", 0)), default={})


def describe(resources: Request, names: Sequence[str] = ()) -> str:
    """`2 CPUs, 0.5 GPU`, then each of `names`: `, 1 download`."""
    parts = [_count(resources.get("CPU", 0), "CPU"), _count(resources.get("GPU", 0), "GPU")]
    return ", ".join(parts + [f"{resources.get(name, 0):g} {name}" for name in names])


def is_custom(name: str) -> bool:
    """Whether a resource name is a custom resource (`ray start --resources`), not one Ray sets itself."""
    return bool(name) and name not in PREDEFINED and not name.startswith(("node:", "accelerator_type:"))


def _special(node: Request) -> set[str]:
    """The node's GPUs and custom resources: what a request that does not ask for them should leave free."""
    return {name for name, amount in node.items() if amount > 0 and (name == "GPU" or is_custom(name))}


def _count(amount: float, name: str) -> str:
    return f"{amount:g} {name}{'' if amount == 1 or 0 < amount < 1 else 's'}"


def _units(amount: float) -> int:
    return round(amount * UNIT)
