"""The cluster's queue (first come, first served per desk, desks in turn, no desk starves),
and how a job splits over the replicas it gets."""

import threading
import time

from engine.fair_queue import FairQueue


def waiting(queue: FairQueue, desk: str, job: str, most: int, got: dict) -> threading.Thread:
    """A job that waits for replicas on its own thread, as a desk's call to the dispatcher does."""
    thread = threading.Thread(target=lambda: got.__setitem__(job, queue.acquire(desk, job, most)))
    thread.start()
    deadline = time.monotonic() + 10
    while not any(q["job"] == job for q in queue.describe()["queued"]) and job not in got:
        assert time.monotonic() < deadline
        time.sleep(0.001)
    return thread


def finish(queue: FairQueue, job: str, got: dict, threads: dict) -> str:
    """Let `job` end and say which waiting job took its replica."""
    before = set(got)
    queue.release(job, got[job])
    deadline = time.monotonic() + 10
    while set(got) == before:
        assert time.monotonic() < deadline
        time.sleep(0.001)
    (started,) = set(got) - before
    threads.pop(started).join(5)
    return started


def test_a_desk_with_a_long_queue_does_not_starve_the_others():
    queue, got = FairQueue(), {}
    queue.add(["r1"])
    got["a1"] = queue.acquire("a", "a1", 4)
    assert got["a1"] == ["r1"]
    threads = {job: waiting(queue, desk, job, 4, got)
               for desk, job in (("a", "a2"), ("a", "a3"), ("a", "a4"), ("b", "b1"), ("c", "c1"), ("b", "b2"))}
    assert [q["job"] for q in queue.describe()["queued"]] == ["a2", "b1", "c1", "a3", "b2", "a4"]
    order, last = [], "a1"
    for _ in range(6):
        last = finish(queue, last, got, threads)
        order.append(last)
    assert order == ["a2", "b1", "c1", "a3", "b2", "a4"]  # one job per desk per turn, each desk's in order
    queue.release("a4", got["a4"])
    assert queue.describe() == {"queued": [], "running": {}, "free": ["r1"]}


def test_a_job_takes_the_free_replicas_it_can_use_and_gives_them_back():
    queue = FairQueue()
    queue.add(["r1", "r2", "r3"])
    assert queue.acquire("a", "big", 2) == ["r1", "r2"]
    assert queue.acquire("b", "small", 5) == ["r3"]  # what is free: it does not wait for more
    queue.add(["r1", "r4"])  # a known replica is not added twice
    assert queue.describe()["free"] == ["r4"]
    queue.release("big", ["r1"])
    queue.release("big", ["r1"])  # said twice (the desk and the replica): once is enough
    assert queue.describe()["running"] == {"big": ["r2"], "small": ["r3"]}
    assert sorted(queue.describe()["free"]) == ["r1", "r4"]


def test_a_job_withdrawn_while_it_waits_gets_nothing_and_keeps_no_place():
    queue, got = FairQueue(), {}
    queue.add(["r1"])
    got["a1"] = queue.acquire("a", "a1", 1)
    threads = {"a2": waiting(queue, "a", "a2", 1, got), "b1": waiting(queue, "b", "b1", 1, got)}
    queue.withdraw("a2")
    threads.pop("a2").join(5)
    assert got["a2"] == [] and [q["job"] for q in queue.describe()["queued"]] == ["b1"]
    assert finish(queue, "a1", got, threads) == "b1" and got["b1"] == ["r1"]
    queue.withdraw("b1")  # no longer waiting: nothing to withdraw
    queue.release("b1", ["r1"])
    assert queue.acquire("a", "a3", 1) == ["r1"]


def test_replicas_freed_while_jobs_wait_are_shared_between_them():
    queue, got = FairQueue(), {}
    queue.add(["r1", "r2", "r3", "r4"])
    got["a1"] = queue.acquire("a", "a1", 8)
    assert got["a1"] == ["r1", "r2", "r3", "r4"]  # alone: the job takes every replica it can use
    threads = {job: waiting(queue, desk, job, 8, got) for desk, job in (("a", "a2"), ("b", "b1"))}
    queue.release("a1", got["a1"])
    for thread in threads.values():
        thread.join(5)
    assert sorted(got["a2"] + got["b1"]) == ["r1", "r2", "r3", "r4"] and len(got["a2"]) == len(got["b1"]) == 2


def test_a_job_splits_into_even_parts_whose_candidates_keep_their_seeds():
    from engine.cluster import split
    from engine.request import GenerationRequest

    request = GenerationRequest("x", candidates=8, seed=100).validated()
    parts = split(request, 3)
    assert [(first, part.candidates, part.seed) for first, part in parts] == [(0, 2, 100), (2, 3, 102), (5, 3, 105)]
    assert [s for _, part in parts for s in part.candidate_seeds()] == request.candidate_seeds()
