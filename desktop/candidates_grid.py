"""The candidates: one group of cards per job, newest on top, driven from the keyboard."""

from html import escape

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (QGridLayout, QHBoxLayout, QLabel, QPushButton, QScrollArea, QToolButton,
                               QVBoxLayout, QWidget)

from engine import analysis, registry
from engine.cue import Cue, ranked
from engine.request import GenerationRequest

from .audition import Preview, preview_key
from .candidate_card import CandidateCard
from .cue_keys import cue_action
from . import theme

FIRST_RUN = """<h3>CueDeck: candidate cues from a prompt, auditioned from the keyboard</h3>
<p>Type what you need above (“tense low strings, distant thunder”) and press <b>Ctrl+Enter</b>:
several candidates arrive at once, each with its own seed. Then <b>Space</b> plays, arrows move,
<b>0–5</b> rate, <b>T</b> tags, <b>K</b> keeps, <b>L</b> loops; drag the ones you like onto the
timeline and export stems.</p>
<p><b>For real sound, install a model once</b> (it then runs offline):
musicgen-small ({music}) for music, audiogen-medium ({sfx}) for effects. Their weights are
{licence}: non-commercial use. On a machine without internet, import a folder copied from
another one. The built-in tiny models make noise: they are for trying the workflow.</p>"""

CARD_WIDTH = 240  # the grid fits as many columns of this width as the view allows
KEEP_JOBS = 12  # older groups leave the grid (their cues stay in the library)




def request_header(request: GenerationRequest) -> str:
    seed = f"seed {request.seed}" if request.seed is not None else "random seed"
    return (f"<b>{escape(request.prompt)}</b> · {request.model} · {request.candidates} × {request.duration:g} s · "
            f"{seed}" + (f" · more like cue {request.parent_id}" if request.parent_id else "")
            + (f" · best first for {analysis.wanted(request.bpm, request.key)}" if request.bpm or request.key else ""))


