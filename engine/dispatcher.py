"""The cluster's dispatcher, a named Ray actor every desk shares: it starts the engine
replicas on the cluster's nodes and hands them to jobs fairly (engine.fair_queue).

A node runs as many replicas as it offers `cuedeck_replicas` (`ray start --resources
'{"cuedeck_replicas": 2}'`), else one per GPU, else one; each replica's worker gets its
share of the node's CPU threads. Replicas are named, detached actors pinned to their node
and restarted by Ray when they die, so a model stays loaded between jobs and desks.
"""

from .fair_queue import FairQueue

NAMESPACE = "cuedeck"
NAME = "cuedeck-dispatcher"
SLOTS = "cuedeck_replicas"


class Dispatcher(FairQueue):
    def __init__(self) -> None:
        super().__init__()
        self._nodes: dict[str, list[str]] = {}  # node id → its replicas' names
        self._replicas: dict[str, object] = {}  # name → actor handle
        self._refresh()

    def acquire(self, desk: str, job_id: str, most: int) -> list[str]:
        self._refresh()
        granted = super().acquire(desk, job_id, most)
        for name in granted:  # it gives itself back if the desk never starts the job there
            self._replicas[name].reserve.remote(job_id)
        return granted

    def _refresh(self) -> None:
        """Replicas on the nodes that joined, none on the nodes that left."""
        import ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        from .replica import Replica

        alive = {node["NodeID"]: node["Resources"] for node in ray.nodes() if node["Alive"]}
        for node in set(self._nodes) - set(alive):
            self.remove(self._nodes.pop(node))
        for node, resources in alive.items():
            if node in self._nodes:
                continue
            gpus = resources.get("GPU", 0)
            count = int(resources.get(SLOTS, 0)) or int(gpus) or 1
            threads = max(1, int(resources.get("CPU", 1)) // count)
            names = [f"cuedeck-replica-{node[:8]}-{i + 1}" for i in range(count)]
            for name in names:
                self._replicas[name] = ray.remote(Replica).options(
                    name=name, namespace=NAMESPACE, get_if_exists=True, lifetime="detached", max_restarts=-1,
                    max_concurrency=16, num_cpus=0, num_gpus=gpus / count,
                    scheduling_strategy=NodeAffinitySchedulingStrategy(node, soft=False)).remote(name, threads)
            self._nodes[node] = names
            self.add(names)
