"""A candidate card: waveform with playhead (and, once transcribed, its notes), play/stop,
rating, keep, UCS CatID, tags, MIDI."""

from functools import lru_cache
from html import escape

from PySide6.QtCore import QMimeData, QPoint, Qt, QUrl, Signal
from PySide6.QtGui import QDrag, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (QApplication, QCompleter, QFrame, QHBoxLayout, QLabel, QLineEdit,
                               QSizePolicy, QToolButton, QVBoxLayout, QWidget)

from engine import analysis, registry, ucs
from engine.cue import Cue, loop_text, provenance_text, split_from, stem_text

from . import theme
from .flow_layout import FlowLayout
from .waveform import WaveformView

CUE_MIME = "application/x-cuedeck-cue-ids"  # "12,13" or, for a region, "12@1.5-3.25"
CATID_POPUP_WIDTH = 420  # wide enough for "CatID  CATEGORY / SUBCATEGORY"


@lru_cache(maxsize=1)
def _ucs_model() -> QStandardItemModel:
    """Every UCS CatID with its category and subcategory: built once, shared by the cards."""
    model = QStandardItemModel(QApplication.instance())
    for c in ucs.categories().values():
        item = QStandardItem(f"{c.catid}  {c.category} / {c.subcategory}")
        item.setData(c.catid, Qt.ItemDataRole.UserRole)
        model.appendRow(item)
    return model


def ucs_completer(parent) -> QCompleter:
    """Completion over every UCS CatID; the popup also shows category and subcategory."""
    completer = QCompleter(_ucs_model(), parent)
    completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
    completer.setFilterMode(Qt.MatchFlag.MatchContains)
    completer.popup().setMinimumWidth(CATID_POPUP_WIDTH)
    return completer


class CatIdEdit(QLineEdit):
    """The CatID field; its completion is attached when it first takes the focus (cards are
    built while a job runs, and most are never classified)."""

    completed = Signal()

    def focusInEvent(self, event) -> None:
        if self.completer() is None:
            self.setCompleter(ucs_completer(self))
            self.completer().activated[str].connect(lambda _: self.completed.emit())
        super().focusInEvent(event)


class Stars(QWidget):
    rated = Signal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        self._rating = 0
        self._buttons = []
        for n in range(1, 6):
            button = QToolButton(autoRaise=True, toolTip=f"Rate {n} (key {n}); 0 clears")
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            button.clicked.connect(lambda _=False, n=n: self.rated.emit(0 if n == self._rating else n))
            layout.addWidget(button)
            self._buttons.append(button)
        self.set_rating(0)

    @property
    def rating(self) -> int:
        return self._rating

    def set_rating(self, rating: int) -> None:
        self._rating = rating
        for n, button in enumerate(self._buttons, start=1):
            button.setText("★" if n <= rating else "☆")


class MidiButton(QToolButton):
    """Transcribe the cue to MIDI (click, or N); once its .mid is there, drag this out to a
    DAW or a folder."""

    def __init__(self):
        super().__init__(text="MIDI", autoRaise=True)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.file = None
        self._press: QPoint | None = None
        self.set_file(None)

    def set_file(self, path) -> None:
        self.file = path
        self.setText("MIDI ⇲" if path else "MIDI")
        self.setToolTip(f"Its notes at its tempo: {path.name}. Drag this to a DAW or a folder" if path else
                        "Transcribe the notes to a MIDI file at the cue's tempo (N)")

    def mousePressEvent(self, event) -> None:
        self._press = event.position().toPoint()
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:
        if (self.file and self._press is not None and (event.position().toPoint() - self._press).manhattanLength()
                >= QApplication.startDragDistance()):
            self._press = None
            self.setDown(False)
            data = QMimeData()
            data.setUrls([QUrl.fromLocalFile(str(self.file))])
            drag = QDrag(self)
            drag.setMimeData(data)
            drag.exec(Qt.DropAction.CopyAction)
            return
        super().mouseMoveEvent(event)


