"""The same request on this computer and on a local Ray cluster (issue 12), in one run:
whole job and first audio, warm (model loaded), and what Ray adds per job. Prints figures;
asserts nothing. Starts and stops its own Ray head on loopback.

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


def measure(engine, library, request, runs: int) -> tuple[float, float]:
    timed_job(engine, library, request)  # cold: worker, model
    times = [timed_job(engine, library, request) for _ in range(runs)]
    return statistics.median(t[0] for t in times), statistics.median(t[1] for t in times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="tiny-music")
    parser.add_argument("-n", type=int, default=4)
    parser.add_argument("-d", type=float, default=8.0)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    request = GenerationRequest("bench", model=args.model, candidates=args.n, duration=args.d, seed=1)
    with Library() as library:
        with EngineClient() as engine:
            here = measure(engine, library, request, args.runs)
        with head() as (address, _):
            with ClusterClient(address) as engine:
                there = measure(engine, library, request, args.runs)
            import ray

            ray.shutdown()  # leave before the head stops
    print(f"{args.model}, {args.n} × {args.d:g} s, warm, median of {args.runs}:")
    print(f"  this computer: first audio {here[0]:.2f} s, whole job {here[1]:.2f} s")
    print(f"  local Ray cluster (1 replica): first audio {there[0]:.2f} s, whole job {there[1]:.2f} s")
    print(f"  Ray's overhead per job: {there[1] - here[1]:+.2f} s (target under 0.5 s)")


if __name__ == "__main__":
    main()
