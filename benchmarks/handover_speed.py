"""What the engine's hand-over costs (issue 11): the worker writes each candidate's audio to
the job's exchange folder, the library's owner reads it back and keeps it. Compared with
writing the same batch straight into the library. Prints figures; asserts nothing.

    .venv/bin/python benchmarks/handover_speed.py
"""

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["CUEDECK_HOME"] = tempfile.mkdtemp(prefix="cuedeck-bench-")

import numpy as np  # noqa: E402

from engine import exchange  # noqa: E402
from engine import protocol as p  # noqa: E402
from engine.library import Library  # noqa: E402
from engine.request import GenerationRequest  # noqa: E402

RATE = 32000


def batch(candidates: int, seconds: int, channels: int):
    request = GenerationRequest("bench", model="tiny-stereo" if channels == 2 else "tiny-music",
                                candidates=candidates, duration=float(seconds), seed=1).validated()
    audio = 0.1 * np.random.default_rng(0).standard_normal((candidates, channels, seconds * RATE))
    return request, audio.astype(np.float32)


def main() -> None:
    with Library() as lib:
        request, audio = batch(1, 1, 1)
        lib.add_batch(request, audio, RATE, request.candidate_seeds(), "warm-up", "1.3.0")
        for shape in ((4, 8, 1), (8, 30, 2)):
            request, audio = batch(*shape)
            started = time.perf_counter()
            lib.add_batch(request, audio, RATE, request.candidate_seeds(), f"direct{shape}", "1.3.0")
            direct = time.perf_counter() - started
            job = exchange.new_job_id()
            exchange.open_job(job)
            started = time.perf_counter()
            candidates = exchange.stage_candidates(exchange.job_folder(job), audio, request.candidate_seeds())
            staged = time.perf_counter() - started
            result = p.Result(job, request, RATE, candidates, p.Making(request.model, "cpu", "1.3.0", "-"), 0.0)
            started = time.perf_counter()
            exchange.keep(lib, result)
            kept = time.perf_counter() - started
            print(f"{shape[0]} × {shape[1]} s × {shape[2]} ch ({audio.nbytes / 1e6:.0f} MB): straight into the "
                  f"library {direct * 1000:.0f} ms; through the exchange {(staged + kept) * 1000:.0f} ms "
                  f"(worker {staged * 1000:.0f} ms, owner {kept * 1000:.0f} ms): "
                  f"+{(staged + kept - direct) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
