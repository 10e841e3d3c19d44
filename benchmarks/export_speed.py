"""Export speed (issues 4 and 16): render 8 tracks × 60 s to stems and a mix at 48 kHz/24-bit
WAV (with bext, iXML, every file's loudness report, .otio, a linked AAF, provenance and cue sheet), from
32 kHz stereo cues, with a loudness preset (EBU R128 by default) and C2PA content
credentials signed into every audio file. Each run replaces the last one's folder, as a
re-export does (and leaves nothing behind). Prints figures; asserts nothing. Target: at least
50× faster than real time.

    .venv/bin/python benchmarks/export_speed.py [--tracks 8] [--seconds 60] [--runs 3]
        [--loudness ebu-r128] [--unsigned] [--json]
"""

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
work = Path(tempfile.mkdtemp(prefix="cuedeck-bench-"))
os.environ["CUEDECK_HOME"] = str(work / "cuedeck")

import numpy as np  # noqa: E402

from engine import loudness  # noqa: E402
from engine.export import Delivery, export_timeline  # noqa: E402
from engine.library import Library  # noqa: E402
from engine.request import GenerationRequest  # noqa: E402
from engine.timeline import Clip  # noqa: E402

CUE_SECONDS, CUE_RATE = 30, 32000


def build(lib: Library, tracks: int, seconds: float) -> str:
    """One 30 s stereo cue per track, laid end to end (with fades) to fill `seconds`."""
    rng = np.random.default_rng(0)
    timeline = lib.create_timeline("Bench")
    for n in range(tracks):
        audio = (0.1 * rng.standard_normal((1, 2, CUE_SECONDS * CUE_RATE))).astype(np.float32)
        request = GenerationRequest(f"bench cue {n}", model="tiny-music", candidates=1, duration=1, seed=n)
        cue = lib.add_batch(request, audio, CUE_RATE, [n], f"bench{n:04d}", "1.3.0")[0]
        if n:
            timeline = timeline.add_track()
        at = 0.0
        while at < seconds:
            length = min(CUE_SECONDS, seconds - at)
            timeline = timeline.add_clip(n, Clip(cue.id, at, 0.0, length, cue.duration, -3.0, 0.05, 0.05))
            at += length
    lib.save_timeline(timeline)
    return timeline.name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--loudness", default="ebu-r128", choices=list(loudness.PRESETS))
    parser.add_argument("--unsigned", action="store_true", help="without content credentials")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    delivery = Delivery(loudness=args.loudness, sign=not args.unsigned)
    with Library() as lib:
        name = build(lib, args.tracks, args.seconds)
        times = []
        for run in range(args.runs):
            shutil.rmtree(work / "out", ignore_errors=True)  # a re-export replaces the last one
            start = time.perf_counter()
            result = export_timeline(lib, name, work / "out", 48000, "24", "wav", delivery=delivery)
            times.append(time.perf_counter() - start)
    best, median = min(times), statistics.median(times)
    size = sum(f.stat().st_size for f in result.files)
    figures = {"tracks": args.tracks, "seconds": args.seconds, "runs": args.runs,
               "median_s": round(median, 3), "best_s": round(best, 3),
               "realtime_factor_median": round(args.seconds / median, 1),
               "files": len(result.files), "megabytes": round(size / 1e6, 1), "loudness": args.loudness,
               "signed": not args.unsigned}
    if args.json:
        print(json.dumps(figures))
        return
    print(f"export {args.tracks} tracks × {args.seconds:g} s → {len(result.files)} files, "
          f"{size / 1e6:.0f} MB at 48 kHz/24-bit, loudness {args.loudness}, "
          f"{'unsigned' if args.unsigned else 'C2PA signed'} (target: ≥ 50× real time)")
    print(f"  median {median:.2f} s, best {best:.2f} s over {args.runs} runs: "
          f"{args.seconds / median:.0f}× real time (median), {args.seconds / best:.0f}× (best)")
    print(f"  {result.summary()}")


if __name__ == "__main__":
    try:
        main()
    finally:
        shutil.rmtree(work, ignore_errors=True)
