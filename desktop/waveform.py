"""Waveform overviews: computed once off the UI thread, cached on disk by the file's sha256,
kept in memory for the lists, painted by one function for cards, rows and clips alike:
centred on zero, one lane per channel, scaled to the cue's peak or to full scale."""

import io
from collections import OrderedDict

import numpy as np
from PySide6.QtCore import QObject, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPen
from PySide6.QtWidgets import QWidget

from engine import cue_audio, paths, transcription
from engine.audio_io import write_atomic
from engine.cue import Cue

BUCKETS = 400
MEMORY_ENTRIES = 20_000  # 3–6 KB each
CACHE_FOLDER = "waveforms-2"  # [buckets, channels, 2]; the first format had no channels


def overview(audio: np.ndarray, buckets: int = BUCKETS) -> np.ndarray:
    """[buckets, channels, 2]: the lowest and highest sample of each slice of `audio`
    [frames, channels], per channel."""
    if len(audio) == 0:
        return np.zeros((buckets, audio.shape[1] if audio.ndim == 2 else 1, 2), np.float32)
    starts = np.linspace(0, len(audio), buckets, endpoint=False).astype(int)
    low = np.minimum.reduceat(audio, starts, axis=0)
    high = np.maximum.reduceat(audio, starts, axis=0)
    return np.stack([low, high], axis=2).astype(np.float32)


def cached_overview(cue: Cue) -> np.ndarray:
    """From the disk cache, or computed and stored there (runs on a file thread)."""
    file = paths.cache_dir() / CACHE_FOLDER / f"{cue.sha256}.npy"
    try:
        return np.load(file)
    except (OSError, ValueError):
        pass
    data = overview(cue_audio.read(cue)[0])  # checked: a damaged file never fills the cache
    file.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    np.save(buffer, data)
    write_atomic(file, buffer.getvalue())
    return data


class WaveformCache(QObject):
    ready = Signal(str)  # sha256 of a cue whose overview just arrived
    scale_changed = Signal()

    def __init__(self, background, parent=None):
        super().__init__(parent)
        self._background = background
        self._memory: OrderedDict[str, np.ndarray] = OrderedDict()
        self._pending: set[str] = set()
        self.common_scale = False  # full scale for every cue, so loudness differences show

    def set_common_scale(self, on: bool) -> None:
        if on != self.common_scale:
            self.common_scale = on
            self.scale_changed.emit()

    def get(self, cue: Cue) -> np.ndarray | None:
        """The overview if it is at hand; otherwise None now and `ready` later."""
        data = self._memory.get(cue.sha256)
        if data is not None:
            self._memory.move_to_end(cue.sha256)
            return data
        if cue.sha256 not in self._pending:
            self._pending.add(cue.sha256)
            self._background.files(lambda: cached_overview(cue),
                                   lambda data: self._arrived(cue.sha256, data),
                                   lambda message: self._pending.discard(cue.sha256))
        return None

    def notes(self, cue: Cue) -> list | None:
        """The notes of the cue's MIDI transcription (engine.transcription) for the piano-roll
        strip, if at hand; None while there is none, or until `ready` says they arrived."""
        if not cue.midi_path.is_file():
            return None
        key = f"notes:{cue.sha256}"
        if key in self._memory:
            return self._memory[key]
        if key not in self._pending:
            self._pending.add(key)
            self._background.files(lambda: transcription.read_midi(cue.midi_path),
                                   lambda notes: self._arrived(key, notes, cue.sha256),
                                   lambda message: self._pending.discard(key))
        return None

    def _arrived(self, key: str, data, sha: str | None = None) -> None:
        self._pending.discard(key)
        self._memory[key] = data
        while len(self._memory) > MEMORY_ENTRIES:
            self._memory.popitem(last=False)
        self.ready.emit(sha or key)


def overview_image(data: np.ndarray | None, width: int, height: int, color: QColor,
                   full_scale: bool = False) -> QImage:
    """The overview drawn into an image with numpy (no per-point Python): a lane per
    channel, each centred on its zero line, one column per pixel from its lowest to its
    highest sample; normalised to the cue's peak as sample browsers draw them, or with
    `full_scale` at 0 dBFS so that a quiet cue looks quiet. A zero line while the overview
    is still being computed."""
    width, height = max(width, 1), max(height, 1)
    pixels = np.zeros((height, width), np.uint32)
    lanes = 1 if data is None else data.shape[1]
    lane = height / lanes
    peak = 1.0 if full_scale or data is None else max(float(np.abs(data).max()), 1e-6)
    for n in range(lanes):
        top_edge = int(round(n * lane))
        bottom_edge = int(round((n + 1) * lane)) - 1
        middle = (top_edge + bottom_edge) / 2
        pixels[int(middle)] = color.rgba()  # the zero line
        if data is None:
            continue
        starts = np.arange(width) * len(data) // width
        low = np.minimum.reduceat(data[:, n, 0], starts)
        high = np.maximum.reduceat(data[:, n, 1], starts)
        scale = 0.95 * (bottom_edge - top_edge) / 2 / peak
        top = np.clip(np.floor(middle - high * scale), top_edge, bottom_edge)
        bottom = np.clip(np.ceil(middle - low * scale), top_edge, bottom_edge)
        rows = np.arange(height)[:, None]
        pixels[(rows >= top) & (rows <= bottom)] = color.rgba()
    return QImage(pixels.data, width, height, QImage.Format.Format_ARGB32).copy()


