"""The Ray executor's placement check beside Ray itself: for each cluster and set of actors, whether
`ray_placement.first_unplaced` places them all, and how many of them Ray starts on a real
`ray.cluster_utils.Cluster` of those nodes (GPUs declared, not present: Ray schedules logical
resources) within `--wait` seconds.

    .venv/bin/python benchmarks/ray_placement.py [--wait 20]

Prints one line per case: the nodes, the actors, our verdict, and the actors Ray started. Where we
say an actor cannot be placed, Ray leaves it pending (it would wait forever); where we place them all,
Ray starts them all.
"""

from __future__ import annotations

import argparse
import time

import ray
from ray.cluster_utils import Cluster

from synthloop.engine.executors.ray_placement import first_unplaced

NODE = {"object_store_memory": 80 * 2**20}
CASES = [  # (nodes as (CPUs, GPUs), per-actor {CPU, GPU}, actors)
    ([(1, 0), (1, 0)], {"CPU": 1.5, "GPU": 0}, 1),  # fits in total, on no node
    ([(1, 0), (1, 0)], {"CPU": 0.75, "GPU": 0}, 3),  # 2.25 > 2 CPUs
    ([(1, 0), (1, 0)], {"CPU": 0.5, "GPU": 0}, 4),
    ([(1, 2)], {"CPU": 0, "GPU": 0.6}, 3),  # 1.8 <= 2 GPUs, but a fraction must fit on one GPU
    ([(1, 2)], {"CPU": 0, "GPU": 0.5}, 4),
    ([(1, 1), (1, 0)], {"CPU": 0, "GPU": 0.75}, 2),
    ([(1, 3)], {"CPU": 0, "GPU": 2}, 2),
    ([(1, 2)], {"CPU": 0, "GPU": 0.3}, 7),  # 2.1 > 2 GPUs
]


@ray.remote
class Probe:
    def ready(self) -> bool:
        return True


def ray_started(nodes: list[tuple[int, int]], request: dict[str, float], count: int, wait: float) -> int:
    """How many of `count` actors asking `request` Ray starts on a fresh cluster of `nodes` within `wait` s."""
    cluster = Cluster(initialize_head=True, head_node_args={**NODE, "num_cpus": 0, "include_dashboard": False})
    for cpus, gpus in nodes:
        cluster.add_node(**NODE, num_cpus=cpus, num_gpus=gpus)
    ray.init(address=cluster.address, log_to_driver=False)
    try:
        probes = [Probe.options(num_cpus=request["CPU"], num_gpus=request["GPU"]).remote() for _ in range(count)]
        ready, _ = ray.wait([probe.ready.remote() for probe in probes], num_returns=count, timeout=wait)
        return len(ready)
    finally:
        ray.shutdown()
        cluster.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wait", type=float, default=20, help="seconds Ray gets to start the actors")
    args = parser.parse_args()
    for nodes, request, count in CASES:
        totals = [{"CPU": cpus, "GPU": gpus} for cpus, gpus in nodes]
        unplaced = first_unplaced([(str(i), request) for i in range(count)], totals)
        placed = count if unplaced is None else int(unplaced)
        start = time.monotonic()
        started = ray_started(nodes, request, count, args.wait)
        print(f"nodes {nodes} | {count} x {request} | ours: {placed} placed | Ray: {started} started "
              f"({time.monotonic() - start:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
