"""The main window: library on the left, prompt and candidates in the middle, details and jobs
on the right, the timeline below. Nothing here waits on the engine, the disk or the audio
device. Every control stays reachable from 1024 × 700 up: docks have minimum sizes, toolbars
wrap, and a saved layout that no longer fits the screen is repaired, not restored as is."""

import sys
from dataclasses import replace
from html import escape
from pathlib import Path

from PySide6.QtCore import QEvent, Qt, QTimer, QUrl
from PySide6.QtGui import QAction, QDesktopServices, QKeyEvent, QKeySequence
from PySide6.QtWidgets import (QAbstractSpinBox, QApplication, QComboBox, QDockWidget, QHBoxLayout,
                               QLabel, QLineEdit, QMainWindow, QMessageBox, QPlainTextEdit,
                               QPushButton, QSplitter, QTextEdit, QVBoxLayout, QWidget)

from engine import __version__, registry, ucs
from engine.errors import BadInput, ModelNotPresent
from engine.export import export_cue, licence_text, licences
from engine.cue import stem_text
from engine.registry import WEIGHTS_LICENCE

from . import theme
from .audition import Audition
from .background import Background
from .candidate_card import CandidateCard
from .candidates_grid import CARD_WIDTH, CandidatesGrid
from .cue_actions import CueActions
from .cue_keys import SHORTCUTS, cue_action
from .cue_store import CueStore
from .details_panel import DetailsPanel
from .edit_history import EditHistory
from .engine_bridge import EngineBridge
from .export_dialog import ExportDialog, delivery_from, remember
from .export_notice import ExportNotice
from .jobs_panel import JobsPanel, request_text
from .library_panel import LibraryPanel
from .models_dialog import ModelsDialog
from .prompt_panel import PromptPanel
from .settings_dialog import SettingsDialog
from .timeline_doc import TimelineDocument
from .timeline_panel import TimelinePanel
from .transcriber import Transcriber
from .waveform import WaveformCache

LAYOUT_VERSION = 2  # QMainWindow state; 2: Jobs moved beside Details (older layouts are not restored)
DEFAULT_SIZE = (1400, 860)
MIN_SIZES = {"Library": (240, 150), "Details": (200, 120), "Jobs": (220, 90), "Timeline": (320, 170)}
_TYPING = (QLineEdit, QAbstractSpinBox, QPlainTextEdit, QTextEdit)


def versions() -> str:
    """audiocraft's, torch's and Qt's versions, from their package metadata (this process
    never imports torch or audiocraft)."""
    from importlib.metadata import PackageNotFoundError, version

    import PySide6
    from PySide6.QtCore import qVersion

    def of(package: str) -> str:
        try:
            return version(package)
        except PackageNotFoundError:
            return "not installed"
    return f"audiocraft {of('audiocraft')}, torch {of('torch')}, Qt {qVersion()} (PySide6 {PySide6.__version__})"


def bundled_licences() -> str:
    """Where the installed app's third-party licences are (packaging/licences.py writes them)."""
    notice = Path(sys.executable).parent / "THIRD-PARTY-LICENSES.txt"
    return f"<br><br>The licences of the libraries bundled with it: {escape(str(notice))}" if notice.is_file() else ""


