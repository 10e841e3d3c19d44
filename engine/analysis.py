"""What a cue sounds like, measured: tempo, key, true peak, brightness and onset density.

Measured once per cue, where its audio is made (the worker) or by the library's background
pass for older cues, and kept in its row, so the library sorts and filters on them. librosa
(ISC) gives the onset envelope and the chroma; the tempo and key choices are ours (see
`_tempo` and `_key`), checked on synthetic audio with known answers (benchmarks/analysis.py).
"""

import contextlib
import fcntl
import math
import os
import tempfile
from dataclasses import dataclass

import numpy as np

from . import processes
from .errors import CueDeckError

RATE = 22050  # analysis rate: enough for onsets, pitch and brightness
HOP = 256
MIN_BPM, MAX_BPM = 60.0, 200.0
NOTES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
_SPELLINGS = {"DB": 1, "D#": 3, "GB": 6, "G#": 8, "A#": 10, "CB": 11, "E#": 5, "FB": 4, "B#": 0}
# Krumhansl–Kessler key profiles (probe-tone ratings), tonic first.
_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
KEYS = tuple(f"{note} {mode}" for mode in ("major", "minor") for note in NOTES)  # as the library writes them
DARK_HZ, BRIGHT_HZ = 1200.0, 3000.0  # spectral centroid below which a cue is dark, above which bright
TONES = ("dark", "neutral", "bright")


@dataclass(frozen=True)
class Measures:
    bpm: float | None  # None where no beat was found (most effects)
    bpm_confidence: float  # 0–1: how strongly the onsets repeat at that tempo
    key: str | None  # "A minor", None where no pitch was found
    key_confidence: float  # 0–1: the key profile's correlation with the cue's pitch classes
    true_peak_db: float | None  # dBTP, 4× oversampled (ITU-R BS.1770); None for silence
    centroid_hz: float  # spectral centroid: low is dark, high is bright
    onset_rate: float  # onsets per second

    @property
    def tone(self) -> str:
        return tone(self.centroid_hz)


def tone(centroid_hz: float) -> str:
    return "dark" if centroid_hz < DARK_HZ else "bright" if centroid_hz > BRIGHT_HZ else "neutral"


def measure(audio: np.ndarray, sample_rate: int) -> Measures:
    """The measures of `audio` [channels, samples]."""
    with kernel_cache_lock():
        return _measure(audio, sample_rate)


