"""Whether model-op actor pools and a shard task fit on a Ray cluster's nodes, with Ray's rules for
sharing GPUs (whole GPUs first, then the fraction on one GPU: ray-project/ray@38dc9fc,
src/ray/common/scheduling/resource_instance_set.cc). The nodes are resource dicts as `ray.nodes()`
gives them under "Resources"; the Ray executor's tests check the same on a real two-node cluster."""

from __future__ import annotations

import pytest

from synthloop.engine.executors.ray import OpResources
from synthloop.engine.executors.ray_placement import first_unplaced, fits_alone, unplaceable

HEAD = {"CPU": 1.0, "memory": 2e9, "object_store_memory": 8e7, "node:127.0.0.1": 1.0, "node:__internal_head__": 1.0}


def _actors(gpus: float, count: int, cpus: float = 0) -> list[tuple[str, dict[str, float]]]:
    return [(f"actor {i}", {"CPU": cpus, "GPU": gpus}) for i in range(count)]


@pytest.mark.parametrize(("actors", "nodes", "unplaced"), [
    (_actors(0.6, 3), [{"CPU": 8, "GPU": 2}], "actor 2"),  # 1.8 <= 2 GPUs, but no GPU has 0.6 left for the third
    (_actors(0.5, 4), [{"CPU": 8, "GPU": 2}], None),
    (_actors(0.75, 2), [{"CPU": 8, "GPU": 1}, {"CPU": 8}], "actor 1"),  # 1.5 GPUs asked, 1 exists
    (_actors(0.75, 2), [{"CPU": 8, "GPU": 1}, {"CPU": 8, "GPU": 1}], None),
    (_actors(2, 2), [{"CPU": 8, "GPU": 3}], "actor 1"),
    (_actors(2, 2), [{"CPU": 8, "GPU": 2}, {"CPU": 8, "GPU": 2}], None),
    ([*_actors(0.3, 2), ("whole", {"GPU": 1})], [{"CPU": 8, "GPU": 2}], None),  # the whole GPU, then 0.3 + 0.3 on one
    (_actors(0, 4, cpus=0.25), [HEAD], None),  # CPUs are one pool, shared in fractions
    ([*_actors(0, 3, cpus=0.1), ("rest", {"CPU": 0.7})], [HEAD], None),  # 0.1 * 3 + 0.7 is exactly 1 CPU
    ([*_actors(0, 3, cpus=0.1), ("rest", {"CPU": 0.71})], [HEAD], "actor 2"),  # the 0.71 goes first
    (_actors(0, 2, cpus=1), [HEAD, {**HEAD, "CPU": 1.0}], None),
    (_actors(0, 3, cpus=1), [HEAD, {**HEAD, "CPU": 1.0}], "actor 2"),
])
def test_first_fit_decreasing_places_what_rays_rules_place(actors, nodes, unplaced):
    assert first_unplaced(actors, nodes) == unplaced


def test_an_actor_that_fits_in_total_but_on_no_single_node_fits_alone_nowhere():
    two_small = [{**HEAD, "CPU": 1.0}, {"CPU": 1.0, "GPU": 1.0}]
    assert not fits_alone({"CPU": 2}, two_small) and not fits_alone({"GPU": 2}, two_small)
    assert not fits_alone({"CPU": 1.5, "GPU": 0.5}, two_small) and fits_alone({"CPU": 1, "GPU": 0.5}, two_small)


def test_unplaceable_names_the_op_what_each_actor_asks_and_the_largest_node():
    two_small = [{"CPU": 1.0}, {"CPU": 1.0}]
    assert unplaceable([("caption", {"CPU": 2, "GPU": 0}, 1)], {"CPU": 0.5}, two_small) == (
        "executor.ops: caption asks 2 CPUs, 0 GPUs per actor, more than any node of the cluster has (the largest: "
        "1 CPU, 0 GPUs); lower its num_cpus or num_gpus")
    assert unplaceable([("caption", {"CPU": 1, "GPU": 0}, 1)], {"CPU": 0.5}, two_small) is None
    gpus = [{"CPU": 4, "GPU": 1}, {"CPU": 16}]
    assert unplaceable([("embed", {"CPU": 1, "GPU": 0.75}, 2)], {"CPU": 1}, gpus) == (
        "executor.ops: the model ops' actors (embed: 2 x 1 CPU, 0.75 GPU) and a shard task (1 CPU, 0 GPUs) do not "
        "fit on the cluster's 2 nodes together, no room left for an actor of embed (the largest: 4 CPUs, 1 GPU); "
        "lower their num_cpus, num_gpus or replicas")
    assert unplaceable([], {"CPU": 2}, two_small) == (
        "executor.num_cpus: a shard task asks 2 CPUs, 0 GPUs, more than any node of the cluster has (the largest: "
        "1 CPU, 0 GPUs)")


def test_a_download_shard_task_needs_room_on_a_node_with_the_download_resource():
    """The pools must leave a shard task its CPUs where it can also take a unit of `download_resource`."""
    nodes = [{"CPU": 2, "download": 4}, {"CPU": 8}]
    task = {"CPU": 1, "download": 1}
    assert unplaceable([("embed", {"CPU": 1, "GPU": 0}, 9)], task, nodes) is None
    assert unplaceable([("embed", {"CPU": 1, "GPU": 0}, 10)], task, nodes) == (
        "executor.ops: the model ops' actors (embed: 10 x 1 CPU, 0 GPUs) and a shard task (1 CPU, 0 GPUs, 1 download) "
        "do not fit on the cluster's 2 nodes together, no room left for a shard task (the largest: 8 CPUs, 0 GPUs, "
        "0 download); lower their num_cpus, num_gpus or replicas")


def test_more_than_one_gpu_per_actor_is_a_whole_number_as_ray_requires():
    """Ray refuses a fraction above 1 when it creates the actor (task_options_utils.pxi, `prepare_resources`)."""
    assert OpResources(num_gpus=2).num_gpus == 2 and OpResources(num_gpus=0.25).num_gpus == 0.25
    with pytest.raises(ValueError, match="1.5: more than one GPU must be a whole number"):
        OpResources(num_gpus=1.5)
