"""Loudness: measured once when a cue is written (ITU-R BS.1770 via pyloudnorm, in the
worker), then used for loudness-matched audition without touching the file."""

import math

import numpy as np

AUDITION_TARGET_LUFS = -20.0
MAX_BOOST_DB = 24.0
PEAK_CEILING = 0.98  # never boost a cue into clipping


def measure(audio: np.ndarray, sample_rate: int) -> tuple[float | None, float]:
    """(integrated loudness in LUFS or None for silence, sample peak) of `audio` [frames, channels]."""
    import pyloudnorm  # scipy: only where cues are written

    block = 0.4  # BS.1770 gating block; shorter cues are padded with silence to one block
    if audio.shape[0] < block * sample_rate:
        pad = np.zeros((int(block * sample_rate) - audio.shape[0] + 1, audio.shape[1]), audio.dtype)
        audio = np.concatenate([audio, pad])
    with np.errstate(divide="ignore"):
        lufs = float(pyloudnorm.Meter(sample_rate, block_size=block).integrated_loudness(audio))
    peak = float(np.abs(audio).max()) if audio.size else 0.0
    return (lufs if math.isfinite(lufs) else None), peak


def audition_gain(lufs: float | None, peak: float, target: float = AUDITION_TARGET_LUFS) -> float:
    """Linear playback gain toward `target` LUFS: at most +24 dB, never past the ceiling."""
    if lufs is None or peak <= 0.0:
        return 1.0
    gain = 10 ** (min(target - lufs, MAX_BOOST_DB) / 20)
    return min(gain, PEAK_CEILING / peak)
