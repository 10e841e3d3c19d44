"""The main window: library on the left, prompt and candidates in the middle, details on the
right, jobs below. Nothing here waits on the engine, the disk or the audio device."""

from dataclasses import replace

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDockWidget, QLabel, QMainWindow, QMessageBox, QSplitter, QVBoxLayout, QWidget

from engine import __version__, registry
from engine.errors import BadInput
from engine.export import export_cue
from engine.registry import WEIGHTS_LICENCE

from . import settings as stored
from .audition import Audition
from .background import Background
from .candidates_grid import CandidatesGrid
from .cue_actions import CueActions
from .cue_keys import SHORTCUTS
from .cue_store import CueStore
from .details_panel import DetailsPanel
from .engine_bridge import EngineBridge
from .export_dialog import ExportDialog
from .jobs_panel import JobsPanel
from .models_dialog import ModelsDialog
from .library_panel import LibraryPanel
from .prompt_panel import PromptPanel
from .settings_dialog import SettingsDialog
from .timeline_doc import TimelineDocument
from .timeline_panel import TimelinePanel
from .waveform import WaveformCache


class MainWindow(QMainWindow):
    def __init__(self, settings):
        super().__init__()
        self.setWindowTitle("CueDeck")
        self.settings = settings
        self.background = Background(self)
        self.store = CueStore(self.background, self)
        self.engine = EngineBridge(self)
        self.audition = Audition(self.background, self)
        self.waveforms = WaveformCache(self.background, self)
        self.actions = CueActions(self.store, self.audition, self.more_like_this)
        self._requests = {}  # job id → request, for the jobs still running

        self.prompt = PromptPanel()
        self.prompt_error = QLabel("")
        self.prompt_error.setStyleSheet("color: #c0392b")
        self.prompt_error.setWordWrap(True)
        self.prompt_error.hide()
        self.grid = CandidatesGrid(self.actions, self.waveforms)
        self.library = LibraryPanel(self.store, self.actions, self.waveforms)
        self.details = DetailsPanel(self.store)
        self.jobs = JobsPanel()
        self.timeline_doc = TimelineDocument(self.background, self)
        self.timeline = TimelinePanel(self.timeline_doc, self.audition, self.waveforms,
                                      self.background, settings)
        self._current_cue = None  # the cue last selected in the grid or the library
        self._models_dialog = None

        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.addWidget(self.prompt)
        top_layout.addWidget(self.prompt_error)
        center = QSplitter(Qt.Orientation.Vertical)
        center.addWidget(top)
        center.addWidget(self.grid)
        center.setStretchFactor(1, 1)
        self.setCentralWidget(center)
        self._side_docks = [
            self._dock("Library", self.library, Qt.DockWidgetArea.LeftDockWidgetArea),
            self._dock("Details", self.details, Qt.DockWidgetArea.RightDockWidgetArea)]
        self._timeline_dock = self._dock("Timeline", self.timeline, Qt.DockWidgetArea.BottomDockWidgetArea)
        self._jobs_dock = self._dock("Jobs", self.jobs, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.splitDockWidget(self._timeline_dock, self._jobs_dock, Qt.Orientation.Horizontal)
        self.statusBar().showMessage(f"CueDeck {__version__}. MusicGen, AudioGen and MAGNeT "
                                     f"weights are {WEIGHTS_LICENCE} (non-commercial).")
        self._menus()

        self.prompt.generate_requested.connect(self.generate)
        # Typing a prompt says a job is coming: start the worker while the user types.
        self.prompt.prompt.textChanged.connect(self._warm_up)
        self.jobs.cancel_requested.connect(self.engine.cancel)
        self.engine.progress.connect(self._progress)
        self.engine.finished.connect(self._finished)
        self.engine.failed.connect(self._failed)
        self.engine.cancelled.connect(self._cancelled)
        self.engine.preview.connect(self.grid.job_preview)
        self.store.added.connect(self._cues_arrived)
        for view in (self.grid, self.library, self.details):
            self.store.changed.connect(view.cue_changed)
        self.store.removed.connect(lambda _: self.library.refresh())
        self.store.error.connect(self.show_error)
        self.audition.error.connect(self.show_error)
        self.background.cue_damaged.connect(self.grid.mark_damaged)
        self.background.cue_damaged.connect(self.timeline.canvas.mark_damaged)
        self.audition.playing_changed.connect(self.grid.set_playing)
        self.audition.position_changed.connect(self.grid.set_position)
        for view in (self.grid, self.library):
            view.current_changed.connect(self.details.show_cue)
            view.current_changed.connect(self._set_current_cue)
        self.timeline.status.connect(self.show_error)
        self.prompt.melody_from_cue_requested.connect(self._melody_from_cue)

        self._restore()
        self.prompt.prompt.setFocus()  # ready to type a prompt
        # After the first paint: the library list, which models are here, PortAudio's start.
        QTimer.singleShot(0, self._after_start)

    def _dock(self, title: str, widget, area) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock-{title.lower()}")
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self._action(file_menu, "&New timeline…", None, self.timeline.new_timeline)
        self._action(file_menu, "&Export timeline…", QKeySequence("Ctrl+Shift+E"), self.timeline.export)
        self._action(file_menu, "Export selected &cue…", QKeySequence("Ctrl+E"), self.export_cue)
        file_menu.addSeparator()
        self._action(file_menu, "&Models…", QKeySequence("Ctrl+Shift+M"), self.open_models)
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", QKeySequence.StandardKey.Quit, self.close)
        edit = self.menuBar().addMenu("&Edit")
        self.undo_action = self._action(edit, "&Undo timeline edit", QKeySequence.StandardKey.Undo,
                                        self.timeline_doc.undo)
        self.redo_action = self._action(edit, "&Redo timeline edit", QKeySequence("Ctrl+Shift+Z"),
                                        self.timeline_doc.redo)
        self.timeline_doc.changed.connect(self._undo_state)
        self._undo_state(None)
        edit.addSeparator()
        self._action(edit, "&Find in library", QKeySequence.StandardKey.Find,
                     lambda: (self.library.search.setFocus(), self.library.search.selectAll()))
        self._action(edit, "&Settings…", QKeySequence("Ctrl+,"), self.open_settings)
        play = self.menuBar().addMenu("&Playback")
        self._action(play, "&Stop", QKeySequence("Ctrl+."), self.audition.stop)
        self.loop_action = self._action(play, "&Loop (L)", None, self._toggle_loop, checkable=True)
        self.auto_action = self._action(play, "&Auto-audition", None, self._set_auto, checkable=True)
        self.match_action = self._action(play, "&Match loudness", None, self._set_match,
                                         checkable=True)
        help_menu = self.menuBar().addMenu("&Help")
        self._action(help_menu, "&Keyboard shortcuts", QKeySequence.StandardKey.HelpContents,
                     self._show_shortcuts)
        self._action(help_menu, "&About CueDeck", None, self._about)

    def _action(self, menu, text, keys, slot, checkable=False) -> QAction:
        action = QAction(text, self, checkable=checkable)
        if keys is not None:
            action.setShortcut(keys)
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    # -- generation ----------------------------------------------------------------------

    def _warm_up(self) -> None:
        self.prompt.prompt.textChanged.disconnect(self._warm_up)
        self.engine.start()

    def generate(self) -> None:
        self._submit(self.prompt.request())

    def more_like_this(self, cue) -> None:
        """Continuations of `cue`: its prompt and model, the panel's count and duration
        (at least a few seconds past the part of the cue they start from)."""
        panel = self.prompt.request()
        duration = max(panel.duration, min(cue.duration, 5.0) + 3.0)
        self._submit(replace(panel, prompt=cue.prompt, model=cue.model, parent_id=cue.id,
                             prompt_seconds=None, duration=duration))

    def _submit(self, request) -> None:
        request = replace(request, device=stored.read(self.settings, "engine/device", "auto"),
                          precision=stored.read(self.settings, "engine/precision", "fp32"))
        try:
            request = request.validated()
            job_id = self.engine.submit(request)
        except BadInput as e:
            self.prompt_error.setText(str(e))
            self.prompt_error.show()
            return
        self.prompt_error.hide()
        self._requests[job_id] = request
        self.jobs.add(job_id, request)
        self.grid.add_job(job_id, request)

    def _progress(self, job_id: str, fraction: float, stage: str) -> None:
        self.jobs.progress(job_id, fraction, stage)
        self.grid.job_progress(job_id, fraction, stage)

    def _finished(self, job_id: str, cues: list) -> None:
        self.jobs.progress(job_id, 1.0, "saving")
        self.store.load_job(job_id, [c["id"] for c in cues])

    def _cues_arrived(self, job_id: str, cues: list) -> None:
        self._requests.pop(job_id, None)
        self.jobs.done(job_id)
        self.grid.job_done(job_id, cues)
        self.library.refresh()
        if not self.grid.hasFocus() and not self.prompt.prompt.hasFocus():
            self.grid.setFocus()

    def _failed(self, job_id: str, message: str) -> None:
        self._requests.pop(job_id, None)
        self.jobs.failed(job_id, message)
        self.grid.job_failed(job_id, message)

    def _cancelled(self, job_id: str) -> None:
        self._requests.pop(job_id, None)
        self.jobs.cancelled(job_id)
        self.grid.job_cancelled(job_id)

    # -- models ----------------------------------------------------------------------------

    def open_models(self) -> None:
        if self._models_dialog is None:
            self._models_dialog = ModelsDialog(self.background, self)
            self._models_dialog.changed.connect(self._refresh_presence)
        self._models_dialog.refresh()
        self._models_dialog.show()
        self._models_dialog.raise_()

    def _refresh_presence(self) -> None:
        self.background.files(lambda: {n: i.is_present() for n, i in registry.MODELS.items()},
                              self.prompt.set_presence)

    # -- timeline and export -------------------------------------------------------------

    def _undo_state(self, _) -> None:
        history = self.timeline_doc.history
        self.undo_action.setEnabled(bool(history and history.can_undo()))
        self.redo_action.setEnabled(bool(history and history.can_redo()))

    def _set_current_cue(self, cue) -> None:
        self._current_cue = cue

    def _melody_from_cue(self) -> None:
        cue = self._current_cue
        if cue is None:
            self.show_error("select a cue in the candidates or the library to use as the melody")
        else:
            self.prompt.set_melody(f"cue:{cue.id}", f"cue {cue.id}: {cue.prompt}")

    def export_cue(self) -> None:
        cue = self._current_cue
        if cue is None:
            self.show_error("select a cue in the candidates or the library first")
            return
        dialog = ExportDialog(f"cue {cue.id}", self.settings.value("export/folder", ""), None, self)
        dialog.accepted.connect(lambda: self._export_cue(cue.id, dialog.options()))
        dialog.open()

    def _export_cue(self, cue_id: int, options: dict) -> None:
        self.settings.setValue("export/folder", str(options["out_dir"]))
        self.background.library(
            lambda lib: lib.get(cue_id),  # its latest tags, rating and CatID
            lambda cue: self.background.files(lambda: export_cue(cue, **options),
                                              lambda path: self.show_error(f"exported cue {cue_id} to {path}"),
                                              lambda m: self.show_error(f"export failed: {m}")),
            self.show_error)

    # -- settings ------------------------------------------------------------------------

    def show_error(self, message: str) -> None:
        self.statusBar().showMessage(message, 10_000)

    def _toggle_loop(self) -> None:
        self.audition.loop = self.loop_action.isChecked()

    def _set_auto(self, on: bool) -> None:
        self.grid.auto_audition = self.library.auto_audition = on

    def _set_match(self, on: bool) -> None:
        self.audition.match_loudness = on

    def open_settings(self) -> None:
        dialog = SettingsDialog(self.background, self.settings.value("audio/device"),
                                self.auto_action.isChecked(), self.match_action.isChecked(),
                                stored.read(self.settings, "engine/device", "auto"),
                                stored.read(self.settings, "engine/precision", "fp32"), self)
        dialog.setModal(True)
        dialog.accepted.connect(lambda: self._apply_settings(dialog))
        dialog.open()

    def _apply_settings(self, dialog) -> None:
        device = dialog.chosen_device()
        self.settings.setValue("audio/device", device)
        self.settings.setValue("engine/device", dialog.engine_device.currentData())
        self.settings.setValue("engine/precision", dialog.precision.currentData())
        self.audition.set_device(device)
        self.auto_action.setChecked(dialog.auto_audition.isChecked())
        self._set_auto(dialog.auto_audition.isChecked())
        self.match_action.setChecked(dialog.match_loudness.isChecked())
        self._set_match(dialog.match_loudness.isChecked())

    def _show_shortcuts(self) -> None:
        rows = "".join(f"<tr><td><b>{k}</b></td><td>{v}</td></tr>" for k, v in SHORTCUTS)
        QMessageBox.information(self, "Keyboard shortcuts", f"<table>{rows}</table>")

    def _about(self) -> None:
        QMessageBox.about(self, "About CueDeck", (
            f"<b>CueDeck {__version__}</b><br>Candidate cues from a local audiocraft engine.<br><br>"
            f"CueDeck and the audiocraft code are MIT-licensed. The MusicGen, AudioGen and MAGNeT "
            f"weights are {WEIGHTS_LICENCE}: non-commercial use only. The tiny-music and "
            f"tiny-sfx models are untrained test models that produce noise."))

    def _after_start(self) -> None:
        if self._first_run:  # room for the candidates in the middle (docks size once shown)
            self.resizeDocks(self._side_docks, [470, 300], Qt.Orientation.Horizontal)
            self.resizeDocks([self._timeline_dock], [230], Qt.Orientation.Vertical)
            self.resizeDocks([self._timeline_dock, self._jobs_dock], [900, 300], Qt.Orientation.Horizontal)
        self.library.refresh()
        self.timeline_doc.refresh_names(then_open=True, prefer=self.settings.value("timeline/open"))
        self._refresh_presence()
        self.background.files(lambda: __import__("sounddevice"), None, self.show_error)

    def _restore(self) -> None:
        s = self.settings
        if s.value("window/geometry") is not None:
            self.restoreGeometry(s.value("window/geometry"))
        else:
            self.resize(1400, 860)
        if s.value("window/state") is not None:
            self.restoreState(s.value("window/state"))
        self._first_run = s.value("window/state") is None
        self.prompt.restore(s)
        self.loop_action.setChecked(stored.read(s, "audio/loop", False))
        self.auto_action.setChecked(stored.read(s, "audio/auto_audition", True))
        self.match_action.setChecked(stored.read(s, "audio/match_loudness", True))
        self._toggle_loop()
        self._set_auto(self.auto_action.isChecked())
        self._set_match(self.match_action.isChecked())
        device = s.value("audio/device")
        if device:
            self.audition.set_device(device)

    def save(self) -> None:
        s = self.settings
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/state", self.saveState())
        self.prompt.save(s)
        s.setValue("audio/loop", self.loop_action.isChecked())
        s.setValue("audio/auto_audition", self.auto_action.isChecked())
        s.setValue("audio/match_loudness", self.match_action.isChecked())
        if self.timeline_doc.timeline is not None:
            s.setValue("timeline/open", self.timeline_doc.timeline.name)
        s.sync()

    def closeEvent(self, event) -> None:
        """Save the layout and any pending edit, stop audio and the engine, then close."""
        self.details.flush()
        self.timeline.cancel_export.click()  # a half-written export is removed, not left
        if self._models_dialog is not None:
            self._models_dialog.shutdown()
        self.save()
        self.audition.close()
        self.engine.close()
        self.background.shutdown()
        super().closeEvent(event)
