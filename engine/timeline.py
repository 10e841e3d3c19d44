"""Timelines: tracks of clips that place library cues against time. Pure data: no Qt, no audio.

A Timeline is immutable and every edit returns a new one, so undo and redo are a list of
snapshots (`History`) and the widget, the CLI and the exporter share one model.
"""

import math
import re
from dataclasses import asdict, dataclass, field, replace

from . import timecode
from .errors import BadInput

FORMAT_VERSION = 1
MAX_TRACKS = 32
MAX_NAME_CHARS = 80
MAX_NAME_BYTES = 120  # a stem's file name holds a timeline and a track name: 255 bytes at most
MAX_SECONDS = 3 * 3600.0
GAIN_RANGE_DB = (-60.0, 24.0)
SNAP_UNITS = ("off", "seconds", "bars")
DELIVERY_ROLES = ("DX", "MX", "FX", "BG")  # dialogue, music, effects, backgrounds: how film names stems
BEATS_PER_BAR = 4


@dataclass(frozen=True)
class Clip:
    cue_id: int
    at: float             # where it starts on the timeline, seconds
    start: float          # in-point in the cue, seconds
    end: float            # out-point in the cue, seconds
    source_duration: float  # the cue's length, the limit for trimming
    gain_db: float = 0.0
    fade_in: float = 0.0
    fade_out: float = 0.0
    repeats: bool = False  # a loop cue's clip: past the cue's end it plays from its start again

    @property
    def length(self) -> float:
        return self.end - self.start

    @property
    def stop(self) -> float:
        return self.at + self.length

    def checked(self) -> "Clip":
        if not all(map(math.isfinite, (self.at, self.start, self.end, self.gain_db,
                                       self.fade_in, self.fade_out, self.source_duration))):
            raise BadInput("clip times and gains must be numbers")
        if not 0 <= self.at <= MAX_SECONDS:
            raise BadInput(f"a clip starts between 0 and {MAX_SECONDS:g} s on the timeline; got {self.at:g}")
        last = MAX_SECONDS if self.repeats else self.source_duration + 1e-9  # a loop goes round
        if not (0 <= self.start < self.end <= last and self.start < self.source_duration):
            raise BadInput(f"in and out must lie inside cue {self.cue_id} (0–{self.source_duration:.3f} s) "
                           f"with in before out; got in {self.start:g}, out {self.end:g}"
                           + ("" if self.repeats else " (only a loop cue repeats past its end)"))
        _check_gain(self.gain_db, "clip gain")
        if self.fade_in < 0 or self.fade_out < 0 or self.fade_in + self.fade_out > self.length + 1e-9:
            raise BadInput(f"fades must be ≥ 0 s and together fit in the clip ({self.length:.3f} s); "
                           f"got in {self.fade_in:g}, out {self.fade_out:g}")
        return self


@dataclass(frozen=True)
class Track:
    name: str
    clips: tuple[Clip, ...] = ()
    gain_db: float = 0.0
    mute: bool = False
    solo: bool = False
    role: str = ""  # one of DELIVERY_ROLES; "" goes by its cues (MX for music, FX for effects)


