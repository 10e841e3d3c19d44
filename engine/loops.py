"""Seamless loops: cut from generated material so the end flows into the start, measured at
the seam, and tagged for samplers and DAWs (`smpl` loop points, `acid` tempo and beats).

The engine generates the loop's length plus an overhang. The loop starts at the point of the
first beat (or second, without a tempo) where what follows the loop's end sounds most like
its start; the overhang after the end is crossfaded (equal power) into the head. Playing the
file in a loop then runs from its last sample into what the model generated next, so the
wrap is as smooth as any moment inside it.
"""

import struct
from dataclasses import dataclass

import numpy as np

from . import analysis
from .audio_io import riff_chunk

CROSSFADE = 0.1  # seconds of the overhang faded into the head
SEARCH_WITHOUT_TEMPO = 1.0  # seconds in which to look for the start when there is no beat


def length_seconds(bpm: float, bars: int, beats_per_bar: int) -> float:
    return bars * beats_per_bar * 60.0 / bpm


def overhang_seconds(bpm: float | None) -> float:
    """What to generate past the loop's end: room to pick the start, and the crossfade."""
    return (60.0 / bpm if bpm else SEARCH_WITHOUT_TEMPO) + CROSSFADE


def make_loop(audio: np.ndarray, rate: int, frames: int, bpm: float | None) -> np.ndarray:
    """A loop of exactly `frames` frames from `audio` [channels, samples] (the loop's length
    plus overhang_seconds(bpm))."""
    fade = int(CROSSFADE * rate)
    search = min(audio.shape[1] - frames - fade, int(60.0 / bpm * rate) if bpm else int(SEARCH_WITHOUT_TEMPO * rate))
    if search < 1:
        raise ValueError(f"{audio.shape[1]} frames are too few for a loop of {frames} (generate the overhang)")
    start = _best_start(audio, frames, fade, search, step=max(1, rate // 1000))
    loop = audio[:, start:start + frames].copy()
    t = np.linspace(0.0, np.pi / 2, fade, endpoint=False)
    tail = audio[:, start + frames:start + frames + fade]  # what the model played after the loop's end
    loop[:, :fade] = loop[:, :fade] * np.sin(t) + tail * np.cos(t)
    return loop


def _best_start(audio: np.ndarray, frames: int, fade: int, search: int, step: int) -> int:
    """The start (within `search`) where the head and what follows the end correlate best."""
    starts = np.arange(0, search, step)
    head = np.lib.stride_tricks.sliding_window_view(audio[:, :search + fade], fade, axis=1)[:, starts]
    after = np.lib.stride_tricks.sliding_window_view(audio[:, frames:frames + search + fade], fade, axis=1)[:, starts]
    dot = (head * after).sum(axis=(0, 2))
    norm = np.sqrt((head ** 2).sum(axis=(0, 2)) * (after ** 2).sum(axis=(0, 2))) + 1e-12
    return int(starts[np.argmax(dot / norm)])


@dataclass(frozen=True)
class Seam:
    """The wrap from a loop's last frame to its first, against the same measures inside it."""
    step: float  # the sample step across the wrap (largest of the channels)
    typical_step: float  # what 99.9 % of the steps inside the loop stay under
    change: float  # short-window spectral change across the wrap
    typical_change: float  # what 99 % of the same changes inside the loop stay under

    @property
    def seamless(self) -> bool:
        return self.step <= self.typical_step and self.change <= self.typical_change


def seam(audio: np.ndarray, rate: int, window: float = 0.02) -> Seam:
    """How the wrap of `audio` [channels, samples] compares with the file's own joins."""
    steps = np.abs(np.diff(audio, axis=1)).max(axis=0)
    wrap_step = float(np.abs(audio[:, 0] - audio[:, -1]).max())
    size = max(64, int(window * rate))
    hops = np.arange(size, audio.shape[1] - size, size)
    inside = [_change(audio[:, h - size:h], audio[:, h:h + size]) for h in hops]
    return Seam(wrap_step, float(np.percentile(steps, 99.9)), _change(audio[:, -size:], audio[:, :size]),
                float(np.percentile(inside, 99)))


def _change(before: np.ndarray, after: np.ndarray) -> float:
    """Spectral change from one short window to the next: the distance of their log spectra."""
    taper = np.hanning(before.shape[1])
    a = np.log1p(np.abs(np.fft.rfft(before * taper, axis=1)) * 10).mean(axis=0)
    b = np.log1p(np.abs(np.fft.rfft(after * taper, axis=1)) * 10).mean(axis=0)
    return float(np.sqrt(np.mean((a - b) ** 2)))


# -- what samplers and DAWs read --------------------------------------------------------------

def chunks(frames: int, rate: int, bpm: float | None, bars: int | None, beats_per_bar: int | None,
           key: str | None) -> bytes:
    """A loop file's `smpl` chunk, and its `acid` chunk when it has bars at a tempo; the
    measured key's tonic is the root note (C4 when there is none)."""
    root = 60 + analysis.NOTES.index(key.split()[0]) if key else None
    out = smpl_chunk(frames, rate, root or 60)
    if bpm and bars and beats_per_bar:
        out += acid_chunk(bars * beats_per_bar, beats_per_bar, bpm, root)
    return out


def smpl_chunk(frames: int, rate: int, root_note: int = 60) -> bytes:
    """A sampler chunk: one forward loop over the whole file, played forever."""
    header = struct.pack("<9I", 0, 0, round(1e9 / rate), root_note, 0, 0, 0, 1, 0)
    loop = struct.pack("<6I", 0, 0, 0, frames - 1, 0, 0)  # id, forward, first and last frame, fraction, forever
    return riff_chunk(b"smpl", header + loop)


def acid_chunk(beats: int, beats_per_bar: int, bpm: float, root_note: int | None = None) -> bytes:
    """An ACID chunk: a loop (not a one-shot) of `beats` beats at `bpm` that stretches to the
    session's tempo, with its root note when the key is known."""
    flags = 0x04 | (0x02 if root_note is not None else 0)  # stretch, root note set
    return riff_chunk(b"acid", struct.pack("<IHHfIHHf", flags, root_note if root_note is not None else 60, 0x8000,
                                           0.0, beats, 4, beats_per_bar, bpm))
