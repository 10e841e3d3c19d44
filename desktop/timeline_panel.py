"""The timeline dock: which timeline, its grid, transport and export above; track headers
(name, mute, solo, gain) beside the canvas. Playback renders the mix on a file thread and
plays it through the same player as audition; export runs off the UI thread with progress."""

import threading

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QComboBox, QDoubleSpinBox, QHBoxLayout, QInputDialog, QLabel,
                               QLineEdit, QMessageBox, QProgressBar, QScrollArea, QToolButton,
                               QVBoxLayout, QWidget)

from engine import timecode
from engine.errors import BadInput
from engine.export import licence_text, licences, write_export
from engine.mixdown import render
from engine.player import prepare
from engine.timeline import DELIVERY_ROLES, Timeline

from .audition import MIX
from .export_dialog import ExportDialog, delivery_from, remember
from .flow_layout import FlowLayout
from .timeline_view import ROW, RULER, TimelineCanvas


def playback_buffer(timeline: Timeline, cues: dict, start: float, end: float | None):
    """The mix from `start` to `end` (or the end), ready for the player (file thread)."""
    used = {i: cues[i] for i in timeline.cue_ids() if i in cues}
    rate = max((c.sample_rate for c in used.values()), default=48000)
    mix = render(timeline, used, rate).mix
    first, last = int(start * rate), len(mix) if end is None else int(end * rate)
    if first >= len(mix):
        raise BadInput("the playhead is past the last clip; press Home to go back to the start")
    return prepare(mix[first:last], rate), rate


class TrackHeader(QWidget):
    def __init__(self, doc, index: int, parent=None):
        super().__init__(parent)
        self.setFixedHeight(ROW)
        self.doc, self.index = doc, index
        self.name = QLineEdit()
        self.name.setToolTip("Track name")
        self.name.editingFinished.connect(lambda: self._set(name=self.name.text()))
        self.mute = QToolButton(text="M", checkable=True, toolTip="Mute")
        self.solo = QToolButton(text="S", checkable=True, toolTip="Solo")
        self.mute.clicked.connect(lambda on: self._set(mute=on))
        self.solo.clicked.connect(lambda on: self._set(solo=on))
        self.gain = QDoubleSpinBox(minimum=-60.0, maximum=24.0, decimals=1, suffix=" dB",
                                   singleStep=0.5, keyboardTracking=False, toolTip="Track gain")
        self.gain.valueChanged.connect(lambda db: self._set(gain_db=db))
        self.role = QComboBox(toolTip="The track's delivery role, in its stem's file name: dialogue, music, "
                                      "effects, backgrounds (Auto: MX for music, FX for effects)")
        for role in ("", *DELIVERY_ROLES):
            self.role.addItem(role or "Auto", role)
        self.role.activated.connect(lambda _: self._set(role=self.role.currentData()))
        remove = QToolButton(text="✕", toolTip="Remove this track", autoRaise=True)
        remove.clicked.connect(self._remove)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.setSpacing(2)
        top = QHBoxLayout()
        top.addWidget(self.name)
        top.addWidget(remove)
        bottom = QHBoxLayout()
        bottom.addWidget(self.mute)
        bottom.addWidget(self.solo)
        bottom.addWidget(self.gain)
        bottom.addWidget(self.role)
        layout.addLayout(top)
        layout.addLayout(bottom)

    def show_track(self, track) -> None:
        for widget, value in ((self.name, track.name), (self.mute, track.mute), (self.solo, track.solo),
                              (self.gain, track.gain_db)):
            widget.blockSignals(True)
            if widget is self.name:
                if not widget.hasFocus():
                    widget.setText(value)
            elif widget is self.gain:
                widget.setValue(value)
                self.role.setCurrentIndex(self.role.findData(track.role))
            else:
                widget.setChecked(value)
            widget.blockSignals(False)

    def _set(self, **changes) -> None:
        track = self.doc.timeline.tracks[self.index]
        if any(getattr(track, k) != v for k, v in changes.items()):
            if not self.doc.apply(lambda t: t.set_track(self.index, **changes)):
                self.show_track(track)

    def _remove(self) -> None:
        self.doc.apply(lambda t: t.remove_track(self.index))