@dataclass(frozen=True)
class Timeline:
    name: str
    tracks: tuple[Track, ...] = field(default_factory=lambda: (Track("Track 1"),))
    tempo: float = 120.0              # beats per minute, for the bar grid
    snap: str = "seconds"             # off | seconds | bars
    snap_step: float = 0.5            # in seconds or in bars, by `snap`
    loop: tuple[float, float] | None = None
    start_timecode: str = timecode.ZERO  # the picture's clock at timeline zero: exports spot to it
    frame_rate: str = timecode.DEFAULT_RATE  # one of timecode.RATES

    # -- reading --------------------------------------------------------------------------

    @property
    def duration(self) -> float:
        return max((c.stop for t in self.tracks for c in t.clips), default=0.0)

    def audible(self) -> list[int]:
        """Indices of the tracks heard in the mix: the soloed ones, else all but the muted."""
        soloed = [i for i, t in enumerate(self.tracks) if t.solo]
        return soloed or [i for i, t in enumerate(self.tracks) if not t.mute]

    def cue_ids(self) -> list[int]:
        return sorted({c.cue_id for t in self.tracks for c in t.clips})

    def snapped(self, seconds: float) -> float:
        """`seconds` moved to the nearest grid line (never below zero)."""
        step = self.grid_seconds()
        value = round(seconds / step) * step if step else seconds
        return max(0.0, value)

    def grid_seconds(self) -> float:
        if self.snap == "seconds":
            return self.snap_step
        if self.snap == "bars":
            return self.snap_step * BEATS_PER_BAR * 60.0 / self.tempo
        return 0.0

    def track(self, index: int) -> Track:
        if not 0 <= index < len(self.tracks):
            raise BadInput(f"timeline {self.name!r} has tracks 1–{len(self.tracks)}; there is no track {index + 1}")
        return self.tracks[index]

    def clip(self, track: int, index: int) -> Clip:
        clips = self.track(track).clips
        if not 0 <= index < len(clips):
            raise BadInput(f"track {track + 1} has no clip {index + 1}")
        return clips[index]

    # -- editing (each returns a new timeline) -------------------------------------------

    def add_track(self, name: str | None = None) -> "Timeline":
        if len(self.tracks) >= MAX_TRACKS:
            raise BadInput(f"a timeline holds at most {MAX_TRACKS} tracks")
        return replace(self, tracks=(*self.tracks, Track(check_name(name or f"Track {len(self.tracks) + 1}", "track"))))

    def add_stems(self, whole: Clip, stems: list[tuple[str, int]]) -> "Timeline":
        """A cue's stems [(role, cue id)], a new track each named by its role, every clip
        where the cue's own clips are (same in, out, gain and fades: the stems are as long as
        it), or as `whole` (the cue's clip at the playhead) when the cue is not placed yet."""
        if len(self.tracks) + len(stems) > MAX_TRACKS:
            raise BadInput(f"a timeline holds at most {MAX_TRACKS} tracks; {len(stems)} stems do not fit "
                           f"beside its {len(self.tracks)}: remove some tracks first")
        placed = [c for t in self.tracks for c in t.clips if c.cue_id == whole.cue_id] or [whole]
        added = tuple(Track(check_name(f"{role} (cue {whole.cue_id})", "track"),
                            tuple(replace(c, cue_id=cue_id).checked() for c in placed)) for role, cue_id in stems)
        return replace(self, tracks=self.tracks + added)

    def remove_track(self, index: int) -> "Timeline":
        self.track(index)
        return replace(self, tracks=self.tracks[:index] + self.tracks[index + 1:])

    def set_track(self, index: int, **changes) -> "Timeline":
        """Change a track's name, gain_db, mute, solo or role."""
        track = replace(self.track(index), **changes)
        check_name(track.name, "track")
        if track.role not in ("", *DELIVERY_ROLES):
            raise BadInput(f"a track's role is {', '.join(DELIVERY_ROLES)} or auto; got {track.role!r}")
        _check_gain(track.gain_db, "track gain")
        return self._with_track(index, track)

    def add_clip(self, track: int, clip: Clip) -> "Timeline":
        t = self.track(track)
        return self._with_track(track, replace(t, clips=(*t.clips, clip.checked())))

    def set_clip(self, track: int, index: int, **changes) -> "Timeline":
        """Change a clip's at, start, end, gain_db, fade_in or fade_out."""
        clip = replace(self.clip(track, index), **changes).checked()
        t = self.tracks[track]
        return self._with_track(track, replace(t, clips=t.clips[:index] + (clip,) + t.clips[index + 1:]))

    def move_clip(self, track: int, index: int, to_track: int, at: float) -> "Timeline":
        """Move a clip in time and, maybe, to another track (it goes last there)."""
        clip = replace(self.clip(track, index), at=at).checked()
        if to_track == track:
            return self.set_clip(track, index, at=at)
        self.track(to_track)
        return self.remove_clip(track, index).add_clip(to_track, clip)

    def trim_clip(self, track: int, index: int, edge: str, seconds: float) -> "Timeline":
        """Move the clip's left edge (its start in the cue and on the timeline move
        together, the rest stays put) or its right edge to timeline time `seconds` (past the
        cue's end for a loop cue, which then repeats)."""
        c = self.clip(track, index)
        if edge == "left":
            delta = min(max(seconds - c.at, -c.start, -c.at), c.length - 0.01)
            fade_in = min(c.fade_in, c.length - delta - c.fade_out)
            return self.set_clip(track, index, at=c.at + delta, start=c.start + delta, fade_in=max(0.0, fade_in))
        end = min(max(c.start + (seconds - c.at), c.start + 0.01), MAX_SECONDS if c.repeats else c.source_duration)
        fade_out = min(c.fade_out, end - c.start - c.fade_in)
        return self.set_clip(track, index, end=end, fade_out=max(0.0, fade_out))

    def remove_clip(self, track: int, index: int) -> "Timeline":
        self.clip(track, index)
        t = self.tracks[track]
        return self._with_track(track, replace(t, clips=t.clips[:index] + t.clips[index + 1:]))

    def set_grid(self, snap: str | None = None, snap_step: float | None = None,
                 tempo: float | None = None) -> "Timeline":
        new = replace(self, snap=snap or self.snap, snap_step=snap_step or self.snap_step,
                      tempo=tempo or self.tempo)
        if new.snap not in SNAP_UNITS:
            raise BadInput(f"snap is one of {', '.join(SNAP_UNITS)}; got {new.snap!r}")
        if not (math.isfinite(new.tempo) and 20 <= new.tempo <= 400):
            raise BadInput(f"tempo is 20–400 BPM; got {new.tempo:g}")
        if not (math.isfinite(new.snap_step) and 0.001 <= new.snap_step <= 64):
            raise BadInput(f"the grid step is 0.001–64; got {new.snap_step:g}")
        return new

    def set_timecode(self, start: str | None = None, frame_rate: str | None = None) -> "Timeline":
        """Start at timecode `start` at `frame_rate` (either may stay as it is)."""
        rate = frame_rate or self.frame_rate
        return replace(self, start_timecode=timecode.checked(start or self.start_timecode, rate), frame_rate=rate)

    def set_loop(self, start: float | None, end: float | None = None) -> "Timeline":
        if start is None:
            return replace(self, loop=None)
        start, end = sorted((max(0.0, start), max(0.0, end)))
        if end - start < 0.05:
            return replace(self, loop=None)
        return replace(self, loop=(start, end))

    def renamed(self, name: str) -> "Timeline":
        return replace(self, name=check_name(name, "timeline"))

    def _with_track(self, index: int, track: Track) -> "Timeline":
        return replace(self, tracks=self.tracks[:index] + (track,) + self.tracks[index + 1:])

    # -- storage --------------------------------------------------------------------------

    def to_dict(self) -> dict:
        return {"version": FORMAT_VERSION, **asdict(self)}

    @classmethod
    def from_dict(cls, d: dict) -> "Timeline":
        d = dict(d)
        if d.pop("version", FORMAT_VERSION) > FORMAT_VERSION:
            raise BadInput(f"timeline {d.get('name')!r} was saved by a newer CueDeck; update CueDeck to open it")
        tracks = tuple(Track(**{**t, "clips": tuple(Clip(**c) for c in t["clips"])}) for t in d.pop("tracks"))
        loop = d.pop("loop", None)
        return cls(tracks=tracks, loop=tuple(loop) if loop else None, **d)


