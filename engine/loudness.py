"""Loudness: measured once when a cue is written (ITU-R BS.1770, in the worker), then used
for loudness-matched audition without touching the file; and of every exported file.

BS.1770's K-weighting filters are pyloudnorm's, run here as one cascade by scipy's sosfilt
(which lets other threads run: an export measures its files side by side), and the gated
blocks are summed with one cumulative sum instead of a Python loop per block: the same
blocks and gates as pyloudnorm's `integrated_loudness` (the tests hold the two within
0.01 LU)."""

import math

import numpy as np

AUDITION_TARGET_LUFS = -20.0
MAX_BOOST_DB = 24.0
PEAK_CEILING = 0.98  # never boost a cue into clipping


BLOCK = 0.4  # seconds of a BS.1770 gating block; shorter audio is padded with silence to one
STEP = 0.25  # of a block: blocks overlap by 75 %
ABSOLUTE_GATE = -70.0  # LUFS
RELATIVE_GATE = -10.0  # LU below the loudness of the blocks above the absolute gate


def measure(audio: np.ndarray, sample_rate: int) -> tuple[float | None, float]:
    """(integrated loudness in LUFS or None for silence, sample peak) of `audio` [frames, channels]."""
    from pyloudnorm import IIRfilter  # scipy: only where audio is measured
    from scipy.signal import sosfilt

    if audio.shape[0] < BLOCK * sample_rate:
        pad = np.zeros((int(BLOCK * sample_rate) - audio.shape[0] + 1, audio.shape[1]), audio.dtype)
        audio = np.concatenate([audio, pad])
    peak = float(np.abs(audio).max()) if audio.size else 0.0
    k_weighting = [IIRfilter(4.0, 1 / np.sqrt(2), 1500.0, sample_rate, "high_shelf"),
                   IIRfilter(0.0, 0.5, 38.0, sample_rate, "high_pass")]
    sections = np.array([np.concatenate([f.b * f.passband_gain, f.a]) for f in k_weighting])
    weighted = sosfilt(sections, np.asarray(audio, np.float64), axis=0)
    frames = weighted.shape[0]
    blocks = int(np.round((frames / sample_rate - BLOCK) / (BLOCK * STEP))) + 1
    starts = (BLOCK * (np.arange(blocks) * STEP) * sample_rate).astype(int)
    ends = np.minimum((BLOCK * (np.arange(blocks) * STEP + 1) * sample_rate).astype(int), frames)
    energy = np.concatenate([np.zeros((1, weighted.shape[1])), np.cumsum(weighted ** 2, axis=0)])
    z = (energy[ends] - energy[starts]) / (BLOCK * sample_rate)  # [blocks, channels] mean squares
    power = z.sum(axis=1)  # mono, left and right weigh 1
    with np.errstate(divide="ignore"):
        block_lufs = -0.691 + 10 * np.log10(power)
        above = block_lufs >= ABSOLUTE_GATE
        if not above.any():
            return None, peak
        relative = -0.691 + 10 * np.log10(power[above].mean()) + RELATIVE_GATE
        gated = (block_lufs > relative) & (block_lufs > ABSOLUTE_GATE)
        lufs = -0.691 + 10 * np.log10(power[gated].mean()) if gated.any() else -math.inf
    return (float(lufs) if math.isfinite(lufs) else None), peak


def audition_gain(lufs: float | None, peak: float, target: float = AUDITION_TARGET_LUFS) -> float:
    """Linear playback gain toward `target` LUFS: at most +24 dB, never past the ceiling."""
    if lufs is None or peak <= 0.0:
        return 1.0
    gain = 10 ** (min(target - lufs, MAX_BOOST_DB) / 20)
    return min(gain, PEAK_CEILING / peak)
