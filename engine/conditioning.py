"""Audio a generation starts from (a cue to continue, a melody): read, checked and hashed
before the model sees it, so a bad file gives one clear line instead of a model error."""

import hashlib
from pathlib import Path

import numpy as np

from .errors import BadInput

MAX_SECONDS = 600.0            # longer audio is refused rather than read into memory
MAX_FILE_BYTES = 1_000_000_000
SILENCE = 1e-4                 # peak below this (−80 dBFS) counts as silence


def load(path: Path, last_seconds: float | None = None, what: str = "the prompt audio"):
    """(samples [channels, frames] float32, sample rate, sha256 of those samples) of the
    file at `path`, or only its last `last_seconds`. WAV, FLAC, OGG and MP3, any rate and
    channel count."""
    import soundfile

    path = Path(path)
    if not path.is_file():
        raise BadInput(f"{what} {path} does not exist (moved or deleted?)")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise BadInput(f"{what} {path.name} is {path.stat().st_size / 1e9:.1f} GB; use a file under 1 GB")
    try:
        info = soundfile.info(str(path))
    except Exception:
        raise BadInput(f"{what} {path.name} is not audio CueDeck can read (WAV, FLAC, OGG or MP3)") from None
    if info.frames <= 0 or info.samplerate <= 0:
        raise BadInput(f"{what} {path.name} is empty")
    if info.frames / info.samplerate > MAX_SECONDS:
        raise BadInput(f"{what} {path.name} is {info.frames / info.samplerate / 60:.0f} minutes long; "
                       f"use at most {MAX_SECONDS / 60:.0f} minutes")
    start = 0 if last_seconds is None else max(0, info.frames - round(last_seconds * info.samplerate))
    try:
        audio, rate = soundfile.read(str(path), start=start, dtype="float32", always_2d=True)
    except Exception as e:
        raise BadInput(f"{what} {path.name} could not be read ({e})") from None
    if not np.isfinite(audio).all():
        raise BadInput(f"{what} {path.name} holds invalid samples (NaN or infinity)")
    if audio.size == 0 or float(np.abs(audio).max()) < SILENCE:
        raise BadInput(f"{what} {path.name} is silent; pick audio with sound in it")
    samples = np.ascontiguousarray(audio.T)
    return samples, rate, hashlib.sha256(samples.tobytes()).hexdigest()