class MainWindow(QMainWindow):
    def __init__(self, settings):
        super().__init__()
        self.setWindowTitle("CueDeck")
        self.setMinimumSize(960, 640)
        self.settings = settings
        theme.apply(QApplication.instance(), settings.get("view/theme"))
        self.background = Background(self)
        self.history = EditHistory(self)
        self.store = CueStore(self.background, self.history, self)
        self.engine = EngineBridge(self.background, self)
        self.engine.use_cluster(settings.get("engine/cluster"))
        self.audition = Audition(self.background, self)
        self.waveforms = WaveformCache(self.background, self)
        self.transcriber = Transcriber(self)
        self.actions = CueActions(self.store, self.audition, self.more_like_this, self.add_to_timeline,
                                  self.transcriber.transcribe, self.split, self.stems_to_tracks)
        self._requests = {}  # job id → request, for the jobs still running
        self._on_cluster: set[str] = set()  # those of them sent to a cluster

        self.prompt = PromptPanel()
        self.prompt_error = QLabel("", wordWrap=True, textFormat=Qt.TextFormat.PlainText)
        self.prompt_error.setStyleSheet(f"color: {theme.ERROR}")
        self.prompt_action = QPushButton("", visible=False)  # the in-app fix for the message
        self.prompt_action.clicked.connect(lambda: self.open_models(self.prompt_action.property("model")))
        self.grid = CandidatesGrid(self.actions, self.waveforms)
        self.library = LibraryPanel(self.store, self.actions, self.waveforms)
        self.details = DetailsPanel(self.store)
        self.jobs = JobsPanel()
        self.timeline_doc = TimelineDocument(self.background, self)
        self.timeline = TimelinePanel(self.timeline_doc, self.audition, self.waveforms,
                                      self.background, settings)
        self.notice = ExportNotice()
        self._current_cue = None  # the cue last selected in the grid or the library
        self.models_dialog = None

        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.addWidget(self.prompt)
        message = QHBoxLayout()
        message.addWidget(self.prompt_error, 1)
        message.addWidget(self.prompt_action, 0, Qt.AlignmentFlag.AlignTop)
        top_layout.addLayout(message)
        self.prompt_error.hide()
        middle = QWidget()
        middle_layout = QVBoxLayout(middle)
        middle_layout.setContentsMargins(0, 0, 0, 0)
        middle_layout.addWidget(self.grid, 1)
        middle_layout.addWidget(self.notice)
        center = QSplitter(Qt.Orientation.Vertical)
        center.addWidget(top)
        center.addWidget(middle)
        center.setStretchFactor(1, 1)
        center.setCollapsible(0, False)
        center.setCollapsible(1, False)
        self.setCentralWidget(center)
        for corner in (Qt.Corner.BottomLeftCorner, Qt.Corner.BottomRightCorner):
            self.setCorner(corner, Qt.DockWidgetArea.BottomDockWidgetArea)  # the timeline spans the width
        self._docks = {
            "Library": self._dock("Library", self.library, Qt.DockWidgetArea.LeftDockWidgetArea),
            "Details": self._dock("Details", self.details, Qt.DockWidgetArea.RightDockWidgetArea),
            "Jobs": self._dock("Jobs", self.jobs, Qt.DockWidgetArea.RightDockWidgetArea),
            "Timeline": self._dock("Timeline", self.timeline, Qt.DockWidgetArea.BottomDockWidgetArea)}
        self.splitDockWidget(self._docks["Details"], self._docks["Jobs"], Qt.Orientation.Vertical)
        self.statusBar().showMessage(f"CueDeck {__version__}. MusicGen, AudioGen and MAGNeT "
                                     f"weights are {WEIGHTS_LICENCE} (non-commercial).")
        self._menus()

        self.prompt.generate_requested.connect(self.generate)
        self.prompt.install_requested.connect(self.open_models)
        self.prompt.model_changed.connect(self._clear_prompt_error)
        self.grid.install_requested.connect(self.open_models)
        # Typing a prompt says a job is coming: start the worker and load the model picked
        # while the user types (and again when another model is picked).
        self._warmed_up = False
        self.prompt.text_changed.connect(self._warm_up)
        self.jobs.cancel_requested.connect(lambda job_id: self.transcriber.cancel(job_id) or self.engine.cancel(job_id))
        self.transcriber.started.connect(self.jobs.add)
        self.transcriber.progress.connect(lambda job_id, f: self.jobs.progress(job_id, f, "transcribing"))
        self.transcriber.done.connect(lambda job_id, cue: (self.jobs.done(job_id), self.store.changed.emit(cue)))
        self.transcriber.failed.connect(self.jobs.failed)
        self.transcriber.cancelled.connect(self.jobs.cancelled)
        self.engine.progress.connect(self._progress)
        self.engine.finished.connect(self._finished)
        self.engine.failed.connect(self._failed)
        self.engine.cancelled.connect(self._cancelled)
        self.engine.preview.connect(self.grid.job_preview)
        for view in (self.grid, self.library, self.details):
            self.store.changed.connect(view.cue_changed)
        self.store.removed.connect(self.grid.cues_removed)
        self.store.restored.connect(self.grid.cues_restored)
        for signal in (self.store.removed, self.store.restored):
            signal.connect(lambda _: self.library.refresh())
        self.store.error.connect(self.show_error)
        self.store.measuring.connect(self._measuring)
        self.audition.error.connect(self.show_error)
        self.audition.loop_changed.connect(self._loop_changed)
        self.background.cue_damaged.connect(self.grid.mark_damaged)
        self.background.cue_damaged.connect(self.timeline.canvas.mark_damaged)
        self.audition.playing_changed.connect(self.grid.set_playing)
        self.audition.position_changed.connect(self.grid.set_position)
        for view in (self.grid, self.library):
            view.current_changed.connect(self.details.show_cue)
            view.current_changed.connect(self._set_current_cue)
        self.library.add_to_timeline.connect(self.actions.add_to_timeline)
        self.library.export_requested.connect(self.export_cue)
        self.library.reveal_requested.connect(lambda cue: self._open_folder(cue.path.parent))
        self.timeline.status.connect(self.show_error)
        self.timeline.exported.connect(self.notice.show_result)
        self.timeline_doc.edited.connect(self._timeline_edited)
        self.prompt.melody_from_cue_requested.connect(self._melody_from_cue)
        self.history.changed.connect(self._undo_state)

        self._restore()
        self.prompt.focus_prompt()  # ready to type a prompt
        QApplication.instance().installEventFilter(self)  # Esc and the cue keys, see eventFilter
        # After the first paint: the library list, which models are here, PortAudio's start.
        QTimer.singleShot(0, self._after_start)

    def _dock(self, title: str, widget, area) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock-{title.lower()}")
        widget.setMinimumSize(*MIN_SIZES[title])
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self._action(file_menu, "&New timeline…", None, self.timeline.new_timeline)
        self._action(file_menu, "&Export timeline…", QKeySequence("Ctrl+Shift+E"), self.timeline.export)
        self._action(file_menu, "Export selected &cue…", QKeySequence("Ctrl+E"), lambda: self.export_cue())
        file_menu.addSeparator()
        self._action(file_menu, "&Models…", QKeySequence("Ctrl+Shift+M"), lambda: self.open_models())
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", QKeySequence.StandardKey.Quit, self.close)
        edit = self.menuBar().addMenu("&Edit")
        self.undo_action = self._action(edit, "&Undo", QKeySequence.StandardKey.Undo, self.undo)
        self.redo_action = self._action(edit, "&Redo", QKeySequence("Ctrl+Shift+Z"), self.redo)
        self._undo_state()
        edit.addSeparator()
        self._action(edit, "&Find in library", QKeySequence.StandardKey.Find, self.library.focus_search)
        self._action(edit, "&Settings…", QKeySequence("Ctrl+,"), self.open_settings)
        view = self.menuBar().addMenu("&View")
        for dock in self._docks.values():
            view.addAction(dock.toggleViewAction())
        view.addSeparator()
        self.scale_action = self._action(view, "Waveforms at a &common scale", None,
                                         self.waveforms.set_common_scale, checkable=True)
        self.scale_action.setToolTip("Draw every waveform against full scale, so quiet cues look quiet")
        self._action(view, "&Reset layout", None, self.reset_layout)
        play = self.menuBar().addMenu("&Playback")
        self._action(play, "&Stop", QKeySequence("Ctrl+."), self.audition.stop)
        self.loop_action = self._action(play, "&Loop (L)", None,
                                        lambda on: setattr(self.audition, "loop", on), checkable=True)
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

    # -- the keyboard ----------------------------------------------------------------------

    def eventFilter(self, watched, event) -> bool:
        """Like Soundminer: Esc always returns to the candidates (or the library list), and
        a cue key pressed where nothing takes it (a button, the menu bar after Esc, a dock
        title) goes to the candidates instead of being lost. Typing in a field the user
        chose is never taken."""
        if event.type() != QEvent.Type.KeyPress or QApplication.activePopupWidget() is not None \
                or not isinstance(watched, QWidget) or watched.window() is not self:
            return False  # another window's key (a dialog), or a pop-up's
        focus = self.focusWidget()  # (the application's focus widget is None while inactive)
        if watched is not focus and focus is not None:
            return False  # the same key, seen again on its way up to the parents
        key, mods = event.key(), event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
        if key == Qt.Key.Key_Escape and mods == Qt.KeyboardModifier.NoModifier:
            return self._escape(focus)
        if cue_action(event) is None or self._takes_keys(focus):
            return False
        self.grid.setFocus()
        QApplication.sendEvent(self.grid, QKeyEvent(event.type(), key, event.modifiers(), event.text()))
        return True

    def _takes_keys(self, widget) -> bool:
        """A widget that has its own use for letters, digits and Space."""
        if widget is None:
            return False
        if isinstance(widget, _TYPING) or (isinstance(widget, QComboBox) and widget.isEditable()):
            return not (isinstance(widget, (QPlainTextEdit, QTextEdit)) and widget.isReadOnly())
        return widget in (self.grid, self.library.view, self.timeline.canvas)

    def _escape(self, focus) -> bool:
        if focus is self.grid or focus is self.timeline.canvas:
            if self.grid.current is not None:
                self.grid.current.wave.clear_region()
            return False
        card = focus
        while card is not None and not isinstance(card, CandidateCard):
            card = card.parentWidget()
        if card is not None:
            card.cancel_edit()
        if focus is not None and self.library.isAncestorOf(focus) and focus is not self.library.view:
            self.library.focus_list()
        else:
            self.grid.setFocus()
        return True

    # -- generation ----------------------------------------------------------------------

    def _warm_up(self) -> None:
        if not self._warmed_up:
            self._warmed_up = True
            self.prompt.text_changed.disconnect(self._warm_up)
            self.prompt.model_changed.connect(self._warm_up)
        self.engine.start(self._with_settings(self.prompt.request()))

    def generate(self) -> None:
        self._submit(self.prompt.request())

    def more_like_this(self, cue) -> None:
        """Continuations of `cue`: its prompt, negative prompt and model, the panel's count and duration
        (at least a few seconds past the part of the cue they start from)."""
        panel = self.prompt.request()
        duration = max(panel.duration, min(cue.duration, 5.0) + 3.0)
        self._submit(replace(panel, prompt=cue.prompt, negative=cue.negative, model=cue.model, parent_id=cue.id,
                             prompt_seconds=None, duration=duration))

    def _with_settings(self, request):
        return replace(request, device=self.settings.get("engine/device"),
                       precision=self.settings.get("engine/precision"))

    def _submit(self, request, here: bool = False) -> None:
        """Queue `request` on the cluster in use (Settings → Generate on), or here."""
        request = self._with_settings(request)
        try:
            request = request.validated()
            job_id = self.engine.submit(request, here)
        except BadInput as e:
            self._prompt_message(str(e), getattr(e, "model", None) if isinstance(e, ModelNotPresent) else None)
            return
        self._clear_prompt_error()
        self._requests[job_id] = request
        place = "" if here else self.engine.cluster
        if place:
            self._on_cluster.add(job_id)
        self.jobs.add(job_id, request_text(request), f"Ray cluster {place}" if place else "")
        self.grid.add_job(job_id, request)

    def split(self, cue) -> None:
        """Split `cue` into stems: a job in the engine, its group of four cards in the grid."""
        if cue.role:
            self.show_error(f"cue {cue.id} is the {stem_text(cue)} already; split the cue it came from")
            return
        job_id = self.engine.split(cue.id)
        self.jobs.add(job_id, f"Stems of cue {cue.id} · {cue.prompt}")
        self.grid.add_split(job_id, cue)

    def stems_to_tracks(self, cue_id: int) -> None:
        """A split cue's stems on the timeline, a track each (cue_id: the cue or one of its stems)."""
        if self.timeline_doc.timeline is None:
            self.show_error("open or create a timeline first (New… above the timeline)")
            return
        self.timeline_doc.add_stems(cue_id, self.timeline.canvas.playhead)

    def _prompt_message(self, text: str, model: str | None = None) -> None:
        """A message under the prompt; for a missing model, its Install button beside it."""
        self.prompt_error.setText(text[:1].upper() + text[1:] + ("." if model else ""))
        self.prompt_error.show()
        self.prompt_action.setVisible(model is not None)
        if model:
            self.prompt_action.setText(f"Install {model}…")
            self.prompt_action.setProperty("model", model)

    def _clear_prompt_error(self) -> None:
        self.prompt_error.hide()
        self.prompt_action.hide()

    def _progress(self, job_id: str, fraction: float, stage: str) -> None:
        self.jobs.progress(job_id, fraction, stage)
        self.grid.job_progress(job_id, fraction, stage)

    def _finished(self, job_id: str, cues: list) -> None:
        self._requests.pop(job_id, None)
        self._on_cluster.discard(job_id)
        self.jobs.done(job_id)
        self.grid.job_done(job_id, cues)
        self.library.refresh()
        if QApplication.focusWidget() is None or not self._takes_keys(QApplication.focusWidget()):
            self.grid.setFocus()

    def _failed(self, job_id: str, message: str, model: str) -> None:
        request = self._requests.pop(job_id, None)
        self.jobs.failed(job_id, message)
        if model:
            action = (f"Install {model}…", lambda: self.open_models(model))
        elif job_id in self._on_cluster and request is not None:  # the cluster failed: offer this computer
            action = ("Generate on this computer",
                      lambda: (self.grid.remove_job(job_id), self._submit(request, here=True)))
        else:
            action = None
        self._on_cluster.discard(job_id)
        self.grid.job_failed(job_id, message, action)

    def _cancelled(self, job_id: str) -> None:
        self._requests.pop(job_id, None)
        self._on_cluster.discard(job_id)
        self.jobs.cancelled(job_id)
        self.grid.remove_job(job_id)

    # -- models ----------------------------------------------------------------------------

    def open_models(self, name: str | None = None) -> None:
        """The model manager, with `name` selected (its Install button one click away)."""
        if self.models_dialog is None:
            self.models_dialog = ModelsDialog(self.background, self)
            self.models_dialog.changed.connect(self._refresh_presence)
        if name:
            self.models_dialog.select(name)
        self.models_dialog.refresh()
        self.models_dialog.show()
        self.models_dialog.raise_()

    def _refresh_presence(self) -> None:
        self.background.files(lambda: {n: i.is_present() for n, i in registry.MODELS.items()},
                              self.prompt.set_presence)

    # -- undo ------------------------------------------------------------------------------

    def undo(self) -> None:
        label = self.history.undo()
        self.show_error(f"undid {label}" if label else "nothing to undo")

    def redo(self) -> None:
        label = self.history.redo()
        self.show_error(f"redid {label}" if label else "nothing to redo")

    def _timeline_edited(self, history) -> None:
        self.history.push(f"timeline edit on {history.current.name!r}",
                          lambda: self.timeline_doc.undo(history), lambda: self.timeline_doc.redo(history))

    def _undo_state(self) -> None:
        undo, redo = self.history.next_undo(), self.history.next_redo()
        self.undo_action.setEnabled(undo is not None)
        self.undo_action.setText(f"&Undo {undo}" if undo else "&Undo")
        self.redo_action.setEnabled(redo is not None)
        self.redo_action.setText(f"&Redo {redo}" if redo else "&Redo")

    # -- timeline and export -------------------------------------------------------------

    def _set_current_cue(self, cue) -> None:
        self._current_cue = cue

    def _melody_from_cue(self) -> None:
        cue = self._current_cue
        if cue is None:
            self.show_error("select a cue in the candidates or the library to use as the melody")
        else:
            self.prompt.set_melody(f"cue:{cue.id}", f"cue {cue.id}: {cue.prompt}")

    def add_to_timeline(self, cues: list) -> None:
        """The cues one after another at the end of the first track."""
        t = self.timeline_doc.timeline
        if t is None:
            self.show_error("open or create a timeline first (New… above the timeline)")
            return
        end = max((c.at + c.length for c in t.tracks[0].clips), default=0.0) if t.tracks else 0.0
        self.timeline_doc.add_cues([c.id for c in cues], 0, end)

    def export_cue(self, cue=None) -> None:
        cue = cue or self._current_cue
        if cue is None:
            self.show_error("select a cue in the candidates or the library first")
            return
        dialog = ExportDialog(f"cue {cue.id}", self.settings.get("export/folder"), None, self,
                              licences=licence_text(licences([cue])), delivery=delivery_from(self.settings))
        dialog.accepted.connect(lambda: self._export_cue(cue.id, dialog.options()))
        dialog.open()

    def _export_cue(self, cue_id: int, options: dict) -> None:
        remember(self.settings, options)

        def done(path) -> None:
            self.notice.show_result(f"Exported cue {cue_id} to {path}", path.parent)
            self.show_error(f"exported cue {cue_id} to {path}")
        self.background.library(
            lambda lib: lib.get(cue_id),  # its latest tags, rating and CatID
            lambda cue: self.background.files(lambda: export_cue(cue, **options), done,
                                              lambda m: self.show_error(f"export failed: {m}")),
            self.show_error)

    def _open_folder(self, folder) -> None:
        if not QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder))):
            self.show_error(f"no file manager to show {folder}")

    # -- settings ------------------------------------------------------------------------

    def show_error(self, message: str) -> None:
        self.statusBar().showMessage(message, 10_000)

    def _loop_changed(self, on: bool) -> None:
        """The one loop state, shown in the menu and on every card."""
        self.loop_action.setChecked(on)
        self.grid.set_loop(on)

    def _set_auto(self, on: bool) -> None:
        self.grid.auto_audition = self.library.auto_audition = on

    def _set_match(self, on: bool) -> None:
        self.audition.match_loudness = on

    def open_settings(self) -> None:
        dialog = SettingsDialog(self.background, self.settings.get("audio/device"),
                                self.auto_action.isChecked(), self.match_action.isChecked(),
                                self.settings.get("engine/device"),
                                self.settings.get("engine/precision"),
                                self.settings.get("view/theme"), self.settings.get("engine/cluster"), self)
        dialog.setModal(True)
        dialog.accepted.connect(lambda: self._apply_settings(dialog))
        dialog.open()

    def _apply_settings(self, dialog) -> None:
        device = dialog.chosen_device()
        self.settings.set("audio/device", device)
        self.settings.set("engine/device", dialog.chosen_engine_device())
        self.settings.set("engine/precision", dialog.chosen_precision())
        self.settings.set("engine/cluster", dialog.chosen_cluster())
        self.engine.use_cluster(dialog.chosen_cluster())
        self.settings.set("view/theme", dialog.chosen_theme())
        theme.apply(QApplication.instance(), dialog.chosen_theme())
        self.audition.set_device(device)
        self.auto_action.setChecked(dialog.auto_audition.isChecked())
        self._set_auto(dialog.auto_audition.isChecked())
        self.match_action.setChecked(dialog.match_loudness.isChecked())
        self._set_match(dialog.match_loudness.isChecked())

    def _show_shortcuts(self) -> None:
        html = "".join(f"<h4>{escape(group)}</h4><table>"
                       + "".join(f"<tr><td><b>{escape(k)}</b>&nbsp;&nbsp;</td><td>{escape(v)}</td></tr>"
                                 for k, v in keys) + "</table>" for group, keys in SHORTCUTS)
        box = QMessageBox(QMessageBox.Icon.NoIcon, "Keyboard shortcuts", html, parent=self)
        box.setTextFormat(Qt.TextFormat.RichText)
        box.open()
        self.shortcuts_box = box

    def _about(self) -> None:
        box = QMessageBox(QMessageBox.Icon.NoIcon, "About CueDeck", (
            f"<b>CueDeck {__version__}</b><br>Candidate cues from a local audiocraft engine.<br>"
            f"{escape(versions())}<br><br>"
            f"CueDeck and the audiocraft code are MIT-licensed. The MusicGen, AudioGen and MAGNeT "
            f"weights are {WEIGHTS_LICENCE}: non-commercial use only. The tiny-music and "
            f"tiny-sfx models are untrained test models that produce noise.{bundled_licences()}"), parent=self)
        box.setTextFormat(Qt.TextFormat.RichText)
        box.open()
        self.about_box = box

    # -- layout ----------------------------------------------------------------------------

    def _after_start(self) -> None:
        if self._first_run:
            self._default_dock_sizes()
        self.library.refresh()
        self.timeline_doc.refresh_names(then_open=True, prefer=self.settings.get("timeline/open") or None)
        self._refresh_presence()
        self.background.files(lambda: __import__("sounddevice"), None, self.show_error)
        self.background.files(lambda: ucs.suggest(""))  # builds the CatID suggestions' index (0.1 s)
        self.store.measure_missing()

    def _measuring(self, done: int, total: int) -> None:
        if total and done < total:
            self.statusBar().showMessage(f"Measuring older cues (tempo, key, brightness): {done} of {total}…")
        elif done:
            self.statusBar().showMessage(f"Measured {done} older cues: sort and filter the library by them", 10_000)

    def _default_dock_sizes(self) -> None:
        """Room for the candidates in the middle, in proportion to the window (docks size
        once shown)."""
        h = self.height()
        self._side_dock_widths()
        self.resizeDocks([self._docks["Timeline"]], [max(170, int(h * 0.27))], Qt.Orientation.Vertical)
        self.resizeDocks([self._docks["Details"], self._docks["Jobs"]], [int(h * 0.3), int(h * 0.2)],
                         Qt.Orientation.Vertical)

    def _side_dock_widths(self) -> None:
        w = self.width()
        self.resizeDocks([self._docks["Library"], self._docks["Details"]],
                         [max(240, int(w * 0.26)), max(220, int(w * 0.2))], Qt.Orientation.Horizontal)

    def resizeEvent(self, event) -> None:
        """A narrower window takes room from the side docks too, not only from the cards."""
        super().resizeEvent(event)
        if event.oldSize().isValid() and event.size().width() < event.oldSize().width():
            QTimer.singleShot(0, self, lambda: self.grid.width() < 2 * CARD_WIDTH + 40
                              and self._side_dock_widths())

    def reset_layout(self) -> None:
        for title, dock in self._docks.items():
            dock.setFloating(False)
            dock.show()
        self._default_dock_sizes()

    def _fit_screen(self) -> None:
        """A window larger than the screen, or off it, comes back whole onto it; a floating
        dock off the screen comes back into the window."""
        screen = (self.screen() or QApplication.primaryScreen()).availableGeometry()
        width, height = min(self.width(), screen.width()), min(self.height(), screen.height())
        if (width, height) != (self.width(), self.height()):
            self.resize(width, height)
        x = min(max(self.x(), screen.left()), screen.right() - width + 1)
        y = min(max(self.y(), screen.top()), screen.bottom() - height + 1)
        if (x, y) != (self.x(), self.y()):
            self.move(x, y)
        for dock in self._docks.values():
            if dock.isFloating() and not screen.intersects(dock.geometry()):
                dock.setFloating(False)

    def _restore(self) -> None:
        s = self.settings
        if s.get("window/geometry") is not None:
            self.restoreGeometry(s.get("window/geometry"))
        else:
            self.resize(*DEFAULT_SIZE)
        state = s.get("window/state")
        self._first_run = state is None or not self.restoreState(state, LAYOUT_VERSION)
        self._fit_screen()
        self.prompt.restore(s)
        self.audition.loop = s.get("audio/loop")
        self._loop_changed(self.audition.loop)
        self.auto_action.setChecked(s.get("audio/auto_audition"))
        self.match_action.setChecked(s.get("audio/match_loudness"))
        self.scale_action.setChecked(s.get("view/common_scale"))
        self.waveforms.set_common_scale(self.scale_action.isChecked())
        self._set_auto(self.auto_action.isChecked())
        self._set_match(self.match_action.isChecked())
        device = s.get("audio/device")
        if device:
            self.audition.set_device(device)

    def save(self) -> None:
        s = self.settings
        s.set("window/geometry", self.saveGeometry())
        s.set("window/state", self.saveState(LAYOUT_VERSION))
        self.prompt.save(s)
        s.set("audio/loop", self.audition.loop)
        s.set("audio/auto_audition", self.auto_action.isChecked())
        s.set("audio/match_loudness", self.match_action.isChecked())
        s.set("view/common_scale", self.scale_action.isChecked())
        if self.timeline_doc.timeline is not None:
            s.set("timeline/open", self.timeline_doc.timeline.name)
        s.sync()

    def closeEvent(self, event) -> None:
        """Save the layout and any pending edit, stop audio and the engine, then close."""
        QApplication.instance().removeEventFilter(self)
        self.details.flush()
        self.timeline.cancel_running_export()  # a half-written export is removed, not left
        if self.models_dialog is not None:
            self.models_dialog.shutdown()
        self.save()
        self.store.commit_deletes()
        self.audition.close()
        self.engine.close()
        self.store.stop_measuring()
        self.transcriber.stop_all()
        self.background.shutdown()
        super().closeEvent(event)
