"""A cluster's replicas handed to jobs fairly: each desk's jobs first come, first served, and
the desks in turn, so a desk with a long queue never starves another. Plain Python; the
cluster's dispatcher (engine.cluster) runs it as a Ray actor, one call per waiting job.
"""

import collections
import threading


class FairQueue:
    def __init__(self) -> None:
        self._known: set[str] = set()
        self._free: list[str] = []  # replicas with no job
        self._granted: dict[str, list[str]] = {}  # job → its replicas
        # desk → its waiting jobs, oldest first; the dict's order is the desks' turn
        self._waiting: dict[str, collections.deque[str]] = {}
        self._withdrawn: set[str] = set()
        self._changed = threading.Condition()

    def add(self, replicas: list[str]) -> None:
        """Replicas that can take jobs (ones already known are left as they are)."""
        with self._changed:
            self._free += [r for r in replicas if r not in self._known]
            self._known.update(replicas)
            self._changed.notify_all()

    def remove(self, replicas: list[str]) -> None:
        """Replicas whose node left: no job gets them again."""
        with self._changed:
            self._known.difference_update(replicas)
            self._free = [r for r in self._free if r in self._known]

    def acquire(self, desk: str, job_id: str, most: int) -> list[str]:
        """Wait for the job's turn and a free replica, then take up to `most` of the free ones,
        sharing them with the jobs still waiting; [] when the job was withdrawn while it waited."""
        with self._changed:
            self._waiting.setdefault(desk, collections.deque()).append(job_id)
            while job_id not in self._withdrawn and not (self._free and self._next() == job_id):
                self._changed.wait()
            self._changed.notify_all()
            if job_id in self._withdrawn:
                self._withdrawn.discard(job_id)
                self._waiting[desk].remove(job_id)
                if not self._waiting[desk]:
                    del self._waiting[desk]
                return []
            jobs = self._waiting.pop(desk)
            jobs.popleft()
            if jobs:  # the desk's next job waits behind the other desks'
                self._waiting[desk] = jobs
            # a job fans out over the free replicas that no other waiting job needs
            share = max(1, min(most, len(self._free) // (1 + sum(map(len, self._waiting.values())))))
            taken, self._free = self._free[:share], self._free[share:]
            self._granted[job_id] = list(taken)
            return taken

    def withdraw(self, job_id: str) -> None:
        """A job cancelled while it waits gives up its place."""
        with self._changed:
            if any(job_id in jobs for jobs in self._waiting.values()):
                self._withdrawn.add(job_id)
                self._changed.notify_all()

    def release(self, job_id: str, replicas: list[str]) -> None:
        """The job is done with these replicas (said by the desk, and by the replica itself in
        case the desk is gone; the second saying changes nothing)."""
        with self._changed:
            granted = self._granted.get(job_id, [])
            for replica in replicas:
                if replica in granted:
                    granted.remove(replica)
                    if replica in self._known:
                        self._free.append(replica)
            if not granted:
                self._granted.pop(job_id, None)
            self._changed.notify_all()

    def describe(self) -> dict:
        """The jobs waiting (desk, job, in the order they will run) and the jobs running."""
        with self._changed:
            waiting = {desk: list(jobs) for desk, jobs in self._waiting.items()}
            order = []
            while any(waiting.values()):  # one job per desk per turn
                for desk, jobs in waiting.items():
                    if jobs:
                        order.append({"desk": desk, "job": jobs.pop(0)})
            return {"queued": order, "running": {job: list(r) for job, r in self._granted.items()},
                    "free": list(self._free)}

    def _next(self) -> str | None:
        return next(iter(self._waiting.values()))[0] if self._waiting else None
