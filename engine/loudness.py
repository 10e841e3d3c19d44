"""Loudness-matched audition: a playback gain that brings each cue to the same integrated
loudness (ITU-R BS.1770, via pyloudnorm). The file itself is never changed."""

import math

import numpy as np
import pyloudnorm

AUDITION_TARGET_LUFS = -20.0
MAX_BOOST_DB = 24.0
PEAK_CEILING = 0.98  # never boost a cue into clipping


def integrated_lufs(audio: np.ndarray, sample_rate: int) -> float:
    """Integrated loudness of `audio` [frames, channels]; -inf for silence."""
    block = 0.4  # BS.1770 gating block; shorter cues are measured over their whole length
    if audio.shape[0] < block * sample_rate:
        audio = np.concatenate([audio, np.zeros((int(block * sample_rate) - audio.shape[0] + 1,
                                                 audio.shape[1]), audio.dtype)])
    with np.errstate(divide="ignore"):
        return float(pyloudnorm.Meter(sample_rate, block_size=block).integrated_loudness(audio))


def audition_gain(audio: np.ndarray, sample_rate: int, target: float = AUDITION_TARGET_LUFS) -> float:
    """Linear gain for playback: toward `target` LUFS, at most +24 dB, never past the ceiling."""
    peak = float(np.abs(audio).max()) if audio.size else 0.0
    loudness = integrated_lufs(audio, sample_rate)
    if peak == 0.0 or not math.isfinite(loudness):
        return 1.0
    gain = 10 ** (min(target - loudness, MAX_BOOST_DB) / 20)
    return min(gain, PEAK_CEILING / peak)
