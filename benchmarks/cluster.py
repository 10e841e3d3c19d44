"""The same request on this computer and on a local Ray cluster of one and of two replicas
(issue 12), in one run: whole job and first audio, warm (model loaded), what Ray adds per
job, and the throughput two replicas give (the job's candidates split over them). Prints
figures; asserts nothing. Starts and stops its own Ray heads on loopback.

    .venv/bin/python benchmarks/cluster.py [--model tiny-music] [-n 4] [-d 8] [--runs 3]
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
os.environ["CUEDECK_HOME"] = tempfile.mkdtemp(prefix="cuedeck-bench-")

from engine import exchange  # noqa: E402
from engine import protocol as p  # noqa: E402
from engine.client import EngineClient  # noqa: E402
from engine.cluster import ClusterClient  # noqa: E402
from engine.library import Library  # noqa: E402
from engine.request import GenerationRequest  # noqa: E402
from ray_head import head  # noqa: E402


def timed_job(engine, library, request) -> tuple[float, float]:
    """(seconds to the first preview, seconds to the cues in the library)."""
    started, first = time.perf_counter(), None
    job = engine.submit(request)
    while True:
        for event in engine.poll(0.02):
            if isinstance(event, p.Preview) and first is None:
                first = time.perf_counter() - started
            if isinstance(event, p.Result):
                exchange.keep(library, event)
                return first or float("nan"), time.perf_counter() - started
            if isinstance(event, (p.Error, p.Cancelled)):
                raise SystemExit(f"the job on {type(engine).__name__} ended: {event}")


def several_jobs(engine, library, request, jobs: int) -> float:
    """Seconds to keep `jobs` jobs submitted at once, as several desks (or one busy one) would."""
    started, left = time.perf_counter(), {engine.submit(request) for _ in range(jobs)}
    while left:
        for event in engine.poll(0.02):
            if isinstance(event, p.Result):
                exchange.keep(library, event)
                left.discard(event.job_id)
            elif isinstance(event, (p.Error, p.Cancelled)):
                raise SystemExit(f"a job on {type(engine).__name__} ended: {event}")
    return time.perf_counter() - started


def measure(engine, library, request, runs: int, jobs: int) -> tuple[float, float, float]:
    """(first audio, whole job) of one job at a time, then `jobs` jobs at once: medians of
    `runs` (these machines' speed varies by a third from minute to minute)."""
    several_jobs(engine, library, request, 2)  # cold: each replica's worker and model
    times = [timed_job(engine, library, request) for _ in range(runs)]
    return (statistics.median(t[0] for t in times), statistics.median(t[1] for t in times),
            statistics.median(several_jobs(engine, library, request, jobs) for _ in range(runs)))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="tiny-music")
    parser.add_argument("-n", type=int, default=4)
    parser.add_argument("-d", type=float, default=8.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=8, help="jobs submitted at once, for the throughput")
    args = parser.parse_args()
    request = GenerationRequest("bench", model=args.model, candidates=args.n, duration=args.d, seed=1)
    import ray

    with Library() as library:
        with EngineClient() as engine:
            here = measure(engine, library, request, args.runs, args.jobs)
        there = {}
        for replicas in (1, 2):  # one replica with one thread, as here (so: Ray's overhead); two with one each
            with head(replicas=replicas, cpus=replicas) as (address, _):
                with ClusterClient(address) as engine:
                    there[replicas] = measure(engine, library, request, args.runs, args.jobs)
                ray.shutdown()  # leave before the head stops
    print(f"{args.model}, {args.n} × {args.d:g} s, warm, {os.cpu_count()} cores; one job at a time, then "
          f"{args.jobs} jobs at once (medians of {args.runs}):")
    for place, (first, whole, several) in [("this computer", here)] + [
            (f"local Ray cluster, {n} replica{'s' * (n > 1)}", found) for n, found in there.items()]:
        print(f"  {place}: first audio {first:.2f} s, whole job {whole:.2f} s; {args.jobs} jobs {several:.2f} s")
    print(f"  Ray's overhead per job: {there[1][1] - here[1]:+.2f} s (target under 0.5 s)")
    print(f"  two replicas against this computer: one job {here[1] / there[2][1]:.2f}× as fast; throughput of "
          f"{args.jobs} jobs at once {here[2] / there[2][2]:.2f}× (target ≥ 1.6×); against one replica "
          f"{there[1][2] / there[2][2]:.2f}×")


if __name__ == "__main__":
    main()
