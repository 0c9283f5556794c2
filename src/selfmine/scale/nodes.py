"""The cluster's live nodes, and the options that pin an actor to one of them and bring it back after a
crash: shared by the judge's and the engine's actors."""

from __future__ import annotations


def live_nodes(ray) -> list[dict]:
    return [n for n in ray.nodes() if n.get("Alive")]


def pinned_actor_options(node: dict, **extra) -> dict:
    """Soft affinity: the actor starts on `node` and may restart elsewhere if that node is gone. A call on
    a dead actor runs again on its restart (an infrastructure failure, never the work's)."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    return {
        "max_restarts": -1,
        "max_task_retries": -1,
        "scheduling_strategy": NodeAffinitySchedulingStrategy(node["NodeID"], soft=True),
        **extra,
    }