class JobGroup(QWidget):
    """One job's cards under a line that says what it asked for: a generation's candidates,
    or the stems a cue was split into (`split`, its cue's id: a Stems to tracks button)."""

    def __init__(self, job_id: str, header: str, count: int, duration: float, actions, waveforms, on_click,
                 columns: int, loop: bool, split: int | None = None):
        super().__init__()
        self.job_id = job_id
        self.duration = duration
        self._loop = loop
        self.header = QLabel(header)
        self.header.setWordWrap(True)
        self.discard = QToolButton(text="Discard unkept", autoRaise=True, visible=False,
                                   toolTip="Delete this job's candidates that are not kept (Ctrl+Z brings them back)")
        self.discard.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.discard.clicked.connect(self._discard_unkept)
        self.status = QLabel("queued")
        self.grid = QGridLayout()
        self.columns = columns
        # The cards are built one per turn of the event loop (eight built and laid out at
        # once hold the UI thread for tens of milliseconds); `cards` builds the rest at once.
        self.built: list[CandidateCard] = []
        self._wanted = count
        self._card_parts = (actions, waveforms, on_click)
        self._pending = (0.0, "queued")
        QTimer.singleShot(0, self, self._build_next)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 8, 0, 0)
        top = QHBoxLayout()
        top.addWidget(self.header, 1)
        if split is not None:
            to_tracks = QToolButton(text="Stems to tracks", autoRaise=True, toolTip="A timeline track per stem, "
                                    "lined up with the cue's clips (or at the playhead)")
            to_tracks.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            to_tracks.clicked.connect(lambda: actions.stems_to_tracks(split))
            top.addWidget(to_tracks, 0, Qt.AlignmentFlag.AlignTop)
        top.addWidget(self.discard, 0, Qt.AlignmentFlag.AlignTop)
        layout.addLayout(top)
        layout.addWidget(self.status)
        layout.addLayout(self.grid)
        self.arrange(columns)

    @property
    def cards(self) -> list[CandidateCard]:
        """Every card of the job."""
        while len(self.built) < self._wanted:
            self._add_card()
        return self.built

    def _build_next(self) -> None:
        if len(self.built) < self._wanted:
            self._add_card()
            QTimer.singleShot(0, self, self._build_next)

    def _add_card(self) -> None:
        actions, waveforms, on_click = self._card_parts
        card = CandidateCard(actions, waveforms, len(self.built) + 1)
        card.clicked.connect(on_click)
        card.set_pending(*self._pending)
        card.set_loop(self._loop)
        self.built.append(card)
        i = len(self.built) - 1
        self.grid.addWidget(card, i // self.columns, i % self.columns, Qt.AlignmentFlag.AlignTop)

    def arrange(self, columns: int) -> None:
        self.columns = columns
        for column in range(max(columns, self.grid.columnCount())):
            self.grid.setColumnStretch(column, 1 if column < columns else 0)  # equal widths
        shown = [card for card in self.built if not card.isHidden()]
        for i, card in enumerate(shown):
            self.grid.addWidget(card, i // columns, i % columns, Qt.AlignmentFlag.AlignTop)

    def set_loop(self, on: bool) -> None:
        self._loop = on
        for card in self.built:
            card.set_loop(on)

    def set_hidden_cues(self, ids: set[int]) -> None:
        """Hide the cards of deleted cues (and show them again after an undo)."""
        for card in self.built:
            if card.cue:
                card.setHidden(card.cue.id in ids)
        self.arrange(self.columns)

    def _discard_unkept(self) -> None:
        actions = self._card_parts[0]
        unkept = [card.cue for card in self.built if card.cue and not card.cue.keep and not card.isHidden()]
        if unkept:
            actions.delete(unkept)

    def progress(self, fraction: float, stage: str) -> None:
        self.status.setText(f"{stage} · {fraction:.0%}")
        self._pending = (fraction, stage)
        for card in self.built:
            card.set_pending(fraction, stage)

    def preview(self, seconds: float, rate: int, channels: int, files: list[str], total: float) -> None:
        for card, path in zip(self.cards, files):
            key = card.preview.key if card.preview else preview_key()
            card.set_preview(Preview(key, path, rate, channels, seconds, total))

    def fill(self, cues: list[Cue]) -> None:
        self.status.hide()
        self.discard.show()
        for card, cue in zip(self.cards, cues):
            card.set_cue(cue)
        if cues and (cues[0].target_bpm or cues[0].target_key):  # best first, each with its rank
            order = [cue.id for cue in ranked(cues, cues[0].target_bpm, cues[0].target_key)]
            self.built.sort(key=lambda card: order.index(card.cue.id) if card.cue else len(order))
            for rank, card in enumerate(self.built, start=1):
                card.set_rank(rank, len(self.built))
            self.arrange(self.columns)

    def fail(self, message: str, action=None) -> None:
        self.status.setText(f"<span style='color:{theme.ERROR}'>{escape(message)}</span>")
        self.status.setWordWrap(True)
        if action is not None:  # the in-app fix, one click away
            button = QPushButton(action[0])
            button.clicked.connect(action[1])
            self.layout().addWidget(button, 0, Qt.AlignmentFlag.AlignLeft)
        for card in self.built:
            card.deleteLater()
        self.built, self._wanted = [], 0


class CandidatesGrid(QScrollArea):
    current_changed = Signal(object)  # Cue or None
    install_requested = Signal(str)  # a model name, or "" to import a folder

    def __init__(self, actions, waveforms, parent=None):
        super().__init__(parent)
        self.actions = actions
        self.waveforms = waveforms
        self.auto_audition = False
        self.setWidgetResizable(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._groups: list[JobGroup] = []
        self._current: CandidateCard | None = None
        self._loop = False
        self._hidden: set[int] = set()  # deleted cues
        self.columns = 2
        body = QWidget()
        self._layout = QVBoxLayout(body)
        self._empty = self._first_run()
        self._layout.addWidget(self._empty)
        self._layout.addStretch(1)
        self.setWidget(body)
        waveforms.ready.connect(self._overview_ready)
        waveforms.scale_changed.connect(lambda: [card.show_overview() for card in self._cards()])

    def _first_run(self) -> QWidget:
        """What CueDeck is for and how to get real sound, until the first job."""
        def size(name: str) -> str:
            return f"{registry.get(name).download_bytes / 1e9:.1f} GB"
        box = QWidget()
        text = QLabel(FIRST_RUN.format(music=size("musicgen-small"), sfx=size("audiogen-medium"),
                                       licence=registry.WEIGHTS_LICENCE), wordWrap=True)
        text.setTextFormat(Qt.TextFormat.RichText)
        buttons = QHBoxLayout()
        for label, name in (("Install musicgen-small (music)…", "musicgen-small"),
                            ("Install audiogen-medium (effects)…", "audiogen-medium"),
                            ("Import a model folder…", "")):
            button = QPushButton(label)
            button.clicked.connect(lambda _=False, n=name: self.install_requested.emit(n))
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout = QVBoxLayout(box)
        layout.addWidget(text)
        layout.addLayout(buttons)
        self.first_run_buttons = [b for b in box.findChildren(QPushButton)]
        return box

    # -- jobs --------------------------------------------------------------------------

    def add_job(self, job_id: str, request: GenerationRequest) -> None:
        self._add_group(JobGroup(job_id, request_header(request), request.candidates, request.duration,
                                 self.actions, self.waveforms, self._card_clicked, self.columns, self._loop))

    def add_split(self, job_id: str, cue: Cue) -> None:
        """The group a split of `cue` fills with its stems."""
        header = (f"<b>Stems of cue {cue.id}</b> · {escape(cue.prompt)} · {', '.join(registry.STEM_ROLES)} · "
                  f"{cue.duration:.2f} s")
        self._add_group(JobGroup(job_id, header, len(registry.STEM_ROLES), cue.duration, self.actions,
                                 self.waveforms, self._card_clicked, self.columns, self._loop, split=cue.id))

    def _add_group(self, group: JobGroup) -> None:
        self._empty.hide()
        self._layout.insertWidget(0, group)
        self._groups.insert(0, group)
        for old in self._groups[KEEP_JOBS:]:
            self._remove(old)

    def job_progress(self, job_id: str, fraction: float, stage: str) -> None:
        if group := self._group(job_id):
            group.progress(fraction, stage)

    def job_preview(self, job_id: str, seconds: float, rate: int, channels: int, files: list) -> None:
        if group := self._group(job_id):
            group.preview(seconds, rate, channels, files, group.duration)

    def job_done(self, job_id: str, cues: list[Cue]) -> None:
        if group := self._group(job_id):
            group.fill(cues)
            if self._current is None or self._current.cue is None:
                self._set_current(group.cards[0])

    def job_failed(self, job_id: str, message: str, action=None) -> None:
        """`action`: (label, callable), the fix one click away (install the model, run it here)."""
        if group := self._group(job_id):
            if self._current in group.built:
                self._current = None
            group.fail(message, action)

    def remove_job(self, job_id: str) -> None:
        if group := self._group(job_id):
            self._remove(group)

    # -- cue state ---------------------------------------------------------------------

    def cue_changed(self, cue: Cue) -> None:
        for card in self._cards():
            if card.cue and card.cue.id == cue.id:
                card.set_cue(cue)
                if card is self._current:
                    self.current_changed.emit(cue)

    def mark_damaged(self, cue_id: int, message: str) -> None:
        for card in self._cards():
            if card.cue and card.cue.id == cue_id:
                card.set_damaged(message)

    def set_loop(self, on: bool) -> None:
        self._loop = on
        for group in self._groups:
            group.set_loop(on)

    def cues_removed(self, ids: list[int]) -> None:
        self._hidden.update(ids)
        self._show_hidden()
        if self._current is not None and self._current.isHidden():
            visible = [c for c in self._cards() if c.cue and not c.isHidden()]
            self._set_current(visible[0] if visible else None)

    def cues_restored(self, ids: list[int]) -> None:
        self._hidden.difference_update(ids)
        self._show_hidden()

    def _show_hidden(self) -> None:
        for group in self._groups:
            group.set_hidden_cues(self._hidden)

    def set_playing(self, key: int, playing: bool) -> None:
        for card in self._cards():
            if card.audio_key == key:
                card.set_playing(playing)

    def set_position(self, key: int, seconds: float) -> None:
        for card in self._cards():
            if card.audio_key == key:
                card.set_position(seconds)

    @property
    def current(self) -> CandidateCard | None:
        return self._current

    @property
    def groups(self) -> list[JobGroup]:
        """The jobs shown, newest first."""
        return list(self._groups)

    # -- keyboard ----------------------------------------------------------------------

    def keyPressEvent(self, event) -> None:
        cards = [c for c in self._cards() if c.cue and not c.isHidden()]
        moves = {Qt.Key.Key_Left: -1, Qt.Key.Key_Right: 1, Qt.Key.Key_Up: -self.columns,
                 Qt.Key.Key_Down: self.columns}
        if event.key() in moves and cards:
            index = cards.index(self._current) if self._current in cards else -1
            index = min(max(index + moves[event.key()], 0), len(cards) - 1)
            self._set_current(cards[index])
            if self.auto_audition:
                self.actions.play(cards[index].cue)
            return
        action = cue_action(event)
        card = self._current
        if action == ("toggle", None) and card is not None and card.cue is None and card.preview:
            return card.toggle_play()  # still generating: play what is there
        if action is None or card is None or card.cue is None:
            return super().keyPressEvent(event)
        if action == ("toggle", None) and card.region:
            return card.toggle_play()  # the region selected on its waveform
        if self.actions.perform(action, [card.cue]):
            return
        if action[0] == "tag":
            card.focus_tags()
        elif action[0] == "catid":
            card.focus_catid()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        columns = max(1, self.viewport().width() // CARD_WIDTH)
        if columns != self.columns:
            self.columns = columns
            for group in self._groups:
                group.arrange(columns)
        if self._current is not None:  # the focused card stays in view as the cards reflow
            QTimer.singleShot(0, self, lambda: self._current and self.ensureWidgetVisible(self._current))

    # -- internals ---------------------------------------------------------------------

    def _cards(self) -> list[CandidateCard]:
        """The cards built so far (one still waiting for its turn has no cue or preview)."""
        return [card for group in self._groups for card in group.built]

    def _group(self, job_id: str) -> JobGroup | None:
        return next((g for g in self._groups if g.job_id == job_id), None)

    def _card_clicked(self, card: CandidateCard) -> None:
        if card.cue:
            self._set_current(card)
        self.setFocus()

    def _set_current(self, card: CandidateCard | None) -> None:
        if self._current is not None and self._current is not card:
            self._current.set_current(False)
        self._current = card
        if card is not None:
            card.set_current(True)
            self.ensureWidgetVisible(card)
        self.current_changed.emit(card.cue if card else None)

    def _remove(self, group: JobGroup) -> None:
        if self._current in group.built:
            self._current = None
        self._groups.remove(group)
        group.deleteLater()
        self._empty.setVisible(not self._groups)

    def _overview_ready(self, sha: str) -> None:
        for card in self._cards():
            card.overview_ready(sha)
