"""Audition for Qt: the engine's Player behind a facade that loads cues off the UI thread
and polls the play position with a timer (never a signal from PortAudio's thread)."""

import itertools
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from PySide6.QtCore import QObject, QTimer, Signal

from engine import cue_audio
from engine.cue import Cue
from engine.loudness import audition_gain
from engine.player import Player, prepare

POLL_MS = 30
CACHE_CUES = 32  # decoded cues kept for instant re-audition


# The ids audio plays under: a cue's own id (positive), MIX for a timeline mix, and -2, -3, …
# for candidates still generating, which play from their preview files.
MIX = -1
_previews = itertools.count(2)


def preview_key() -> int:
    """A new id for a preview's audio."""
    return -next(_previews)


@dataclass(frozen=True)
class Preview:
    """What a running job has streamed of one candidate (see engine.protocol.Preview)."""
    key: int
    path: str
    sample_rate: int
    channels: int
    seconds: float   # ready so far
    total: float     # the candidate's full length


def load_preview(preview: Preview):
    frames = np.fromfile(preview.path, "<f4")
    frames = frames[: len(frames) // preview.channels * preview.channels].reshape(-1, preview.channels)
    return prepare(frames, preview.sample_rate), preview.sample_rate


def load_for_audition(cue: Cue, match_loudness: bool):
    """A cue's playback buffer, at its audition gain (runs on a file thread)."""
    audio, rate = cue_audio.read(cue)
    gain = audition_gain(cue.loudness_lufs, cue.peak) if match_loudness else 1.0
    return prepare(audio, rate, gain), rate


class Audition(QObject):
    position_changed = Signal(int, float)  # cue id, seconds
    playing_changed = Signal(int, bool)  # cue id, playing
    loop_changed = Signal(bool)  # the one loop state: the L key, the menu and the cards show it
    error = Signal(str)  # one line; also emitted from the player's control thread (queued)

    def __init__(self, background, parent=None):
        super().__init__(parent)
        self._background = background
        self._player = Player(on_error=self.error.emit)
        self._cache: OrderedDict = OrderedDict()
        self._cue_id: int | None = None  # the cue playing or about to
        self._asked = 0  # the latest play/stop; a cue that finishes loading later is dropped
        self._was_playing = False
        self._loop_cues = False
        self._offset = 0.0  # where the buffer playing starts in its cue (a region's start)
        self.match_loudness = True
        self._timer = QTimer(self, interval=POLL_MS)
        self._timer.timeout.connect(self._poll)

    @property
    def cue_id(self) -> int | None:
        return self._cue_id

    @property
    def loop(self) -> bool:
        """Loop cues (the L key); a timeline mix loops by its own loop region."""
        return self._loop_cues

    @loop.setter
    def loop(self, value: bool) -> None:
        changed, self._loop_cues = value != self._loop_cues, value
        if self._cue_id != MIX:
            self._player.loop = value
        if changed:
            self.loop_changed.emit(value)

    @property
    def playing(self) -> bool:
        return self._player.playing

    def set_device(self, device) -> None:
        self.stop()
        self._player.close()
        self._player = Player(device, on_error=self.error.emit)

    def play(self, cue: Cue, start: float = 0.0, end: float | None = None) -> None:
        """Start `cue` at `start` seconds, or play only its region `start`–`end` (a cue
        already playing fades out)."""
        asked = self._switch_to(cue.id)
        if cue.loop:  # a loop auditions in a loop (L turns it off while it plays)
            self.loop = True
        self._player.loop = self._loop_cues
        key = (cue.id, self.match_loudness)
        if key in self._cache:
            self._cache.move_to_end(key)
            self._start(self._cache[key], start, end)
            return
        match = self.match_loudness
        self._background.files(lambda: load_for_audition(cue, match),
                               lambda loaded: self._loaded(asked, key, loaded, start, end),
                               lambda message: self._failed(cue.id, message))

    def play_mix(self, buffer, rate: int, loop: bool) -> None:
        """Play a rendered timeline mix (a buffer from `prepare`); positions come as MIX."""
        self._switch_to(MIX)
        self._player.loop = loop
        self._start((buffer, rate), 0.0)

    def toggle_preview(self, preview: Preview) -> None:
        """Play (or stop) a candidate that is still generating, as far as it has come."""
        if self.playing and self._cue_id == preview.key:
            self.stop()
            return
        asked = self._switch_to(preview.key)
        self._player.loop = self._loop_cues
        self._background.files(lambda: load_preview(preview),
                               lambda loaded: asked == self._asked and self._start(loaded, 0.0),
                               lambda message: self.error.emit(f"cannot play the preview: {message}"))

    def _switch_to(self, key: int) -> int:
        self._asked += 1
        previous, self._cue_id = self._cue_id, key
        if previous is not None and previous != key and self._was_playing:
            self.playing_changed.emit(previous, False)
            self._was_playing = False
        return self._asked

    def toggle(self, cue: Cue) -> None:
        if self.playing and self._cue_id == cue.id:
            self.stop()
        else:
            self.play(cue)

    def seek(self, cue: Cue, seconds: float) -> None:
        if self.playing and self._cue_id == cue.id and self._offset == 0:
            self._player.seek(seconds)
        else:
            self.play(cue, seconds)

    def stop(self) -> None:
        self._asked += 1
        self._player.stop()

    def close(self) -> None:
        self._timer.stop()
        self._player.close()

    def _loaded(self, asked: int, key, loaded, start: float, end: float | None) -> None:
        self._cache[key] = loaded
        while len(self._cache) > CACHE_CUES:
            self._cache.popitem(last=False)
        if asked == self._asked:  # nothing else was asked for meanwhile
            self._start(loaded, start, end)

    def _failed(self, cue_id: int, message: str) -> None:
        self.error.emit(f"cannot play cue {cue_id}: {message}")

    def _start(self, loaded, start: float, end: float | None = None) -> None:
        buffer, rate = loaded
        self._offset = 0.0
        if end is not None:  # a region: its own buffer, faded at its edges (a few ms of copy)
            buffer = prepare(buffer[int(start * rate):max(int(end * rate), int(start * rate) + 2)], rate)
            self._offset, start = start, 0.0
        self._player.play(buffer, rate, start)
        self._timer.start()
        self._poll()

    def _poll(self) -> None:
        self._player.poll()
        playing = self._player.playing
        if self._cue_id is not None:
            self.position_changed.emit(self._cue_id, self._offset + self._player.position)
            if playing != self._was_playing:
                self._was_playing = playing
                self.playing_changed.emit(self._cue_id, playing)
        if not playing:
            self._timer.stop()