class WaveformView(QWidget):
    """A cue's overview with a playhead. A click asks to play from there; a drag selects a
    region (to play, or to drag out just that part)."""

    seek_requested = Signal(float)  # fraction of the cue
    region_selected = Signal(float, float)  # fractions of the cue

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setMinimumHeight(48)
        self.setCursor(Qt.CursorShape.IBeamCursor)
        self.setToolTip("Click: play from here. Drag: select a region to play or drag out.")
        self._data: np.ndarray | None = None
        self._full_scale = False
        self._image: QImage | None = None  # the overview at the current size
        self._playhead: float | None = None
        self._notes: list = []  # a transcription's notes, drawn as a piano-roll strip
        self._seconds = 0.0  # the cue's length, to place them
        self._press: float | None = None
        self.region: tuple[float, float] | None = None  # fractions of the cue

    @property
    def has_overview(self) -> bool:
        return self._data is not None

    @property
    def notes(self) -> list:
        return self._notes

    @property
    def playhead(self) -> float | None:
        return self._playhead

    def set_overview(self, data: np.ndarray | None, full_scale: bool = False) -> None:
        self._data, self._full_scale, self._image = data, full_scale, None
        self.update()

    def set_notes(self, notes: list | None, seconds: float) -> None:
        if (notes or []) != self._notes or seconds != self._seconds:
            self._notes, self._seconds = notes or [], seconds
            self.update()

    def set_playhead(self, fraction: float | None) -> None:
        if fraction != self._playhead:
            self._playhead = fraction
            self.update()

    def clear_region(self) -> None:
        if self.region is not None:
            self.region = None
            self.update()

    def _paint_notes(self, painter: QPainter) -> None:
        """Each note a bar at its pitch (the lowest to the highest found span the height)."""
        low = min(n.pitch for n in self._notes) - 1
        span = max(n.pitch for n in self._notes) + 1 - low
        row = self.height() / span
        color = QColor(self.palette().text().color())
        color.setAlpha(170)
        scale = self.width() / self._seconds
        for n in self._notes:
            y = self.height() - (n.pitch - low + 0.5) * row
            painter.fillRect(QRectF(n.start * scale, y - max(row, 2) / 2, max((n.end - n.start) * scale, 2),
                                    max(row * 0.8, 2)), color)

    def _fraction(self, event) -> float:
        return min(max(event.position().x() / max(self.width(), 1), 0.0), 1.0)

    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._press = self._fraction(event)
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:
        if self._press is not None and abs(event.position().x() - self._press * self.width()) > 4:
            now = self._fraction(event)
            self.region = (min(self._press, now), max(self._press, now))
            self.update()
        event.accept()  # a drag here selects; it does not drag the card

    def mouseReleaseEvent(self, event) -> None:
        press, self._press = self._press, None
        if press is None or event.button() != Qt.MouseButton.LeftButton:
            return super().mouseReleaseEvent(event)
        if self.region is not None and abs(self._fraction(event) - press) * self.width() > 4:
            self.region_selected.emit(*self.region)
        else:
            self.clear_region()
            self.seek_requested.emit(press)

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), self.palette().base())
        if self._image is None or self._image.size() != self.size():
            self._image = overview_image(self._data, self.width(), self.height(),
                                         self.palette().highlight().color(), self._full_scale)
        painter.drawImage(0, 0, self._image)
        if self._notes and self._seconds > 0:
            self._paint_notes(painter)
        if self.region is not None:
            shade = QColor(self.palette().text().color())
            shade.setAlpha(50)
            x0, x1 = self.region[0] * self.width(), self.region[1] * self.width()
            painter.fillRect(QRectF(x0, 0, x1 - x0, self.height()), shade)
        if self._playhead is not None:
            x = self._playhead * (self.width() - 1)
            painter.setPen(QPen(self.palette().text().color(), 1.5))
            painter.drawLine(QPointF(x, 0), QPointF(x, self.height()))