class History:
    """Undo and redo over timeline snapshots."""

    def __init__(self, timeline: Timeline, limit: int = 500):
        self._states = [timeline]
        self._at = 0
        self._limit = limit

    @property
    def current(self) -> Timeline:
        return self._states[self._at]

    def push(self, timeline: Timeline) -> Timeline:
        if timeline != self.current:
            del self._states[self._at + 1:]
            self._states.append(timeline)
            if len(self._states) > self._limit:
                del self._states[0]
            self._at = len(self._states) - 1
        return timeline

    def can_undo(self) -> bool:
        return self._at > 0

    def can_redo(self) -> bool:
        return self._at < len(self._states) - 1

    def undo(self) -> Timeline:
        self._at = max(0, self._at - 1)
        return self.current

    def redo(self) -> Timeline:
        self._at = min(len(self._states) - 1, self._at + 1)
        return self.current


def check_name(name: str, what: str) -> str:
    clean = " ".join(str(name).split())
    if not clean:
        raise BadInput(f"a {what} name cannot be empty")
    if len(clean) > MAX_NAME_CHARS:
        raise BadInput(f"a {what} name has at most {MAX_NAME_CHARS} characters")
    if len(clean.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
        raise BadInput(f"a {what} name is at most {MAX_NAME_BYTES} bytes in UTF-8 (exported file names "
                       "are built from it); shorten it")
    if re.search(r"[\\/\x00-\x1f]", clean):
        raise BadInput(f"a {what} name cannot contain / or \\")
    return clean


def _check_gain(db: float, what: str) -> None:
    low, high = GAIN_RANGE_DB
    if not (math.isfinite(db) and low <= db <= high):
        raise BadInput(f"{what} is {low:g} to +{high:g} dB; got {db:g}")