@contextlib.contextmanager
def kernel_cache_lock():
    """One process at a time in librosa. Its numba kernels are compiled on first use and cached
    beside its code (cache=True), and two processes filling that cache at once can pair one
    signature's index entry with another's machine code: every later call segfaults. The
    worker, its replicas and the library's measuring child can all start measuring together."""
    with open(os.path.join(tempfile.gettempdir(), f"cuedeck-numba-{os.getuid()}.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, or the process dies
        yield


def _measure(audio: np.ndarray, sample_rate: int) -> Measures:
    import librosa  # numba: only in the processes that measure
    from scipy.signal import resample_poly

    audio = np.asarray(audio, dtype=np.float32)
    if not np.isfinite(audio).all():  # nothing to measure (the library refuses such audio, saying why)
        return Measures(None, 0.0, None, 0.0, None, 0.0, 0.0)
    peak = float(np.abs(resample_poly(audio, 4, 1, axis=-1)).max()) if audio.size else 0.0
    true_peak = round(20 * math.log10(peak), 2) if peak > 0 else None
    mono = librosa.resample(audio.mean(axis=0), orig_sr=sample_rate, target_sr=RATE, res_type="soxr_hq")
    seconds = mono.size / RATE
    if mono.size < 2048 or not np.any(np.abs(mono) > 1e-4):
        return Measures(None, 0.0, None, 0.0, true_peak, 0.0, 0.0)
    power = np.abs(librosa.stft(mono, n_fft=2048, hop_length=HOP)) ** 2
    freqs = librosa.fft_frequencies(sr=RATE, n_fft=2048)
    centroid = float((freqs[:, None] * power).sum() / power.sum())
    mel = librosa.power_to_db(librosa.feature.melspectrogram(S=power, sr=RATE))
    envelope = librosa.onset.onset_strength(S=mel, sr=RATE, hop_length=HOP)
    onsets = librosa.onset.onset_detect(onset_envelope=envelope, sr=RATE, hop_length=HOP)
    low = librosa.mel_frequencies(n_mels=mel.shape[0], fmax=RATE / 2) < 2000  # the beat: kick, snare, bass
    bpm, bpm_confidence = _tempo(librosa.onset.onset_strength(S=mel[low], sr=RATE, hop_length=HOP))
    chroma = librosa.feature.chroma_stft(y=mono, sr=RATE, n_fft=8192, hop_length=2048, tuning=0.0)
    key, key_confidence = _key(chroma)
    return Measures(bpm, bpm_confidence, key, key_confidence, true_peak, round(centroid),
                    round(len(onsets) / seconds, 2))


def warm_up() -> None:
    """Load what measuring needs (librosa, scipy, numba's cached kernels: about 3 s here)
    before the first cue does: the worker calls it while the user still types."""
    measure(0.1 * np.random.default_rng(0).standard_normal((1, RATE)).astype(np.float32), RATE)


def measure_files(paths: list) -> list[Measures | None]:
    """Each audio file's measures, or None for one that cannot be read."""
    import soundfile

    found = []
    for path in paths:
        try:
            audio, rate = soundfile.read(path, dtype="float32", always_2d=True)
        except (OSError, RuntimeError, soundfile.LibsndfileError):
            found.append(None)
            continue
        found.append(measure(audio.T, rate))
    return found


def measure_files_apart(paths: list, started=lambda child: None) -> list[Measures | None]:
    """measure_files in a child process: the desktop's way, so the window's process never
    loads librosa and numba, and the measuring runs on another core. `started(child)` gets
    the process, to stop it (then nothing is measured: [])."""
    import json
    import subprocess

    with subprocess.Popen(processes.command("engine.analysis", *map(str, paths)), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True) as child:
        started(child)
        out, err = child.communicate()
    if child.returncode < 0:  # stopped
        return []
    if child.returncode != 0:
        raise CueDeckError(f"measuring cues failed: {(err.strip().splitlines() or ['no output'])[-1]}")
    return [Measures(**item) if item else None for item in map(json.loads, out.splitlines())]


def _tempo(envelope: np.ndarray) -> tuple[float | None, float]:
    """(BPM, confidence) from the onset envelope's autocorrelation A: the beat period L that
    scores best on A(L) + A(2L)/2 + A(4L)/4 under a wide prior around 120 BPM, refined on its
    farthest repeat (±0.5 BPM). Then the metrical level: the beat is the fastest pulse whose
    every other hit is not much weaker (eighth-note hats between kicks and snares are off-beats;
    a kick and a snare that alternate are both beats)."""
    from scipy.ndimage import gaussian_filter1d, maximum_filter1d

    fps = RATE / HOP
    n = envelope.size
    e = gaussian_filter1d(envelope, 1.5)  # a beat's period is rarely a whole number of frames
    e = e - e.mean()
    acf = np.fft.irfft(np.abs(np.fft.rfft(e, 2 * n)) ** 2)[:n]
    if acf[0] <= 0:
        return None, 0.0
    acf /= acf[0]
    near = maximum_filter1d(acf, 3)
    lags = np.arange(int(fps * 60 / MAX_BPM), int(fps * 60 / MIN_BPM) + 1)
    lags = lags[4 * lags < n]
    if lags.size == 0:
        return None, 0.0
    prior = np.exp(-0.5 * np.log2(60 * fps / lags / 120) ** 2)
    best = int(lags[np.argmax((near[lags] + near[2 * lags] / 2 + near[4 * lags] / 4) * prior)])
    confidence = float(np.clip(near[best], 0.0, 1.0))
    if confidence < 0.1:
        return None, round(confidence, 2)
    period = float(best)
    for repeat in (1, 2, 4, 8):  # the k-th repeat's peak, near k × period, pins the period k times finer
        centre = int(round(repeat * period))
        if centre + 3 >= n:
            break
        peak = centre - 2 + int(np.argmax(acf[centre - 2:centre + 3]))
        a, b, c = acf[peak - 1], acf[peak], acf[peak + 1]
        offset = float(np.clip(0.5 * (a - c) / (a - 2 * b + c), -0.5, 0.5)) if a - 2 * b + c < 0 else 0.0
        period = (peak + offset) / repeat
    pulses = gaussian_filter1d(envelope, 1.0)
    if 60 * fps / period * 2 <= MAX_BPM and _evenness(pulses, period / 2) >= EVEN:
        period /= 2
    elif 60 * fps / period / 2 >= MIN_BPM and _evenness(pulses, period) < EVEN:
        period *= 2
    return round(60 * fps / period, 1), round(confidence, 2)


EVEN = 0.45  # the synthetic beats' beats are ≥ 0.52 even, their eighths ≤ 0.35


def _evenness(pulses: np.ndarray, period: float) -> float:
    """How alike the odd and even hits of a pulse train of `period` frames are (0–1), at the
    phase where the hits are strongest: near 1 when both are beats, low when one is off-beats."""
    count = int((pulses.size - 3) / period)
    if count < 4:
        return 1.0
    grid = period * np.arange(count)
    phase = max(np.arange(0.0, period), key=lambda ph: pulses[np.round(ph + grid).astype(int)].sum())
    hits = np.array([pulses[max(i - 2, 0):i + 3].max() for i in np.round(phase + grid).astype(int)])
    even, odd = hits[0::2].mean(), hits[1::2].mean()
    return float(min(even, odd) / max(even, odd)) if max(even, odd) > 0 else 1.0


def _key(chroma: np.ndarray) -> tuple[str | None, float]:
    """(key, confidence): the Krumhansl–Kessler profile that best correlates with the cue's
    pitch-class energy."""
    energy = chroma.sum(axis=1)
    if not np.isfinite(energy).all() or energy.std() < 1e-6:
        return None, 0.0
    best, correlation = None, -1.0
    for mode, profile in (("major", _MAJOR), ("minor", _MINOR)):
        for tonic in range(12):
            r = float(np.corrcoef(energy, np.roll(profile, tonic))[0, 1])
            if r > correlation:
                best, correlation = f"{NOTES[tonic]} {mode}", r
    return best, round(max(correlation, 0.0), 2)


# -- reading what people type: "120", "110-130", "A minor", "Am", "F# major", "F#" ----------

def parse_bpm_range(text: str) -> tuple[float, float]:
    """"120" (±2) or "110-130" as (low, high) BPM."""
    parts = [part.strip() for part in text.strip().lower().removesuffix("bpm").split("-")]
    try:
        values = [float(part) for part in parts]
    except ValueError:
        values = []
    if len(values) not in (1, 2) or not all(0 < v < 1000 for v in values):
        raise ValueError(f"{text!r} is not a tempo: give a BPM such as 120 or a range such as 110-130")
    if len(values) == 1:
        return values[0] - 2, values[0] + 2
    return min(values), max(values)


def parse_key(text: str) -> str:
    """A key as the library writes it ("A minor"), from "A minor", "Am", "a min", "F#", "Bb major"."""
    words = text.strip().replace("♯", "#").replace("♭", "b").split()
    name, mode = (words[0], " ".join(words[1:]).lower()) if words else ("", "")
    if len(name) > 1 and name.endswith("m") and not mode:  # "Am", "F#m"
        name, mode = name[:-1], "minor"
    name = name[:1].upper() + name[1:].lower()
    tonic = NOTES.index(name) if name in NOTES else _SPELLINGS.get(name.upper())
    mode = {"": "major", "maj": "major", "major": "major", "min": "minor", "minor": "minor"}.get(mode)
    if tonic is None or mode is None:
        raise ValueError(f"{text!r} is not a key: give one such as \"A minor\", Am, \"F# major\" or Bb")
    return f"{NOTES[tonic]} {mode}"


def key_distance(found: str | None, wanted: str) -> int:
    """0 the same key, 1 its relative or a fifth away in the same mode, 2 its parallel, 3 else."""
    if found is None:
        return 3
    (a, mode_a), (b, mode_b) = _tonic_mode(found), _tonic_mode(wanted)
    if (a, mode_a) == (b, mode_b):
        return 0
    if mode_a != mode_b:
        relative = (a - b) % 12 == (9 if mode_b == "major" else 3)
        return 1 if relative else 2 if a == b else 3
    return 1 if (a - b) % 12 in (5, 7) else 3


def tempo_distance(found: float | None, wanted: float) -> float:
    """How far a measured tempo is from the wanted one, as a fraction of it; a tempo half or
    double the wanted one (it plays in time, at half or double time) counts 0.1 more."""
    if found is None:
        return math.inf
    return min(abs(found * m - wanted) / wanted + (0.1 if m != 1 else 0.0) for m in (1, 0.5, 2))


def closeness(measures: Measures | None, bpm: float | None, key: str | None) -> tuple[int, float]:
    """How far a cue came from a wanted tempo and key, to rank candidates by: the key first,
    then the tempo (lower is closer)."""
    return (key_distance(measures.key if measures else None, key) if key else 0,
            tempo_distance(measures.bpm if measures else None, bpm) if bpm else 0.0)


def wanted(bpm: float | None, key: str | None) -> str:
    """"120 BPM, A minor": what a request ranked its candidates by ('' for nothing)."""
    return ", ".join(part for part in (f"{bpm:g} BPM" if bpm else "", key or "") if part)


def summary(measures: Measures | None) -> str:
    """"120.4 BPM · A minor · bright · -1.2 dBTP", for lists and cards."""
    if measures is None:
        return "not measured yet"
    parts = [f"{measures.bpm:g} BPM" if measures.bpm else "no beat", measures.key or "no key", measures.tone]
    if measures.true_peak_db is not None:
        parts.append(f"{measures.true_peak_db:+.1f} dBTP")
    return " · ".join(parts)


def _tonic_mode(key: str) -> tuple[int, str]:
    name, mode = key.split()
    return NOTES.index(name), mode


if __name__ == "__main__":  # measure_files_apart's child: one JSON line per file given
    import json
    import sys
    from dataclasses import asdict

    for measures in measure_files(sys.argv[1:]):
        print(json.dumps(asdict(measures) if measures else None), flush=True)
