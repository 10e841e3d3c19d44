"""Audio with known answers, made with numpy: beats at a tempo, chords and scales in a key,
lines of notes. For the analysis and transcription tests and their benchmarks."""

import numpy as np

RATE = 32000
MAJOR_STEPS = (0, 2, 4, 5, 7, 9, 11, 12)
MINOR_STEPS = (0, 2, 3, 5, 7, 8, 11, 12)  # harmonic minor: its leading tone names the key


def _hit(seconds: float, rng, kind: str) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    if kind == "kick":
        return np.sin(2 * np.pi * (50 * t + 60 * (1 - np.exp(-t * 30)) / 30)) * np.exp(-t * 12)
    if kind == "snare":
        return (rng.standard_normal(t.size) * 0.6 + np.sin(2 * np.pi * 190 * t)) * np.exp(-t * 25)
    if kind == "hat":
        noise = rng.standard_normal(t.size)
        return np.diff(noise, prepend=0.0) * 0.25 * np.exp(-t * 80)
    return np.sin(2 * np.pi * 1500 * t) * np.exp(-t * 60)  # click


def beats(bpm: float, seconds: float = 8.0, pattern: str = "drums", seed: int = 0) -> np.ndarray:
    """Mono audio [1, samples]: a drum pattern (kick on 1 and 3, snare on 2 and 4, hats on
    the eighths) or a click on every beat with the bar's first accented."""
    rng = np.random.default_rng(seed)
    out = np.zeros(int(seconds * RATE) + RATE)
    beat = 60.0 / bpm
    hits = []
    for index in range(int(seconds / beat) + 1):
        at = index * beat
        if pattern == "clicks":
            hits.append((at, "click", 1.0 if index % 4 == 0 else 0.5))
        else:
            hits.append((at, "kick" if index % 2 == 0 else "snare", 1.0))
            hits.append((at, "hat", 0.6))
            hits.append((at + beat / 2, "hat", 0.4))
    for at, kind, gain in hits:
        sound = gain * _hit(0.25, rng, kind)
        start = int(at * RATE)
        out[start:start + sound.size] += sound
    return (0.5 * out[:int(seconds * RATE)] / np.abs(out).max())[None].astype(np.float32)


def _tone(midi: float, seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    f = 440.0 * 2 ** ((midi - 69) / 12)
    wave = sum(np.sin(2 * np.pi * f * k * t) / k for k in range(1, 5) if f * k < RATE / 2)
    envelope = np.minimum(1.0, t / 0.01) * np.exp(-t * 1.5)
    return wave * envelope


def in_key(tonic: int, mode: str, kind: str = "chords") -> np.ndarray:
    """Mono audio [1, samples] in the key of `tonic` (0 = C) and `mode`: a I–IV–V–I chord
    progression (i–iv–V–i in minor), or the scale up from the tonic to its octave."""
    steps = MAJOR_STEPS if mode == "major" else MINOR_STEPS
    root = 48 + tonic
    if kind == "scale":
        parts = [_tone(root + 12 + step, 0.5) for step in steps] + [_tone(root + 12, 1.0)]
    else:
        def triad(degree):
            return [root + 12 + steps[(degree + k) % 7] + 12 * ((degree + k) // 7) for k in (0, 2, 4)]
        parts = []
        for degree in (0, 3, 4, 0):
            notes = triad(degree) + [root + steps[degree]]  # the bass doubles the chord's root
            parts.append(sum(_tone(n, 1.5) for n in notes))
    out = np.concatenate(parts)
    return (0.5 * out / np.abs(out).max())[None].astype(np.float32)


# -- melodies with known notes, for transcription (tests/engine/test_transcription.py) --------

WAVES = ("sine", "triangle", "saw")


def _voice(midi: int, seconds: float, wave: str) -> np.ndarray:
    """A band-limited tone (additive partials below Nyquist) with a short attack and release."""
    t = np.arange(int(seconds * RATE)) / RATE
    f = 440.0 * 2 ** ((midi - 69) / 12)
    partials = {"sine": [(1, 1.0)],
                "triangle": [(k, (-1) ** ((k - 1) // 2) / k ** 2) for k in range(1, 16, 2)],
                "saw": [(k, 1 / k) for k in range(1, 16)]}[wave]
    tone = sum(a * np.sin(2 * np.pi * f * k * t) for k, a in partials if f * k < RATE / 2)
    return tone * np.minimum(1.0, t / 0.005) * np.minimum(1.0, (seconds - t) / 0.02)


def line(seed: int, wave: str, seconds: float = 8.0, voices: int = 1) -> tuple[np.ndarray, list]:
    """Mono audio [1, samples] of `voices` random note lines (MIDI 45–81, 0.15–0.6 s notes with
    gaps; voices at least 3 semitones apart at any time), and its notes (midi, start, end)."""
    rng = np.random.default_rng(seed)
    out = np.zeros(int((seconds + 1) * RATE))
    notes: list[tuple[int, float, float]] = []
    for _ in range(voices):
        at = float(rng.uniform(0, 0.2))
        while at < seconds:
            length = float(rng.uniform(0.15, 0.6))
            busy = {n[0] for n in notes if n[1] < at + length and at < n[2]}
            choices = [m for m in range(45, 82) if all(abs(m - b) >= 3 and (m - b) % 12 for b in busy)]
            midi = int(rng.choice(choices))
            start = int(at * RATE)
            tone = _voice(midi, length, wave)
            out[start:start + tone.size] += tone
            notes.append((midi, at, at + length))
            at += length + float(rng.uniform(0.05, 0.3))
    return (0.5 * out / np.abs(out).max())[None].astype(np.float32), sorted(notes, key=lambda n: n[1])


def note_f_measure(reference: list, notes: list) -> float:
    """mir_eval's note F-measure of transcribed `notes` (engine.transcription.Note) against
    `reference` (midi, start, end): onset within 50 ms, pitch exact, offsets ignored."""
    import mir_eval

    def hz(midi):
        return 440.0 * 2 ** ((np.asarray(midi, dtype=float) - 69) / 12)
    return mir_eval.transcription.precision_recall_f1_overlap(
        np.array([[s, e] for _, s, e in reference]), hz([m for m, _, _ in reference]),
        np.array([[n.start, n.end] for n in notes]).reshape(-1, 2), hz([n.pitch for n in notes]),
        onset_tolerance=0.05, pitch_tolerance=49.0, offset_ratio=None)[2]
