"""The candidates: one group of cards per job, newest on top, driven from the keyboard."""

import itertools
from html import escape

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QGridLayout, QLabel, QScrollArea, QVBoxLayout, QWidget

from engine.library import Cue
from engine.request import GenerationRequest

from .audition import Preview
from .candidate_card import CandidateCard
from .cue_keys import cue_action

CARD_WIDTH = 270  # the grid fits as many columns of this width as the view allows
KEEP_JOBS = 12  # older groups leave the grid (their cues stay in the library)


_PREVIEW_KEYS = itertools.count(2)  # preview ids -2, -3, … (-1 is the timeline mix)


class JobGroup(QWidget):
    def __init__(self, job_id: str, request: GenerationRequest, actions, waveforms, on_click,
                 columns: int):
        super().__init__()
        self.job_id = job_id
        self.duration = request.duration
        seed = f"seed {request.seed}" if request.seed is not None else "random seed"
        self.header = QLabel(f"<b>{escape(request.prompt)}</b> · {request.model} · "
                             f"{request.candidates} × {request.duration:g} s · {seed}"
                             + (f" · more like cue {request.parent_id}" if request.parent_id else ""))
        self.header.setWordWrap(True)
        self.status = QLabel("queued")
        self.grid = QGridLayout()
        self.columns = columns
        # The cards are built one per turn of the event loop (eight built and laid out at
        # once hold the UI thread for tens of milliseconds); `cards` builds the rest at once.
        self.built: list[CandidateCard] = []
        self._wanted = request.candidates
        self._card_parts = (actions, waveforms, on_click)
        self._pending = (0.0, "queued")
        QTimer.singleShot(0, self, self._build_next)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 8, 0, 0)
        layout.addWidget(self.header)
        layout.addWidget(self.status)
        layout.addLayout(self.grid)

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
        self.built.append(card)
        i = len(self.built) - 1
        self.grid.addWidget(card, i // self.columns, i % self.columns)

    def arrange(self, columns: int) -> None:
        self.columns = columns
        for i, card in enumerate(self.built):
            self.grid.addWidget(card, i // columns, i % columns)

    def progress(self, fraction: float, stage: str) -> None:
        self.status.setText(f"{stage} {fraction:.0%}")
        self._pending = (fraction, stage)
        for card in self.built:
            card.set_pending(fraction, stage)

    def preview(self, seconds: float, rate: int, channels: int, files: list[str], total: float) -> None:
        for card, path in zip(self.cards, files):
            key = card.preview.key if card.preview else -next(_PREVIEW_KEYS)
            card.set_preview(Preview(key, path, rate, channels, seconds, total))

    def fill(self, cues: list[Cue]) -> None:
        self.status.hide()
        for card, cue in zip(self.cards, cues):
            card.set_cue(cue)

    def fail(self, message: str) -> None:
        self.status.setText(f"<span style='color:#c0392b'>{escape(message)}</span>")
        for card in self.built:
            card.deleteLater()
        self.built, self._wanted = [], 0


class CandidatesGrid(QScrollArea):
    current_changed = Signal(object)  # Cue or None

    def __init__(self, actions, waveforms, parent=None):
        super().__init__(parent)
        self.actions = actions
        self.waveforms = waveforms
        self.auto_audition = False
        self.setWidgetResizable(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._groups: list[JobGroup] = []
        self._current: CandidateCard | None = None
        self.columns = 2
        body = QWidget()
        self._layout = QVBoxLayout(body)
        self._empty = QLabel("No candidates yet. Type a prompt and press Ctrl+Enter.\n\n"
                             "Then: Space plays, arrows move, 0–5 rate, T tags, K keeps, L loops.")
        self._empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._layout.addWidget(self._empty)
        self._layout.addStretch(1)
        self.setWidget(body)
        waveforms.ready.connect(self._overview_ready)

    # -- jobs --------------------------------------------------------------------------

    def add_job(self, job_id: str, request: GenerationRequest) -> None:
        self._empty.hide()
        group = JobGroup(job_id, request, self.actions, self.waveforms, self._card_clicked,
                         self.columns)
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

    def job_failed(self, job_id: str, message: str) -> None:
        if group := self._group(job_id):
            if self._current in group.built:
                self._current = None
            group.fail(message)

    def job_cancelled(self, job_id: str) -> None:
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

    # -- keyboard ----------------------------------------------------------------------

    def keyPressEvent(self, event) -> None:
        cards = [c for c in self._cards() if c.cue]
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
        if self.actions.perform(action, card.cue):
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
