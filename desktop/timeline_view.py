"""The timeline canvas: a ruler, one row per track, clips with waveforms, fades and gain.

Drop cues from the grid or the library at the mouse; drag a clip to move it (to another
track too), its edges to trim, its top corners to fade; drag in the ruler to set the loop
region, click to place the playhead. A drag shows a preview and becomes one undo step when
the mouse is released. Snapping follows the timeline's grid (hold Shift to bypass it).
"""

import math
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QInputDialog, QMenu, QWidget

from engine.errors import BadInput
from engine.timeline import Timeline

from .candidate_card import CUE_MIME, parse_cue_mime
from .waveform import overview_image

RULER = 24
ROW = 64
EDGE = 6        # pixels at a clip's edge that trim
FADE_GRIP = 10  # pixels at a clip's top corners that drag a fade
MIN_ZOOM, MAX_ZOOM = 2.0, 800.0  # pixels per second


@dataclass
class Drag:
    kind: str           # move | left | right | fade_in | fade_out | loop
    track: int = -1
    index: int = -1
    grab: float = 0.0   # seconds between the clip start and the mouse
    origin: float = 0.0  # where the drag began, seconds


class TimelineCanvas(QWidget):
    seek_requested = Signal(float)  # seconds
    play_toggled = Signal()

    def __init__(self, doc, waveforms, parent=None):
        super().__init__(parent)
        self.doc = doc
        self.waveforms = waveforms
        self.zoom = 40.0      # pixels per second
        self.offset = 0.0     # seconds at the left edge
        self.playhead = 0.0
        self.selected: tuple[int, int] | None = None
        self._drag: Drag | None = None
        self._preview: Timeline | None = None
        self._drop_at: tuple[int, float] | None = None
        self._images: dict = {}
        self.damaged: dict[int, str] = {}  # cue id → why its file cannot be used
        self.setAcceptDrops(True)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMinimumHeight(RULER + ROW)
        doc.changed.connect(self._timeline_changed)
        doc.cues_changed.connect(self.update)
        waveforms.ready.connect(lambda _: (self._images.clear(), self.update()))

    # -- geometry ------------------------------------------------------------------------

    @property
    def shown(self) -> Timeline | None:
        return self._preview or self.doc.timeline

    def x_of(self, seconds: float) -> float:
        return (seconds - self.offset) * self.zoom

    def time_at(self, x: float) -> float:
        return max(0.0, x / self.zoom + self.offset)

    def track_at(self, y: float) -> int:
        return int((y - RULER) // ROW)

    def clip_rect(self, track: int, clip) -> QRectF:
        return QRectF(self.x_of(clip.at), RULER + track * ROW + 2, clip.length * self.zoom, ROW - 4)

    def hit(self, pos: QPointF) -> tuple[int, int, str] | None:
        """(track, clip index, part) under `pos`; the last-drawn clip wins."""
        t = self.shown
        track = self.track_at(pos.y())
        if t is None or pos.y() < RULER or not 0 <= track < len(t.tracks):
            return None
        for index in reversed(range(len(t.tracks[track].clips))):
            rect = self.clip_rect(track, t.tracks[track].clips[index])
            if rect.adjusted(-2, 0, 2, 0).contains(pos):
                top = pos.y() - rect.top() < FADE_GRIP
                if top and pos.x() - rect.left() < FADE_GRIP:
                    return track, index, "fade_in"
                if top and rect.right() - pos.x() < FADE_GRIP:
                    return track, index, "fade_out"
                if pos.x() - rect.left() < EDGE:
                    return track, index, "left"
                if rect.right() - pos.x() < EDGE:
                    return track, index, "right"
                return track, index, "move"
        return None

    def set_zoom(self, zoom: float, anchor_x: float | None = None) -> None:
        anchor_x = self.width() / 2 if anchor_x is None else anchor_x
        anchor = self.time_at(anchor_x)
        self.zoom = min(max(zoom, MIN_ZOOM), MAX_ZOOM)
        self.offset = max(0.0, anchor - anchor_x / self.zoom)
        self._images.clear()
        self.update()

    def zoom_to_fit(self) -> None:
        t = self.doc.timeline
        if t and t.duration > 0 and self.width() > 40:
            self.offset = 0.0
            self.set_zoom((self.width() - 40) / t.duration, 0)

    def set_playhead(self, seconds: float) -> None:
        self.playhead = seconds
        x = self.x_of(seconds)
        if x > self.width() - 20 or x < 0:  # keep the playhead in view while it plays
            self.offset = max(0.0, seconds - 0.1 * self.width() / self.zoom)
        self.update()

    def _timeline_changed(self, timeline) -> None:
        tracks = len(timeline.tracks) if timeline else 0
        self.setMinimumHeight(RULER + ROW * max(tracks, 1))
        if self.selected and (timeline is None or self.selected[0] >= tracks
                              or self.selected[1] >= len(timeline.tracks[self.selected[0]].clips)):
            self.selected = None
        self.update()

    # -- snapping and edits --------------------------------------------------------------

    def _snap(self, seconds: float, modifiers) -> float:
        t = self.doc.timeline
        if t is None or modifiers & Qt.KeyboardModifier.ShiftModifier:
            return max(0.0, seconds)
        return t.snapped(seconds)

    def _edit(self, drag: Drag, pos: QPointF, modifiers):
        """The edit a drag to `pos` makes, as a function of the timeline."""
        now = self.time_at(pos.x())
        if drag.kind == "move":
            to = min(max(self.track_at(pos.y()), 0), len(self.doc.timeline.tracks) - 1)
            at = self._snap(now - drag.grab, modifiers)
            return lambda t: t.move_clip(drag.track, drag.index, to, at)
        if drag.kind in ("left", "right"):
            at = self._snap(now, modifiers)
            return lambda t: t.trim_clip(drag.track, drag.index, drag.kind, at)
        if drag.kind == "loop":
            start, end = drag.origin, self._snap(now, modifiers)
            return lambda t: t.set_loop(start, end)

        def fade(t: Timeline) -> Timeline:
            c = t.clip(drag.track, drag.index)
            if drag.kind == "fade_in":
                return t.set_clip(drag.track, drag.index, fade_in=min(max(now - c.at, 0.0), c.length - c.fade_out))
            return t.set_clip(drag.track, drag.index, fade_out=min(max(c.stop - now, 0.0), c.length - c.fade_in))
        return fade

    # -- mouse ---------------------------------------------------------------------------

    def mousePressEvent(self, event) -> None:
        pos, t = event.position(), self.doc.timeline
        if t is None:
            return
        if event.button() == Qt.MouseButton.RightButton:
            self._context_menu(event)
            return
        if event.button() != Qt.MouseButton.LeftButton:
            return
        if pos.y() < RULER:
            start = self._snap(self.time_at(pos.x()), event.modifiers())
            self._drag = Drag("loop", origin=start)
            self.playhead = self.time_at(pos.x())
            self.seek_requested.emit(self.playhead)
            self.update()
            return
        found = self.hit(pos)
        if found is None:
            self.selected = None
            self.playhead = self.time_at(pos.x())
            self.seek_requested.emit(self.playhead)
        else:
            track, index, part = found
            self.selected = (track, index)
            clip = t.tracks[track].clips[index]
            self._drag = Drag(part, track, index, grab=self.time_at(pos.x()) - clip.at)
        self.update()

    def mouseMoveEvent(self, event) -> None:
        pos = event.position()
        if self._drag is None:
            found = self.hit(pos)
            part = found[2] if found else None
            cursors = {"move": Qt.CursorShape.OpenHandCursor, "left": Qt.CursorShape.SizeHorCursor,
                       "right": Qt.CursorShape.SizeHorCursor, "fade_in": Qt.CursorShape.CrossCursor,
                       "fade_out": Qt.CursorShape.CrossCursor}
            self.setCursor(cursors.get(part, Qt.CursorShape.ArrowCursor))
            return
        try:
            self._preview = self._edit(self._drag, pos, event.modifiers())(self.doc.timeline)
        except BadInput:
            pass  # an edit that is not allowed (e.g. before zero): keep the last good preview
        self.update()

    def mouseReleaseEvent(self, event) -> None:
        drag, self._drag, self._preview = self._drag, None, None
        if drag is None:
            return
        moved = drag.kind != "loop" or abs(self.time_at(event.position().x()) - drag.origin) > 0.05
        if moved:
            edit = self._edit(drag, event.position(), event.modifiers())
            if self.doc.apply(edit) and drag.kind == "move":
                t = self.doc.timeline
                to = min(max(self.track_at(event.position().y()), 0), len(t.tracks) - 1)
                self.selected = (to, len(t.tracks[to].clips) - 1) if to != drag.track else self.selected
        self.update()

    def wheelEvent(self, event) -> None:
        steps = event.angleDelta().y() / 120 or event.angleDelta().x() / 120
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.set_zoom(self.zoom * (1.25 ** steps), event.position().x())
        else:
            self.offset = max(0.0, self.offset - steps * 80 / self.zoom)
            self.update()

    def _context_menu(self, event) -> None:
        found = self.hit(event.position())
        if found is None:
            return
        track, index, _ = found
        self.selected = (track, index)
        menu = QMenu(self)
        menu.addAction("Clip gain…", lambda: self.ask_gain(track, index))
        menu.addAction("Remove fades", lambda: self.doc.apply(
            lambda t: t.set_clip(track, index, fade_in=0.0, fade_out=0.0)))
        menu.addAction("Remove clip", lambda: self.doc.apply(lambda t: t.remove_clip(track, index)))
        menu.popup(event.globalPosition().toPoint())

    def ask_gain(self, track: int, index: int) -> None:
        clip = self.doc.timeline.clip(track, index)
        dialog = QInputDialog(self, windowTitle="Clip gain", labelText="Gain in dB (−60 to +24):")
        dialog.setInputMode(QInputDialog.InputMode.DoubleInput)
        dialog.setDoubleRange(-60.0, 24.0)
        dialog.setDoubleDecimals(1)
        dialog.setDoubleValue(clip.gain_db)
        dialog.doubleValueSelected.connect(
            lambda db: self.doc.apply(lambda t: t.set_clip(track, index, gain_db=db)))
        dialog.open()

    # -- keys ----------------------------------------------------------------------------

    def keyPressEvent(self, event) -> None:
        key, t = event.key(), self.doc.timeline
        if key == Qt.Key.Key_Space:
            self.play_toggled.emit()
        elif key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal):
            self.set_zoom(self.zoom * 1.5)
        elif key == Qt.Key.Key_Minus:
            self.set_zoom(self.zoom / 1.5)
        elif key == Qt.Key.Key_Home:
            self.offset, self.playhead = 0.0, 0.0
            self.seek_requested.emit(0.0)
            self.update()
        elif key in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace) and self.selected and t:
            track, index = self.selected
            self.selected = None
            self.doc.apply(lambda t: t.remove_clip(track, index))
        elif key in (Qt.Key.Key_Left, Qt.Key.Key_Right) and self.selected and t:
            track, index = self.selected
            step = t.grid_seconds() or 0.1
            clip = t.clip(track, index)
            at = max(0.0, clip.at + (step if key == Qt.Key.Key_Right else -step))
            self.doc.apply(lambda t: t.set_clip(track, index, at=at))
        elif key == Qt.Key.Key_G and self.selected and t:
            self.ask_gain(*self.selected)
        else:
            super().keyPressEvent(event)

    # -- drops ---------------------------------------------------------------------------

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasFormat(CUE_MIME):
            event.acceptProposedAction()

    def dragMoveEvent(self, event) -> None:
        if event.mimeData().hasFormat(CUE_MIME):
            pos = event.position()
            self._drop_at = (max(self.track_at(pos.y()), 0), self._snap(self.time_at(pos.x()), event.modifiers()))
            event.acceptProposedAction()
            self.update()

    def dragLeaveEvent(self, event) -> None:
        self._drop_at = None
        self.update()

    def dropEvent(self, event) -> None:
        self._drop_at = None
        items = parse_cue_mime(bytes(event.mimeData().data(CUE_MIME)))
        if not items:
            return
        pos = event.position()
        track = max(self.track_at(pos.y()), 0)
        self.doc.add_cues([i for i, _ in items], track, self._snap(self.time_at(pos.x()), event.modifiers()),
                          {i: region for i, region in items if region})
        event.acceptProposedAction()
        self.setFocus()
        self.update()

    # -- painting ------------------------------------------------------------------------

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        pal = self.palette()
        p.fillRect(self.rect(), pal.base())
        t = self.shown
        if t is None:
            p.setPen(pal.placeholderText().color())
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter,
                       "No timeline open: press New above, then drag cues here")
            return
        for n in range(len(t.tracks)):
            if n % 2:
                p.fillRect(QRectF(0, RULER + n * ROW, self.width(), ROW), pal.alternateBase())
        self._paint_grid(p, t)
        if t.loop:
            x0, x1 = self.x_of(t.loop[0]), self.x_of(t.loop[1])
            loop_color = QColor(pal.highlight().color())
            loop_color.setAlpha(40)
            p.fillRect(QRectF(x0, 0, x1 - x0, self.height()), loop_color)
            loop_color.setAlpha(160)
            p.fillRect(QRectF(x0, 0, x1 - x0, 6), loop_color)
        for n, track in enumerate(t.tracks):
            for index, clip in enumerate(track.clips):
                self._paint_clip(p, n, index, clip, dim=track.mute or (any(x.solo for x in t.tracks) and not track.solo))
        if self._drop_at:
            track, at = self._drop_at
            x = self.x_of(at)
            p.setPen(QPen(pal.highlight().color(), 2, Qt.PenStyle.DashLine))
            p.drawLine(QPointF(x, RULER + track * ROW), QPointF(x, RULER + (track + 1) * ROW))
        x = self.x_of(self.playhead)
        p.setPen(QPen(QColor("#e74c3c"), 1.5))
        p.drawLine(QPointF(x, 0), QPointF(x, self.height()))

    def _paint_grid(self, p: QPainter, t: Timeline) -> None:
        pal = self.palette()
        beat = 60.0 / t.tempo
        if t.snap == "bars":
            unit, label = beat * 4, lambda i, s: f"{i + 1}"
        else:
            unit, label = 1.0, lambda i, s: f"{int(s // 60)}:{s % 60:04.1f}" if s >= 60 else f"{s:g}s"
        every = max(1, math.ceil(60 / (unit * self.zoom)))  # a label every ≥ 60 px
        first = int(self.offset / unit)
        last = int(self.time_at(self.width()) / unit) + 1
        grid = t.grid_seconds()
        if grid and grid * self.zoom >= 8:  # fine snap lines, when they are far enough apart
            p.setPen(QPen(pal.mid().color(), 0.5, Qt.PenStyle.DotLine))
            g = math.floor(self.offset / grid)
            while g * grid <= self.time_at(self.width()):
                x = self.x_of(g * grid)
                p.drawLine(QPointF(x, RULER), QPointF(x, self.height()))
                g += 1
        p.fillRect(QRectF(0, 0, self.width(), RULER), pal.window())
        for i in range(first - first % every, last, every):
            seconds = i * unit
            x = self.x_of(seconds)
            p.setPen(pal.mid().color())
            p.drawLine(QPointF(x, RULER - 8), QPointF(x, self.height()))
            p.setPen(pal.text().color())
            p.drawText(QPointF(x + 3, RULER - 9), label(i, seconds))

    def _paint_clip(self, p: QPainter, track: int, index: int, clip, dim: bool) -> None:
        pal = self.palette()
        rect = self.clip_rect(track, clip)
        if rect.right() < 0 or rect.left() > self.width():
            return
        selected = self.selected == (track, index)
        fill = QColor(pal.highlight().color())
        fill.setAlpha(70 if dim else 130)
        p.fillRect(rect, fill)
        cue = self.doc.cues.get(clip.cue_id)
        image = self._clip_image(cue, clip, rect, dim)
        if image is not None:
            p.drawImage(rect.topLeft(), image)
        self._paint_fades(p, rect, clip)
        if clip.repeats:  # where a loop clip starts round again: a dotted line each time
            p.setPen(QPen(pal.text().color(), 1, Qt.PenStyle.DotLine))
            wrap = clip.source_duration - clip.start
            while wrap < clip.length:
                x = rect.left() + wrap * self.zoom
                p.drawLine(QPointF(x, rect.top()), QPointF(x, rect.bottom()))
                wrap += clip.source_duration
        damaged = clip.cue_id in self.damaged
        p.setPen(QPen(QColor("#e74c3c") if damaged else pal.text().color() if selected else pal.mid().color(),
                      2 if selected or damaged else 1))
        p.drawRect(rect)
        name = cue.prompt if cue else f"cue {clip.cue_id}"
        if clip.gain_db:
            name = f"{clip.gain_db:+.1f} dB  {name}"
        if damaged:
            name = f"⚠ damaged: {name}"
        elif clip.repeats and clip.end > clip.source_duration:
            name = f"⟲ ×{clip.length / clip.source_duration:.1f}  {name}"
        p.setPen(pal.text().color())
        p.drawText(rect.adjusted(FADE_GRIP + 2, 2, -FADE_GRIP, 0),
                   Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop, name)

    def _paint_fades(self, p: QPainter, rect: QRectF, clip) -> None:
        """Each fade as the raised-cosine curve the mix applies, the part it silences shaded."""
        shade = QColor(self.palette().base().color())
        shade.setAlpha(150)
        line = QPen(self.palette().text().color(), 1.2)
        for length, rising in ((clip.fade_in, True), (clip.fade_out, False)):
            width = length * self.zoom
            if width < 1:
                continue
            x0 = rect.left() if rising else rect.right() - width
            curve = QPainterPath()
            for i in range(33):
                f = i / 32
                gain = 0.5 - 0.5 * math.cos(math.pi * f) if rising else 0.5 + 0.5 * math.cos(math.pi * f)
                point = QPointF(x0 + f * width, rect.bottom() - gain * rect.height())
                curve.lineTo(point) if i else curve.moveTo(point)
            shaded = QPainterPath(curve)
            shaded.lineTo(x0 + width, rect.top())
            shaded.lineTo(x0, rect.top())
            shaded.closeSubpath()
            p.fillPath(shaded, shade)
            p.setPen(line)
            p.drawPath(curve)

    def mark_damaged(self, cue_id: int, message: str) -> None:
        """Its clips show that the cue's file is missing or changed."""
        self.damaged[cue_id] = message
        self.update()

    def _clip_image(self, cue, clip, rect: QRectF, dim: bool):
        if cue is None or rect.width() < 2:
            return None
        key = (cue.sha256, clip.start, clip.end, int(rect.width()), int(rect.height()), dim)
        image = self._images.get(key)
        if image is None:
            data = self.waveforms.get(cue)
            if data is None:
                return None
            first = int(len(data) * clip.start / cue.duration)
            last = max(first + 1, int(math.ceil(len(data) * clip.end / cue.duration)))
            color = QColor(self.palette().text().color())
            color.setAlpha(90 if dim else 170)
            shown = data.take(np.arange(first, last) % len(data), axis=0)  # a loop's repeats too
            image = overview_image(shown, int(rect.width()), int(rect.height()), color,
                                   self.waveforms.common_scale)
            if len(self._images) > 500:
                self._images.clear()
            self._images[key] = image
        return image
