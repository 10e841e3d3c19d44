"""Desktop speed figures (issue 3): start-up paint, UI event-loop stalls while generating and
playing, library search with 10,000 cues. Prints figures; asserts nothing.

    .venv/bin/python benchmarks/desktop_speed.py [--cues 10000] [--json]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
home = Path(tempfile.mkdtemp(prefix="cuedeck-bench-"))
(home / ".asoundrc").write_text("pcm.!default { type null }\nctl.!default { type null }\n")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["HOME"] = str(home)  # ALSA null device when there is no sound card
os.environ["CUEDECK_HOME"] = str(home / "cuedeck")

FIRST_PAINT = """
import sys, time
from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QApplication
from desktop.main_window import MainWindow
from desktop.settings import open_settings
app = QApplication([])
class FirstPaint(QObject):
    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Paint:
            print(time.time(), flush=True)
            app.quit()
        return False
window = MainWindow(open_settings())
watcher = FirstPaint()
window.installEventFilter(watcher)
window.show()
app.exec()
window.close()
"""


def first_paint_seconds(runs: int = 5) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.time()
        out = subprocess.run([sys.executable, "-c", FIRST_PAINT], capture_output=True, text=True,
                             cwd=ROOT, check=True).stdout.split()
        times.append(float(out[0]) - started)
    return times


def fill_library(count: int) -> None:
    import numpy as np

    from engine.library import Library
    from engine.request import GenerationRequest

    words = ["rain", "wind", "door", "metal", "pad", "drone", "pulse", "strings", "impact", "whoosh"]
    rng = np.random.default_rng(0)
    with Library() as lib:
        for start in range(0, count, 8):
            prompt = " ".join(rng.choice(words, 4))
            request = GenerationRequest(prompt, candidates=8, duration=1.0, seed=start).validated()
            audio = rng.uniform(-0.5, 0.5, (8, 1, 400)).astype(np.float32)
            cues = lib.add_batch(request, audio, 8000, request.candidate_seeds(), f"job{start}", "1.3.0")
            lib.add_tags(cues[0].id, [str(rng.choice(words))])
            lib.rate(cues[1].id, int(rng.integers(1, 6)))
        # The cue auditioned during the event-loop figures: 8 s at 32 kHz, like a real one.
        request = GenerationRequest("audition cue", candidates=1, duration=8.0, seed=1).validated()
        audio = rng.uniform(-0.3, 0.3, (1, 1, 8 * 32000)).astype(np.float32)
        lib.add_batch(request, audio, 32000, [1], "audition", "1.3.0")


def search_ms(queries: dict, runs: int = 20) -> dict:
    """What the library list waits for: the ids of every match, then its first page of rows."""
    from desktop.library_panel import PAGE
    from engine.library import Library

    figures = {}
    with Library() as lib:
        for name, query in queries.items():
            samples = []
            for _ in range(runs):
                t = time.perf_counter()
                ids = lib.find(**query)
                lib.get_many(ids[:PAGE])
                samples.append((time.perf_counter() - t) * 1000)
            figures[name] = {"hits": len(ids), "median_ms": statistics.median(samples),
                             "max_ms": max(samples)}
    return figures


def event_loop_stalls(phases: list[tuple[str, dict]]) -> dict:
    """Max and 99th-percentile lateness of a 10 ms timer while each job runs and a cue loops."""
    from PySide6.QtCore import QEventLoop, QTimer, Qt
    from PySide6.QtWidgets import QApplication

    from desktop.main_window import MainWindow
    from desktop.settings import open_settings
    from engine.library import Library

    app = QApplication.instance() or QApplication([])
    app.setApplicationName("CueDeck benchmark")
    window = MainWindow(open_settings())
    window.show()
    window.engine.start()  # as typing a prompt does: the worker loads torch before the job
    settle = QEventLoop()
    QTimer.singleShot(10_000, settle.quit)
    settle.exec()
    results = {}
    with Library() as lib:
        cue = lib.search(limit=1)[0]
    window.audition.loop = True
    for name, settings in phases:
        gaps, last = [], [time.perf_counter()]
        timer = QTimer(interval=10, timerType=Qt.TimerType.PreciseTimer)

        def tick() -> None:
            now = time.perf_counter()
            gaps.append((now - last[0]) * 1000 - 10)
            last[0] = now

        timer.timeout.connect(tick)
        window.prompt.prompt.setPlainText(f"benchmark {name}")
        window.prompt.candidates.setValue(settings["n"])
        window.prompt.duration.setValue(settings["duration"])
        done, loop = [], QEventLoop()  # (app.quit() would close the window too)

        def finished(job, cues):
            done.append("ok")
            loop.quit()

        def failed(job, message):
            done.append(message)
            loop.quit()

        window.store.added.connect(finished)
        window.engine.failed.connect(failed)
        print(f"({name}…)", file=sys.stderr, flush=True)
        started = time.perf_counter()
        window.audition.play(cue)
        timer.start()
        window.generate()
        loop.exec()
        timer.stop()
        window.audition.stop()
        window.store.added.disconnect(finished)
        window.engine.failed.disconnect(failed)
        gaps.sort()
        results[name] = {"job_seconds": time.perf_counter() - started, "ticks": len(gaps),
                         "max_late_ms": gaps[-1], "p99_late_ms": gaps[int(len(gaps) * 0.99)],
                         "result": done[0] if done else "no answer"}
    window.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cues", type=int, default=10_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    paint = first_paint_seconds()
    print(f"(filling a library with {args.cues} cues…)", file=sys.stderr, flush=True)
    fill_library(args.cues)
    search = search_ms({
        "all (newest first)": {}, "text 'rain pad'": {"text": "rain pad"},
        "tag": {"tag": "rain"}, "rating >= 4": {"min_rating": 4},
        "model": {"model": "tiny-music"}, "text + rating + model": {
            "text": "wind", "min_rating": 1, "model": "tiny-music"}})
    stalls = event_loop_stalls([("tiny job 4 x 8 s", {"n": 4, "duration": 8.0}),
                                ("slow job 8 x 30 s", {"n": 8, "duration": 30.0})])
    figures = {"first_paint_s": paint, "search": search, "event_loop": stalls, "cues": args.cues}
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(f"window painted after launch: median {statistics.median(paint):.2f} s, "
          f"max {max(paint):.2f} s ({len(paint)} launches; target 1.5 s)")
    print(f"library search with {args.cues} cues (target 50 ms):")
    for name, f in search.items():
        print(f"  {name:<24} {f['hits']:>6} hits  median {f['median_ms']:6.1f} ms  max {f['max_ms']:6.1f} ms")
    print("UI event loop while a job generates and a cue plays (target: no stall over 50 ms):")
    for name, f in stalls.items():
        print(f"  {name:<20} job {f['job_seconds']:5.1f} s, {f['ticks']} ticks, "
              f"max late {f['max_late_ms']:5.1f} ms, p99 {f['p99_late_ms']:5.1f} ms")


if __name__ == "__main__":
    main()
