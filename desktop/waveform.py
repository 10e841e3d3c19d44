"""Waveform overviews: computed once off the UI thread, cached on disk by the file's sha256,
kept in memory for the lists, painted by one function for cards and rows alike."""

import io
from collections import OrderedDict

import numpy as np
from PySide6.QtCore import QObject, QPointF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPen
from PySide6.QtWidgets import QWidget

from engine import cue_audio, paths
from engine.audio_io import write_atomic
from engine.library import Cue

BUCKETS = 400
MEMORY_ENTRIES = 20_000  # 3 KB each


def overview(audio: np.ndarray, buckets: int = BUCKETS) -> np.ndarray:
    """[buckets, 2]: the lowest and highest sample of each slice of `audio` [frames,
    channels], over all channels."""
    if len(audio) == 0:
        return np.zeros((buckets, 2), np.float32)
    starts = np.linspace(0, len(audio), buckets, endpoint=False).astype(int)
    low = np.minimum.reduceat(audio.min(axis=1), starts)
    high = np.maximum.reduceat(audio.max(axis=1), starts)
    return np.stack([low, high], axis=1).astype(np.float32)


def cached_overview(cue: Cue) -> np.ndarray:
    """From the disk cache, or computed and stored there (runs on a file thread)."""
    file = paths.cache_dir() / "waveforms" / f"{cue.sha256}.npy"
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

    def __init__(self, background, parent=None):
        super().__init__(parent)
        self._background = background
        self._memory: OrderedDict[str, np.ndarray] = OrderedDict()
        self._pending: set[str] = set()

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

    def _arrived(self, sha: str, data: np.ndarray) -> None:
        self._pending.discard(sha)
        self._memory[sha] = data
        while len(self._memory) > MEMORY_ENTRIES:
            self._memory.popitem(last=False)
        self.ready.emit(sha)


def overview_image(data: np.ndarray | None, width: int, height: int, color: QColor) -> QImage:
    """The overview drawn into an image with numpy (no per-point Python): one column per
    pixel from its lowest to its highest sample, normalised to the cue's peak as sample
    browsers draw them; a flat line while the overview is still being computed."""
    width, height = max(width, 1), max(height, 1)
    pixels = np.zeros((height, width), np.uint32)
    middle = (height - 1) / 2
    if data is None:
        pixels[int(middle)] = color.rgba()
    else:
        starts = np.arange(width) * len(data) // width
        low = np.minimum.reduceat(data[:, 0], starts)
        high = np.maximum.reduceat(data[:, 1], starts)
        scale = 0.95 * height / 2 / max(float(np.abs(data).max()), 1e-6)
        top = np.clip(np.floor(middle - high * scale), 0, height - 1)
        bottom = np.clip(np.ceil(middle - low * scale), 0, height - 1)
        rows = np.arange(height)[:, None]
        pixels[(rows >= top) & (rows <= bottom)] = color.rgba()
    return QImage(pixels.data, width, height, QImage.Format.Format_ARGB32).copy()


class WaveformView(QWidget):
    """A cue's overview with a playhead; a click asks to play from there."""

    seek_requested = Signal(float)  # fraction of the cue

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setMinimumHeight(48)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self._data: np.ndarray | None = None
        self._image: QImage | None = None  # the overview at the current size
        self._playhead: float | None = None

    def set_overview(self, data: np.ndarray | None) -> None:
        self._data, self._image = data, None
        self.update()

    def set_playhead(self, fraction: float | None) -> None:
        if fraction != self._playhead:
            self._playhead = fraction
            self.update()

    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self.width() > 0:
            self.seek_requested.emit(min(max(event.position().x() / self.width(), 0.0), 1.0))
        else:
            super().mousePressEvent(event)

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), self.palette().base())
        if self._image is None or self._image.size() != self.size():
            self._image = overview_image(self._data, self.width(), self.height(),
                                         self.palette().highlight().color())
        painter.drawImage(0, 0, self._image)
        if self._playhead is not None:
            x = self._playhead * (self.width() - 1)
            painter.setPen(QPen(self.palette().text().color(), 1.5))
            painter.drawLine(QPointF(x, 0), QPointF(x, self.height()))
