"""Audition playback through PortAudio (sounddevice).

The audio callback only copies from a buffer prepared before playback and applies short
fades: no locks, no file access, no Qt. It publishes the play position as a plain integer
that the UI reads from a timer. Starting, stopping, seeking and switching cues all fade
(a few milliseconds) so nothing clicks.
"""

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .errors import PlayerError

FADE_SECONDS = 0.005


def _sounddevice():
    try:
        import sounddevice
    except OSError:
        raise PlayerError("the PortAudio library is missing: install it (Debian/Ubuntu: "
                          "apt-get install libportaudio2)") from None
    return sounddevice


def output_devices() -> list[dict]:
    """Output devices PortAudio sees: index, name, host API; the default one first."""
    sd = _sounddevice()
    try:
        devices = sd.query_devices()
        default = sd.default.device[1]
    except sd.PortAudioError as e:
        raise PlayerError(f"cannot list audio devices: {e}") from None
    found = [{"index": d["index"], "name": d["name"],
              "hostapi": sd.query_hostapis(d["hostapi"])["name"]}
             for d in devices if d["max_output_channels"] > 0]
    return sorted(found, key=lambda d: d["index"] != default)


class Player:
    """One cue at a time, controlled from one thread (the UI's) without ever blocking it:
    opening and starting a PortAudio stream can take tens of milliseconds, so that happens on
    the player's own control thread. The caller only writes `_command` (one tuple, replaced
    whole) and `loop`; the callback owns the playback state; errors go to `on_error`."""

    def __init__(self, device: int | str | None = None, on_error=lambda message: None):
        self.device = device
        self.on_error = on_error
        self.loop = False
        self.sample_rate = 0
        self._control = ThreadPoolExecutor(1, thread_name_prefix="cuedeck-audio")
        self._closed = False
        self._stream = None
        self._format = None  # (sample_rate, channels) of the open stream
        self._ramp_in = self._ramp_out = np.ones((1, 1), np.float32)
        self._command: tuple | None = None  # (buffer or None to stop, start frame, sample rate)
        self._current: np.ndarray | None = None  # the buffer last asked for (caller side)
        # Owned by the callback (and by the control thread while no callback runs):
        self._seen: tuple | None = None
        self._buffer: np.ndarray | None = None
        self._next: tuple | None = None
        self._pos = 0
        self._fade = 0  # >= 0: frames of fade-in done; < 0: frames of fade-out left

    # -- state the UI polls --------------------------------------------------------------

    @property
    def playing(self) -> bool:
        command = self._command
        waiting = command is not self._seen and command is not None and command[0] is not None
        return self._buffer is not None or waiting

    @property
    def stream_format(self) -> tuple[int, int] | None:
        """(sample rate, channels) of the stream while it runs, else None."""
        stream = self._stream
        return self._format if stream is not None and stream.active else None

    @property
    def position(self) -> float:
        return self._pos / self.sample_rate if self.sample_rate else 0.0

    # -- control (returns at once) -------------------------------------------------------

    def play(self, buffer: np.ndarray, sample_rate: int, start: float = 0.0) -> None:
        """Play `buffer` (made by `prepare`, off the UI thread: it copies the whole cue)
        from `start` seconds. A cue already playing fades out first."""
        self._current = buffer
        self._send((buffer, self._frame(buffer, start, sample_rate), sample_rate))

    def seek(self, seconds: float) -> None:
        """Jump within the cue that is playing."""
        if self._current is not None and self.playing:
            rate = self._command[2]
            self._send((self._current, self._frame(self._current, seconds, rate), rate))

    def stop(self) -> None:
        """Fade out and stop."""
        if self._command is not None:
            self._send((None, 0, self._command[2]))

    def poll(self) -> None:
        """Call from the UI's timer: a command that came just as the stream finished by
        itself gets the stream started again."""
        if self._command is not self._seen and not self._closed:
            self._control.submit(self._sync)

    def close(self) -> None:
        """Stop at once and release the device (waits for the control thread). Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._control.submit(self._close_stream)
        self._control.shutdown(wait=True)
        self._command = self._current = None

    # -- the control thread --------------------------------------------------------------

    @staticmethod
    def _frame(buffer: np.ndarray, seconds: float, rate: int) -> int:
        return min(max(int(seconds * rate), 0), max(len(buffer) - 1, 0))

    def _send(self, command: tuple) -> None:
        if not self._closed:
            self._command = command
            self._control.submit(self._sync)

    def _sync(self) -> None:
        """Make the stream follow the latest command: open it for the command's format,
        start it when it is idle. The callback itself takes the command up."""
        command = self._command
        if command is None or command is self._seen:
            return
        buffer, _, rate = command
        try:
            if buffer is not None and self._format != (rate, buffer.shape[1]):
                self._open(rate, buffer.shape[1])
            if self._stream is None:
                self._seen = command  # a stop with nothing open: nothing to do
            elif not self._stream.active:
                if not self._stream.stopped:
                    self._stream.stop()  # it finished by itself: returns at once
                self._stream.start()
        except PlayerError as e:
            self._seen = command  # dropped: nothing plays
            self.on_error(str(e))

    def _open(self, sample_rate: int, channels: int) -> None:
        self._close_stream()
        sd = _sounddevice()
        try:
            self._stream = sd.OutputStream(samplerate=sample_rate, channels=channels,
                                           dtype="float32", device=self.device,
                                           callback=self._callback)
        except (sd.PortAudioError, ValueError) as e:
            raise PlayerError(f"no usable audio output ({e}); pick another device in "
                              "Settings or connect one") from None
        self._format = (sample_rate, channels)
        self.sample_rate = sample_rate
        ramp = np.linspace(0.0, 1.0, max(int(FADE_SECONDS * sample_rate), 2), dtype=np.float32)
        self._ramp_in, self._ramp_out = ramp[:, None], ramp[::-1, None].copy()

    def _close_stream(self) -> None:
        if self._stream is not None:
            self._stream.abort()
            self._stream.close()
            self._stream = self._format = None
        self._buffer = self._next = self._seen = None

    # -- the audio callback --------------------------------------------------------------

    def _callback(self, out, frames, time_info, status) -> None:
        if not self.render(out):
            raise _sounddevice().CallbackStop

    def render(self, out: np.ndarray) -> bool:
        """Fill `out` [frames, channels]; False once there is nothing left to play."""
        command = self._command
        if command is not self._seen and command[0] is not None \
                and (command[2], command[0].shape[1]) != self._format:
            # Another rate or channel count: fade out and end; the control thread reopens
            # the stream for it (the command stays unseen until a matching stream takes it).
            command = (None, 0, command[2])
            if self._buffer is None:
                out[:] = 0
                return False
            self._next = command
            if self._fade >= 0:
                self._fade = -max(1, min(self._fade, len(self._ramp_in)))
        elif command is not self._seen:
            self._seen = command
            if self._buffer is None:
                self._buffer, self._pos = command[:2]
                self._fade = 0
            else:  # fade out what plays, then switch (or stop, when the buffer is None)
                self._next = command
                if self._fade >= 0:
                    self._fade = -max(1, min(self._fade, len(self._ramp_in)))
        ramp_len = len(self._ramp_in)
        done = 0
        while done < len(out):
            if self._buffer is None:
                out[done:] = 0
                return False
            target = out[done:] if self._fade >= 0 else out[done:done - self._fade]
            n = self._copy(target)
            if n == 0:  # the end of a cue that does not loop
                self._buffer = None
                continue
            segment = out[done:done + n]
            if self._fade < 0:
                left = -self._fade
                segment *= self._ramp_out[ramp_len - left:ramp_len - left + n]
                self._fade += n
                if self._fade == 0:
                    self._buffer, self._pos = self._next[:2]
                    self._next = None
            elif self._fade < ramp_len:
                k = min(n, ramp_len - self._fade)
                segment[:k] *= self._ramp_in[self._fade:self._fade + k]
                self._fade += k
            done += n
        return True

    def _copy(self, target: np.ndarray) -> int:
        buffer, pos, done = self._buffer, self._pos, 0
        while done < len(target):
            if pos >= len(buffer):
                if not self.loop:
                    break
                pos = 0
            n = min(len(target) - done, len(buffer) - pos)
            target[done:done + n] = buffer[pos:pos + n]
            pos += n
            done += n
        self._pos = pos
        return done


def prepare(audio: np.ndarray, sample_rate: int, gain: float = 1.0) -> np.ndarray:
    """A playback copy of `audio` [frames, channels]: gain applied, edges faded so the start,
    the end and the loop point do not click."""
    buffer = np.array(audio, dtype=np.float32, order="C", copy=True)
    if buffer.ndim == 1:
        buffer = buffer[:, None]
    buffer *= np.float32(gain)
    n = min(max(int(FADE_SECONDS * sample_rate), 2), len(buffer) // 2)
    if n:
        ramp = np.linspace(0.0, 1.0, n, dtype=np.float32)[:, None]
        buffer[:n] *= ramp
        buffer[-n:] *= ramp[::-1]
    return buffer
