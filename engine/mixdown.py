"""Mixdown: a timeline rendered to one stem per audible track and their sum, at any rate.

numpy, soundfile and soxr only (no torch), so the UI process can render for playback too,
on a background thread.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import cue_audio
from .errors import BadInput
from .cue import Cue
from .timeline import Clip, Timeline

TOLERANCE_S = 0.002  # rounding of in/out points to samples
MIX_PIECE = 1 << 15  # frames of the mix summed at once (256 KB of stereo float32)


@dataclass
class Mixdown:
    rate: int
    tracks: list[int]          # timeline track index of each stem
    stems: list[np.ndarray]    # [frames, channels] float32, all the same length
    mix: np.ndarray


def check(timeline: Timeline, cues: dict[int, Cue]) -> None:
    """Refuse, naming the cue, what cannot be rendered: no clips, a cue gone from the
    library or from disk, a clip reaching past the end of its cue."""
    if not any(t.clips for t in timeline.tracks):
        raise BadInput(f"timeline {timeline.name!r} has no clips; add cues to it first "
                       "(drag them in, or `cuedeck timeline add`)")
    for t in timeline.tracks:
        for clip in t.clips:
            where = f"the clip at {clip.at:.2f} s on track {t.name!r}"
            cue = cues.get(clip.cue_id)
            if cue is None:
                raise BadInput(f"{where} uses cue {clip.cue_id}, which is no longer in the library; remove the clip")
            if not Path(cue.path).is_file():
                raise BadInput(f"cue {cue.id} ({cue.prompt[:40]!r}), used by {where}, has lost its file "
                               f"{cue.path}; restore the file or remove the clip")
            if clip.end > cue.duration + TOLERANCE_S and not clip.repeats:
                raise BadInput(f"{where} ends at {clip.end:.3f} s into cue {cue.id}, which is only "
                               f"{cue.duration:.3f} s long; trim the clip")


def layout(timeline: Timeline, cues: dict[int, Cue], rate: int) -> tuple[list[int], int, int]:
    """What a render of `timeline` will be, before it is made: its audible tracks (a stem
    each), its frames and its channels (stereo if any cue is stereo)."""
    check(timeline, cues)
    return timeline.audible(), int(np.ceil(timeline.duration * rate)), max(cues[c].channels for c in timeline.cue_ids())


def render(timeline: Timeline, cues: dict[int, Cue], rate: int, map_=map) -> Mixdown:
    """Stems of the audible tracks (track gain, clip gain and fades applied) from timeline
    zero to the end of the last clip, and their sum. Stereo if any cue is stereo. `map_`:
    a thread pool's map reads, resamples and renders several at once."""
    tracks, frames, channels = layout(timeline, cues, rate)
    heard = sorted({clip.cue_id for index in tracks for clip in timeline.tracks[index].clips})
    sources = dict(zip(heard, map_(lambda cue_id: _load(cues[cue_id], rate, channels), heard)))

    def stem_of(index: int) -> np.ndarray:
        track = timeline.tracks[index]
        stem = np.zeros((frames, channels), np.float32)
        for clip in track.clips:
            _place(stem, sources[clip.cue_id], clip, rate)
        if track.gain_db:
            stem *= np.float32(10 ** (track.gain_db / 20))
        return stem
    stems = list(map_(stem_of, tracks))
    mix = np.zeros((frames, channels), np.float32)

    def sum_into(first: int) -> None:  # a cache-sized piece of the mix at a time: each stem read once
        piece = mix[first:first + MIX_PIECE]
        for stem in stems:
            piece += stem[first:first + MIX_PIECE]
    list(map_(sum_into, range(0, frames, MIX_PIECE)))
    return Mixdown(rate, tracks, stems, mix)


def fade_curve(n: int) -> np.ndarray:
    """A raised-cosine fade-in of n samples, 0 → 1 (smooth at both ends, so no click)."""
    return (0.5 - 0.5 * np.cos(np.pi * (np.arange(n) + 0.5) / n)).astype(np.float32)


def _load(cue: Cue, rate: int, channels: int) -> np.ndarray:
    audio, source_rate = cue_audio.read(cue)
    if source_rate != rate:
        import soxr

        audio = soxr.resample(audio, source_rate, rate, quality="HQ").astype(np.float32, copy=False)
    if audio.shape[1] < channels:
        audio = np.repeat(audio, channels, axis=1)
    return audio


def _place(stem: np.ndarray, source: np.ndarray, clip: Clip, rate: int) -> None:
    """Add the clip's part of `source`, with its gain and fades, into `stem`."""
    first, at = round(clip.start * rate), round(clip.at * rate)
    if clip.repeats:  # round and round the loop
        piece = source.take(np.arange(first, min(round(clip.end * rate), first + len(stem) - at)) % len(source), axis=0)
    else:
        piece = source[first:min(round(clip.end * rate), len(source))][: len(stem) - at]
    n = len(piece)
    if n == 0:
        return
    gain = np.float32(10 ** (clip.gain_db / 20))
    fade_in = min(round(clip.fade_in * rate), n)
    fade_out = min(round(clip.fade_out * rate), n - fade_in)
    target = stem[at:at + n]
    body = slice(fade_in, n - fade_out)
    target[body] += piece[body] * gain
    if fade_in:
        target[:fade_in] += piece[:fade_in] * (gain * fade_curve(fade_in))[:, None]
    if fade_out:
        target[n - fade_out:] += piece[n - fade_out:] * (gain * fade_curve(fade_out)[::-1])[:, None]
