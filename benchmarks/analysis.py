"""The measures (engine.analysis) on synthetic audio with known answers: drum patterns and
clicks at 70–180 BPM, chord progressions and scales in all 24 keys. Prints the hit rates
(issue 14's targets: tempo ≥ 95 % within ±2 BPM, key ≥ 90 % exact), the near misses counted
apart (tempo: half or double; key: relative, a fifth away, parallel), and the time per cue.
Beside them, the same set through librosa's own tempo estimate and, where it is installed,
essentia's RhythmExtractor2013 and KeyExtractor (AGPL, so CueDeck does not ship it; run this
script with a Python that has it to compare). Last, the seams of loops (engine.loops) cut from
the same beats and from noise: the wrap's sample step and spectral change against the typical
ones inside each loop (seamless: both at most 1.0).

    .venv/bin/python benchmarks/analysis.py
"""

import importlib.util
import sys
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE.parent / "tests")]

import numpy as np  # noqa: E402

from engine import analysis, loops  # noqa: E402
from synthetic_music import RATE, beats, in_key  # noqa: E402

TEMPI = [round(70 + 110 * k / 55, 1) for k in range(56)]  # 70 … 180 BPM, in steps of 2


def tempo_verdict(found: float | None, bpm: float) -> str:
    if found is None:
        return "none"
    if abs(found - bpm) <= 2:
        return "hit"
    if min(abs(found - bpm * m) for m in (0.5, 2)) <= 2:
        return "half or double"
    return "miss"


def key_verdict(found: str | None, tonic: int, mode: str) -> str:
    wanted = f"{analysis.NOTES[tonic]} {mode}"
    return {0: "hit", 1: "relative or fifth", 2: "parallel", 3: "miss"}[analysis.key_distance(found, wanted)]


def librosa_tempo(audio: np.ndarray) -> tuple[float, None]:
    import librosa

    return float(librosa.feature.tempo(y=audio[0], sr=RATE)[0]), None


def essentia_measures(audio: np.ndarray) -> tuple[float, str]:
    import essentia.standard as es

    signal = es.Resample(inputSampleRate=RATE, outputSampleRate=44100)(audio[0])
    bpm = es.RhythmExtractor2013(method="multifeature")(signal)[0]
    tonic, scale, _ = es.KeyExtractor()(signal)
    return float(bpm), f"{analysis.NOTES[analysis.NOTES.index(analysis.parse_key(tonic).split()[0])]} {scale}"


def hit_rates(estimate) -> tuple[Counter, Counter, list[str], list[float]]:
    """Tempo and key verdicts of `estimate(audio) -> (bpm, key)` over the synthetic set."""
    seconds, tempo, key, misses = [], Counter(), Counter(), []
    for pattern in ("drums", "clicks"):
        for bpm in TEMPI:
            start = time.perf_counter()
            found = estimate(beats(bpm, pattern=pattern, seed=int(bpm * 10)))[0]
            seconds.append(time.perf_counter() - start)
            verdict = tempo_verdict(found, bpm)
            tempo[verdict] += 1
            if verdict != "hit":
                misses.append(f"{pattern} {bpm}: {found}")
    for kind in ("chords", "scale"):
        for mode in ("major", "minor"):
            for tonic in range(12):
                found = estimate(in_key(tonic, mode, kind))[1]
                if found is None:
                    continue
                verdict = key_verdict(found, tonic, mode)
                key[verdict] += 1
                if verdict != "hit":
                    misses.append(f"{kind} {analysis.NOTES[tonic]} {mode}: {found}")
    return tempo, key, misses, seconds


def report(name: str, tempo: Counter, key: Counter, seconds: list[float]) -> None:
    total = sum(tempo.values())
    print(f"{name}: tempo {tempo['hit']}/{total} within ±2 BPM ({100 * tempo['hit'] / total:.1f} %), half or "
          f"double {tempo['half or double']}, none {tempo['none']}, other {tempo['miss']}")
    if key:
        total = sum(key.values())
        print(f"{name}: key {key['hit']}/{total} exact ({100 * key['hit'] / total:.1f} %), relative or fifth "
              f"{key['relative or fifth']}, parallel {key['parallel']}, other {key['miss']}")
    print(f"{name}: {1000 * float(np.median(seconds)):.0f} ms per 8 s cue (median)")


def main() -> None:
    analysis.measure(beats(120, 2.0), RATE)  # librosa's first call compiles

    def ours(audio):
        measures = analysis.measure(audio, RATE)
        return measures.bpm, measures.key

    tempo, key, misses, seconds = hit_rates(ours)
    report("CueDeck (engine.analysis)", tempo, key, seconds)
    for miss in misses:
        print("  missed:", miss)
    tempo, key, _, seconds = hit_rates(librosa_tempo)
    report("librosa.feature.tempo", tempo, key, seconds)
    seams = []
    for bpm in TEMPI[::4]:
        frames = round(loops.length_seconds(bpm, 2, 4) * RATE)
        material = beats(bpm, frames / RATE + loops.overhang_seconds(bpm), seed=int(bpm))
        seams.append(loops.seam(loops.make_loop(material, RATE, frames, bpm), RATE))
    for seed in range(10):
        noise = np.random.default_rng(seed).standard_normal((2, 5 * RATE)).astype(np.float32) * 0.1
        seams.append(loops.seam(loops.make_loop(noise, RATE, 3 * RATE, None), RATE))
    print(f"loops: {sum(s.seamless for s in seams)}/{len(seams)} seamless (2 bars of beats at {len(TEMPI[::4])} "
          f"tempi, 3 s of noise ×10); worst wrap step {max(s.step / s.typical_step for s in seams):.2f}× typical, "
          f"worst spectral change {max(s.change / s.typical_change for s in seams):.2f}× typical")
    if importlib.util.find_spec("essentia"):
        tempo, key, misses, seconds = hit_rates(essentia_measures)
        report("essentia", tempo, key, seconds)
        for miss in misses:
            print("  missed:", miss)


if __name__ == "__main__":
    main()