class TimelinePanel(QWidget):
    status = Signal(str)           # one line for the status bar
    exported = Signal(str, object)  # summary, folder
    _export_progress = Signal(float, str)

    def __init__(self, doc, audition, waveforms, background, settings, parent=None):
        super().__init__(parent)
        self.doc, self.audition, self.background, self.settings = doc, audition, background, settings
        self.canvas = TimelineCanvas(doc, waveforms)
        self._headers: list[TrackHeader] = []
        self._play_from = 0.0
        self._export_cancel: threading.Event | None = None

        self.picker = QComboBox(minimumWidth=160, toolTip="Timelines in this library")
        self.picker.activated.connect(lambda i: self.doc.open(self.picker.itemText(i)))
        buttons = [
            ("New…", "New timeline", self.new_timeline), ("Rename…", "Rename this timeline", self.rename),
            ("Delete", "Delete this timeline (its cues stay in the library)", self.delete),
            ("+ Track", "Add a track", lambda: self.doc.apply(lambda t: t.add_track())),
        ]
        bar = FlowLayout()  # wraps on a narrow window: every control stays reachable
        bar.addWidget(QLabel("Timeline"))
        bar.addWidget(self.picker)
        for text, tip, slot in buttons:
            button = QToolButton(text=text, toolTip=tip)
            button.clicked.connect(slot)
            bar.addWidget(button)
        self.snap = QComboBox(toolTip="Snap clips and the loop to a grid (hold Shift while dragging to bypass)")
        for label, unit in [("No snap", "off"), ("Snap: seconds", "seconds"), ("Snap: bars", "bars")]:
            self.snap.addItem(label, unit)
        self.snap.activated.connect(lambda _: self._grid(snap=self.snap.currentData()))
        self.step = QDoubleSpinBox(minimum=0.01, maximum=64, decimals=2, singleStep=0.25,
                                   keyboardTracking=False, toolTip="Grid step, in seconds or bars")
        self.step.valueChanged.connect(lambda v: self._grid(snap_step=v))
        self.tempo = QDoubleSpinBox(minimum=20, maximum=400, decimals=1, suffix=" BPM",
                                    keyboardTracking=False, toolTip="Tempo for the bar grid")
        self.tempo.valueChanged.connect(lambda v: self._grid(tempo=v))
        self.start_tc = QLineEdit(maximumWidth=110, toolTip="Timecode at timeline zero (HH:MM:SS:FF; drop-frame "
                                  "HH:MM:SS;FF): exported stems spot to picture there")
        self.start_tc.editingFinished.connect(lambda: self._timecode(start=self.start_tc.text()))
        self.fps = QComboBox(toolTip="Frame rate of the picture's timecode")
        self.fps.addItems([f"{name} fps" for name in timecode.RATES])
        self.fps.activated.connect(lambda i: self._timecode(frame_rate=list(timecode.RATES)[i]))
        for widget in (self.snap, self.step, self.tempo, self.start_tc, self.fps):
            bar.addWidget(widget)
        zoom_out = QToolButton(text="−", toolTip="Zoom out (-)")
        zoom_out.clicked.connect(lambda: self.canvas.set_zoom(self.canvas.zoom / 1.5))
        zoom_in = QToolButton(text="+", toolTip="Zoom in (+, or Ctrl+wheel)")
        zoom_in.clicked.connect(lambda: self.canvas.set_zoom(self.canvas.zoom * 1.5))
        fit = QToolButton(text="Fit", toolTip="Zoom to show the whole timeline")
        fit.clicked.connect(self.canvas.zoom_to_fit)
        self.play_button = QToolButton(text="▶ Play", toolTip="Play the mix from the playhead (Space in the timeline)")
        self.play_button.clicked.connect(self.toggle_play)
        self.loop_button = QToolButton(text="Loop", checkable=True,
                                       toolTip="Play the loop region over and over (drag in the ruler to set it)")
        self.export_button = QToolButton(text="Export…", toolTip="Stems, mix, .otio and provenance (Ctrl+Shift+E)")
        self.export_button.clicked.connect(self.export)
        self.progress = QProgressBar(maximumWidth=160, visible=False)
        self.cancel_export = QToolButton(text="Cancel", visible=False)
        self.cancel_export.clicked.connect(lambda: self._export_cancel and self._export_cancel.set())
        for widget in (zoom_out, zoom_in, fit, self.play_button, self.loop_button, self.export_button,
                       self.progress, self.cancel_export):
            bar.addWidget(widget)

        self._header_column = QWidget()
        self._header_column.setFixedWidth(200)
        self._header_layout = QVBoxLayout(self._header_column)
        self._header_layout.setContentsMargins(0, RULER, 0, 0)
        self._header_layout.setSpacing(0)
        self._header_layout.addStretch(1)
        body = QWidget()
        body_layout = QHBoxLayout(body)
        body_layout.setContentsMargins(0, 0, 0, 0)
        body_layout.setSpacing(0)
        body_layout.addWidget(self._header_column)
        body_layout.addWidget(self.canvas, 1)
        scroll = QScrollArea(widgetResizable=True)
        scroll.setWidget(body)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(bar)
        layout.addWidget(scroll, 1)

        doc.changed.connect(self._show)
        doc.names_changed.connect(self._names)
        doc.error.connect(self.status.emit)
        self.canvas.play_toggled.connect(self.toggle_play)
        self.canvas.seek_requested.connect(self._seek)
        self.audition.position_changed.connect(self._position)
        self.audition.playing_changed.connect(self._playing)
        self._export_progress.connect(self._show_progress)
        self._show(None)

    # -- which timeline ------------------------------------------------------------------

    def new_timeline(self) -> None:
        name, ok = QInputDialog.getText(self, "New timeline", "Name:", text=self._free_name())
        if ok and name.strip():
            self.doc.create(name)

    def rename(self) -> None:
        t = self.doc.timeline
        if t is None:
            return
        name, ok = QInputDialog.getText(self, "Rename timeline", "Name:", text=t.name)
        taken = [self.picker.itemText(i).lower() for i in range(self.picker.count())]
        if ok and name.strip() and name.strip().lower() != t.name.lower():
            if name.strip().lower() in taken:
                self.status.emit(f"a timeline named {name.strip()!r} already exists; pick another name")
            else:
                self.doc.apply(lambda t: t.renamed(name))

    def delete(self) -> None:
        t = self.doc.timeline
        if t and QMessageBox.question(self, "Delete timeline",
                                      f"Delete the timeline {t.name!r}? Its cues stay in the library.") \
                == QMessageBox.StandardButton.Yes:
            self.doc.delete()

    def _free_name(self) -> str:
        names = {self.picker.itemText(i).lower() for i in range(self.picker.count())}
        n = 1
        while f"timeline {n}" in names:
            n += 1
        return f"Timeline {n}"

    def _names(self, names: list[str]) -> None:
        self.picker.clear()
        self.picker.addItems(names)
        if self.doc.timeline:
            self.picker.setCurrentText(self.doc.timeline.name)

    def _timecode(self, **changes) -> None:
        if self.doc.timeline is not None and not self.doc.apply(lambda t: t.set_timecode(**changes)):
            self._show(self.doc.timeline)  # refused (said in the status line): show what holds

    def _grid(self, **changes) -> None:
        if self.doc.timeline is not None:
            self.doc.apply(lambda t: t.set_grid(**changes))

    def _show(self, timeline) -> None:
        for widget in (self.snap, self.step, self.tempo, self.start_tc, self.fps, self.play_button,
                       self.loop_button, self.export_button):
            widget.setEnabled(timeline is not None)
        if timeline is None:
            tracks = ()
        else:
            tracks = timeline.tracks
            if self.picker.findText(timeline.name) < 0:
                self.picker.addItem(timeline.name)
            self.picker.setCurrentText(timeline.name)
            for widget, value in ((self.step, timeline.snap_step), (self.tempo, timeline.tempo)):
                widget.blockSignals(True)
                widget.setValue(value)
                widget.blockSignals(False)
            self.snap.setCurrentIndex(self.snap.findData(timeline.snap))
            self.start_tc.setText(timeline.start_timecode)
            self.fps.setCurrentIndex(list(timecode.RATES).index(timeline.frame_rate))
            self.step.setSuffix(" bars" if timeline.snap == "bars" else " s")
        while len(self._headers) > len(tracks):
            self._headers.pop().deleteLater()
        while len(self._headers) < len(tracks):
            header = TrackHeader(self.doc, len(self._headers))
            self._header_layout.insertWidget(len(self._headers), header)
            self._headers.append(header)
        for header, track in zip(self._headers, tracks):
            header.show_track(track)

    # -- transport -----------------------------------------------------------------------

    def toggle_play(self) -> None:
        if self.audition.cue_id == MIX and self.audition.playing:
            self.audition.stop()
        else:
            self.play(self.canvas.playhead)

    def play(self, start: float) -> None:
        t = self.doc.timeline
        if t is None:
            return
        loop = self.loop_button.isChecked() and t.loop is not None
        start, end = t.loop if loop else (start, None)
        cues = dict(self.doc.cues)
        self._play_from = start
        self.play_button.setText("■ Stop")
        self.background.files(lambda: playback_buffer(t, cues, start, end),
                              lambda loaded: self.audition.play_mix(*loaded, loop=loop),
                              self._play_failed)

    def _play_failed(self, message: str) -> None:
        self.play_button.setText("▶ Play")
        self.status.emit(f"cannot play the timeline: {message}")

    def _seek(self, seconds: float) -> None:
        if self.audition.cue_id == MIX and self.audition.playing:
            self.play(seconds)

    def _position(self, key: int, seconds: float) -> None:
        if key == MIX:
            self.canvas.set_playhead(self._play_from + seconds)

    def _playing(self, key: int, playing: bool) -> None:
        if key == MIX:
            self.play_button.setText("■ Stop" if playing else "▶ Play")

    # -- export --------------------------------------------------------------------------

    def export(self) -> None:
        t = self.doc.timeline
        if t is None or self._export_cancel is not None:
            return
        used = [self.doc.cues[i] for i in t.cue_ids() if i in self.doc.cues]
        dialog = ExportDialog(f"timeline {t.name!r}", self.settings.get("export/folder"), 48000, self, stems=True,
                              midi=self.settings.get("export/midi"), licences=licence_text(licences(used)),
                              delivery=delivery_from(self.settings))
        dialog.accepted.connect(lambda: self._start_export(t, dialog.options()))
        dialog.open()

    def _start_export(self, timeline: Timeline, options: dict) -> None:
        remember(self.settings, options)
        self.settings.set("export/midi", options.get("midi", False))
        cancel = self._export_cancel = threading.Event()
        self.progress.setValue(0)
        self.progress.show()
        self.cancel_export.show()
        self.export_button.setEnabled(False)

        def write(cues) -> object:  # on a file thread
            return write_export(timeline, {c.id: c for c in cues}, on_progress=self._export_progress.emit,
                                should_cancel=cancel.is_set, **options)
        # fresh cue rows from the library thread (tags, CatIDs), then the writing off it
        self.background.library(
            lambda lib: lib.get_many(timeline.cue_ids()),
            lambda cues: self.background.files(lambda: write(cues), self._export_done, self._export_failed),
            self._export_failed)

    def _show_progress(self, fraction: float, stage: str) -> None:
        self.progress.setValue(int(fraction * 100))
        self.progress.setFormat(stage)

    def _export_finished(self) -> None:
        self._export_cancel = None
        self.progress.hide()
        self.cancel_export.hide()
        self.export_button.setEnabled(self.doc.timeline is not None)

    def cancel_running_export(self) -> None:
        """Stop an export in progress (its half-written files are removed)."""
        if self._export_cancel is not None:
            self._export_cancel.set()

    def _export_done(self, result) -> None:
        self._export_finished()
        self.status.emit(result.summary())
        self.exported.emit(result.summary(), result.folder)

    def _export_failed(self, message: str) -> None:
        self._export_finished()
        self.status.emit(f"export failed: {message}")
