"""Cues to MIDI (engine.transcription, Basic Pitch's ONNX model) on lines of notes made with
numpy: sine, triangle and saw voices, one voice (issue 15's target: note F-measure ≥ 0.9,
onset within 50 ms, pitch exact) and two and three at once (reported). Then the speed: seconds
of transcription per minute of audio on this CPU.

    .venv/bin/python benchmarks/transcription.py
"""

import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE.parent / "tests")]

import numpy as np  # noqa: E402

from engine import transcription  # noqa: E402
from synthetic_music import RATE, WAVES, line, note_f_measure  # noqa: E402

SEEDS = range(1, 9)


def main() -> None:
    transcription.transcribe(line(0, "sine", seconds=2)[0], RATE)  # imports and the model, once
    for voices in (1, 2, 3):
        scores = {wave: [note_f_measure(ref, transcription.transcribe(audio, RATE))
                         for audio, ref in (line(seed, wave, voices=voices) for seed in SEEDS)]
                  for wave in WAVES}
        every = [f for fs in scores.values() for f in fs]
        print(f"{voices} voice{'s' if voices > 1 else ' '}: F-measure {np.mean(every):.3f} (worst {min(every):.3f}; "
              + ", ".join(f"{wave} {np.mean(fs):.3f}" for wave, fs in scores.items())
              + f") over {len(every)} lines of 8 s")
    audio, _ = line(99, "saw", seconds=60, voices=2)
    started = time.perf_counter()
    transcription.transcribe(audio, RATE)
    print(f"speed: {time.perf_counter() - started:.2f} s per minute of audio (two voices, one process)")


if __name__ == "__main__":
    main()