class CandidateCard(QFrame):
    clicked = Signal(object)  # this card

    def __init__(self, actions, waveforms, number: int, parent=None):
        super().__init__(parent)
        self.actions = actions
        self.waveforms = waveforms
        self.number = number
        self.cue: Cue | None = None
        self.preview = None  # audition.Preview while the candidate is still generating
        self.damage: str | None = None  # why its file cannot be used, once audition found out
        self._drag_from: QPoint | None = None
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMinimumWidth(220)

        self.title = QLabel(f"#{number}")
        self.length = QLabel("")
        self.keep = QToolButton(text="Keep", checkable=True, autoRaise=True, toolTip="Keep (K)")
        self.loop = QToolButton(text="⟲", checkable=True, autoRaise=True,
                                toolTip="Loop while auditioning (L); one setting for every cue")
        self.play = QToolButton(text="▶", toolTip="Play / stop (Space)")
        self.more = QToolButton(text="More", autoRaise=True,
                                toolTip="More like this: continuations that start from this cue's end (M)")
        self.midi = MidiButton()
        self.stems = QToolButton(text="Stems", autoRaise=True,
                                 toolTip="Split into drums, bass, other and vocals: four cues of their own (S)")
        self.wave = WaveformView()
        self.measured = QLabel("")  # tempo, key, tone, true peak; its rank when the request wanted some
        self.measured.setMinimumWidth(0)
        self.measured.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.rank: str = ""
        self.stars = Stars()
        self.catid = CatIdEdit(placeholderText="UCS CatID (C)")
        self.tag_chips = QWidget()
        self.tags_row = FlowLayout(self.tag_chips, spacing=2)  # chips wrap, never overlap
        self.tag_chips.hide()
        self.tag_edit = QLineEdit(placeholderText="add tags (T), comma-separated")
        for w in (self.keep, self.loop, self.play, self.more, self.stems):
            w.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.title.setMinimumWidth(0)
        self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.length.setMinimumWidth(0)

        top = QHBoxLayout()
        top.addWidget(self.title, 1)
        top.addWidget(self.more)
        top.addWidget(self.midi)
        top.addWidget(self.stems)
        top.addWidget(self.loop)
        top.addWidget(self.keep)
        middle = QHBoxLayout()
        middle.addWidget(self.play)
        middle.addWidget(self.wave, 1)
        rating = QHBoxLayout()
        rating.addWidget(self.stars)
        rating.addWidget(self.catid, 1)
        rating.addWidget(self.length)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.setSpacing(3)
        layout.addLayout(top)
        layout.addLayout(middle)
        layout.addWidget(self.measured)
        layout.addLayout(rating)
        layout.addWidget(self.tag_chips)
        layout.addWidget(self.tag_edit)

        self.play.clicked.connect(self.toggle_play)
        self.wave.seek_requested.connect(lambda f: self.cue and self.actions.seek(self.cue, f))
        self.wave.region_selected.connect(lambda a, b: self.cue and self.actions.play(
            self.cue, a * self.cue.duration, b * self.cue.duration))
        self.stars.rated.connect(lambda n: self.cue and self.actions.rate([self.cue], n))
        self.keep.clicked.connect(lambda: self.cue and self.actions.toggle_keep([self.cue]))
        self.loop.clicked.connect(lambda on: setattr(self.actions.audition, "loop", on))
        self.more.clicked.connect(lambda: self.cue and self.actions.more_like_this(self.cue))
        self.midi.clicked.connect(lambda: self.cue and not self.midi.file and self.actions.transcribe(self.cue))
        self.stems.clicked.connect(lambda: self.cue and self.actions.split(self.cue))
        self.catid.editingFinished.connect(self._catid_done)
        self.catid.completed.connect(self._catid_done)
        self.tag_edit.returnPressed.connect(self._tags_done)
        self.set_pending(0.0)

    # -- what it shows -----------------------------------------------------------------

    @property
    def audio_key(self) -> int | None:
        """The id its audio plays under: the cue's, or its preview's while generating."""
        return self.cue.id if self.cue else (self.preview.key if self.preview else None)

    @property
    def region(self) -> tuple[float, float] | None:
        """The region selected on the waveform, in seconds of the cue."""
        if self.cue is None or self.wave.region is None:
            return None
        a, b = self.wave.region
        return a * self.cue.duration, b * self.cue.duration

    def toggle_play(self) -> None:
        if self.cue and self.region and not self.actions.audition.playing:
            self.actions.play(self.cue, *self.region)
        elif self.cue:
            self.actions.toggle_play(self.cue)
        elif self.preview:
            self.actions.toggle_preview(self.preview)

    def set_pending(self, fraction: float, stage: str = "generating") -> None:
        ready = f" · {self.preview.seconds:.1f} s to hear" if self.preview else ""
        self.length.setText(f"{stage} · {fraction:.0%}{ready}")
        for w in (self.keep, self.more, self.midi, self.stems, self.stars, self.catid, self.tag_edit):
            w.setEnabled(False)
        self.play.setEnabled(self.preview is not None)

    def set_preview(self, preview) -> None:
        """Audio streamed so far: play it while the rest generates."""
        self.preview = preview
        self.play.setEnabled(True)
        self.play.setToolTip("Play what has been generated so far (Space)")

    def set_cue(self, cue: Cue) -> None:
        self.cue = cue
        self.play.setToolTip("Play / stop (Space)")
        if cue.role:
            self.title.setText(f"<b>{cue.role.capitalize()}</b> <small>of {split_from(cue)}</small>")
            self.title.setToolTip(f"the {stem_text(cue)}, split by {cue.separator}")
        else:
            self.title.setText(f"<b>#{self.number}</b> <small>seed {cue.seed}</small>")
            self.title.setToolTip(f"candidate {self.number}, seed {cue.seed}")
        self._show_length()
        self.keep.setChecked(cue.keep)
        self.stars.set_rating(cue.rating)
        if not self.catid.isModified():  # never overwrite what the user is typing
            self.catid.setText(cue.catid or "")
        suggested = ucs.suggest(cue.prompt, *cue.tags)
        names = ", ".join(f"{c.catid} ({c.category} / {c.subcategory})" for c in suggested)
        self.catid.setPlaceholderText(f"⇧C {suggested[0].catid}" if suggested else "UCS CatID (C)")
        self.catid.setToolTip(f"UCS CatID (C); suggested for the prompt and tags: {names} (Shift+C takes "
                              "the first)" if suggested else "UCS CatID (C)")
        while self.tags_row.count():
            self.tags_row.takeAt(0).widget().deleteLater()
        for tag in cue.tags:
            chip = QToolButton(text=f"{tag} ✕", autoRaise=True, toolTip=f"Remove tag “{tag}”")
            chip.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            chip.clicked.connect(lambda _=False, t=tag: self.actions.remove_tag(self.cue, t))
            self.tags_row.addWidget(chip)
        self.tag_chips.setVisible(bool(cue.tags))
        self._fit_height()
        self.setToolTip(provenance_text(cue))
        self._show_measures()
        for w in (self.keep, self.play, self.midi, self.stars, self.catid, self.tag_edit):
            w.setEnabled(True)
        self.more.setEnabled(cue.model in registry.MODELS and registry.get(cue.model).can_continue)
        self.stems.setEnabled(not cue.role)  # a stem is split already
        self.show_overview()

    def set_rank(self, rank: int, of: int) -> None:
        """Its place among its job's candidates by how close it came to the wanted tempo and key."""
        self.rank = f"{_ORDINALS[rank - 1] if rank <= len(_ORDINALS) else f'#{rank}'} of {of}"
        self._show_measures()

    def _show_measures(self) -> None:
        cue = self.cue
        text = analysis.summary(cue.measures)
        wanted = analysis.wanted(cue.target_bpm, cue.target_key)
        loop = f"⟲ {cue.bars} bars · " if cue.bars else "⟲ loop · " if cue.loop else ""
        self.measured.setText(f"<small>{f'<b>{self.rank}</b> · ' if self.rank else ''}{loop}{escape(text)}</small>")
        self.measured.setToolTip((f"A seamless {loop_text(cue)}: it auditions in a loop and repeats on the "
                                  "timeline past its end\n" if cue.loop else "")
                                 + (f"Ranked {self.rank} by how close it came to {wanted}\n" if self.rank else "")
                                 + "Measured: " + text + (f", {cue.measures.onset_rate:g} onsets/s, centroid "
                                                         f"{cue.measures.centroid_hz:g} Hz" if cue.measures else ""))

    def show_overview(self) -> None:
        if self.cue:
            self.wave.set_overview(self.waveforms.get(self.cue), self.waveforms.common_scale)
            self.wave.set_notes(self.waveforms.notes(self.cue), self.cue.duration)
            self.midi.set_file(self.cue.midi_path if self.cue.midi_path.is_file() else None)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit_height()

    def _fit_height(self) -> None:
        """Tall enough for its rows at its width: wrapped tag chips push the card down,
        never over the next one."""
        layout = self.layout()
        height = layout.totalHeightForWidth(self.width()) if layout.hasHeightForWidth() \
            else layout.totalSizeHint().height()
        if height > 0 and height != self.height():
            self.setFixedHeight(height)

    def set_damaged(self, message: str) -> None:
        """Its file is missing or no longer the one generated: say so on the card."""
        self.damage = message
        self._show_length()

    def _show_length(self) -> None:
        if self.damage:
            self.length.setText("⚠ damaged")
            self.length.setStyleSheet(f"color: {theme.ERROR}; font-weight: bold")
        else:
            self.length.setText(f"{self.cue.duration:.1f} s")
        self.length.setToolTip(self.damage or "")

    def overview_ready(self, sha: str) -> None:
        if self.cue and self.cue.sha256 == sha:
            self.show_overview()

    def set_current(self, current: bool) -> None:
        self.setFrameShape(QFrame.Shape.Box if current else QFrame.Shape.StyledPanel)
        self.setLineWidth(2 if current else 1)

    def set_playing(self, playing: bool) -> None:
        self.play.setText("■" if playing else "▶")
        if not playing:
            self.wave.set_playhead(None)

    def set_position(self, seconds: float) -> None:
        length = self.cue.duration if self.cue else (self.preview.total if self.preview else 0)
        if length:
            self.wave.set_playhead(min(seconds / length, 1.0))

    def focus_tags(self) -> None:
        self.tag_edit.setFocus()

    def focus_catid(self) -> None:
        self.catid.setFocus()
        self.catid.selectAll()

    def set_loop(self, on: bool) -> None:
        self.loop.setChecked(on)

    def cancel_edit(self) -> None:
        """Esc in a field: drop what was typed, show what is saved."""
        self.tag_edit.clear()
        self.catid.setText(self.cue.catid or "" if self.cue else "")
        self.catid.setModified(False)

    # -- editing -----------------------------------------------------------------------

    def _catid_done(self) -> None:
        if not self.catid.isModified():  # focus left without an edit (or Esc undid it)
            return
        text = self.catid.text().strip()
        self.catid.setText(text.split(" ")[0] if text else "")  # completion shows "CatID  CAT / SUB"
        self.catid.setModified(False)
        if self.cue:
            self.actions.set_catid([self.cue], self.catid.text())

    def _tags_done(self) -> None:
        if self.cue:
            self.actions.add_tags([self.cue], self.tag_edit.text())
        self.tag_edit.clear()
        self.clicked.emit(self)  # back to the grid's keys

    # -- click and drag out ------------------------------------------------------------

    def mousePressEvent(self, event) -> None:
        self.clicked.emit(self)
        if event.button() == Qt.MouseButton.LeftButton:
            self._drag_from = event.position().toPoint()
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:
        if (self.cue and self._drag_from is not None and
                (event.position().toPoint() - self._drag_from).manhattanLength()
                >= QApplication.startDragDistance()):
            self._drag_from = None
            drag = QDrag(self)
            drag.setMimeData(cue_mime_data([self.cue], self.region))
            drag.exec(Qt.DropAction.CopyAction)
        super().mouseMoveEvent(event)


_ORDINALS = ("best", "2nd", "3rd", "4th", "5th", "6th", "7th", "8th")


def cue_mime_data(cues: list[Cue], region: tuple[float, float] | None = None) -> QMimeData:
    """Files for a DAW or file manager, plus the cue ids (and a region of one cue, in
    seconds) for CueDeck's own views."""
    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(str(c.path)) for c in cues])
    ids = ",".join(str(c.id) for c in cues)
    if region is not None and len(cues) == 1:
        ids += f"@{region[0]:.4f}-{region[1]:.4f}"
    data.setData(CUE_MIME, ids.encode())
    return data


def parse_cue_mime(data: bytes) -> list[tuple[int, tuple[float, float] | None]]:
    """(cue id, region or None) for each cue that `cue_mime_data` packed."""
    found = []
    for part in data.decode().split(","):
        if not part:
            continue
        cue_id, _, region = part.partition("@")
        start, _, end = region.partition("-")
        found.append((int(cue_id), (float(start), float(end)) if region else None))
    return found
