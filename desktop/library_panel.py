"""The library browser: search and filters over every cue, in a list that stays quick with
tens of thousands of rows (model/view, overviews painted from a cache as rows come into view)."""

from collections import OrderedDict

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QSize, Qt, QTimer, Signal
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QComboBox, QHBoxLayout, QHeaderView,
                               QInputDialog, QLabel, QLineEdit, QMenu, QStyledItemDelegate, QTableView,
                               QVBoxLayout, QWidget)

from engine import analysis, registry, ucs
from engine.cue import Cue, provenance_text

from . import theme
from .candidate_card import CUE_MIME, cue_mime_data, ucs_completer
from .cue_keys import cue_action
from .waveform import overview_image

COLUMNS = ["Waveform", "Rating", "Prompt", "Model", "Length", "Seed", "CatID", "Tags", "Keep", "BPM", "Key",
           "Tone"]
SORTED_BY = {1: "rating", 2: "prompt", 3: "model", 4: "duration", 5: "seed", 6: "catid", 9: "bpm", 10: "key",
             11: "brightness"}  # column → Library.find's sort; the rest sort newest first
WAVE_COLUMN = 0
PAGE = 100  # rows fetched together as they come into view


class CueTableModel(QAbstractTableModel):
    """Holds the ids a search found; fetches the cues themselves a page at a time, off the
    UI thread, as their rows come into view. Rows still loading show an ellipsis."""
    sort_requested = Signal(str, bool)  # Library.find's sort, descending

    def __init__(self, store, parent=None):
        super().__init__(parent)
        self._store = store
        self._ids: list[int] = []
        self._rows: dict[int, int] = {}  # cue id → row
        self._cues: dict[int, Cue] = {}  # the rows loaded so far
        self._asked: set[int] = set()  # pages asked for
        self._generation = 0  # pages that arrive for an older search are dropped

    def set_ids(self, ids: list[int]) -> None:
        self.beginResetModel()
        self._ids = ids
        self._rows = {cue_id: row for row, cue_id in enumerate(ids)}
        self._cues = {}
        self._asked = set()
        self._generation += 1
        self.endResetModel()

    def cue_at(self, row: int) -> Cue | None:
        if not 0 <= row < len(self._ids):
            return None
        cue = self._cues.get(self._ids[row])
        if cue is None:
            self._load_page(row // PAGE)
        return cue

    def row_of(self, cue_id: int) -> int | None:
        return self._rows.get(cue_id)

    def update_cue(self, cue: Cue) -> None:
        row = self._rows.get(cue.id)
        if row is not None:
            self._cues[cue.id] = cue
            self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))

    def refresh_rows_of(self, sha: str) -> None:
        for cue in self._cues.values():
            if cue.sha256 == sha:
                row = self._rows[cue.id]
                self.dataChanged.emit(self.index(row, WAVE_COLUMN), self.index(row, WAVE_COLUMN))

    def _load_page(self, page: int) -> None:
        if page in self._asked:
            return
        self._asked.add(page)
        generation, first = self._generation, page * PAGE
        ids = self._ids[first:first + PAGE]
        self._store.fetch(ids, lambda cues: self._arrived(generation, first, len(ids), cues))

    def _arrived(self, generation: int, first: int, count: int, cues: list[Cue]) -> None:
        if generation != self._generation:
            return
        self._cues.update((c.id, c) for c in cues)
        self.dataChanged.emit(self.index(first, 0), self.index(first + count - 1, len(COLUMNS) - 1))

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._ids)

    def columnCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        cue = self.cue_at(index.row())
        if role == Qt.ItemDataRole.UserRole:
            return cue
        if cue is None:
            return "…" if role == Qt.ItemDataRole.DisplayRole and index.column() == 2 else None
        if role == Qt.ItemDataRole.ToolTipRole:
            return provenance_text(cue)
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        measured = cue.measures
        return [None, "★" * cue.rating, cue.prompt, cue.model, f"{cue.duration:.1f} s", cue.seed,
                cue.catid or "", ", ".join(cue.tags), "✔" if cue.keep else "",
                f"{measured.bpm:g}" if measured and measured.bpm else "", measured.key or "" if measured else "",
                measured.tone if measured else ""][index.column()]

    def sort(self, column: int, order=Qt.SortOrder.AscendingOrder) -> None:
        """A header click: the panel searches again in that order (the library sorts)."""
        self.sort_requested.emit(SORTED_BY.get(column, "newest"), order == Qt.SortOrder.DescendingOrder)

    def flags(self, index):
        return super().flags(index) | Qt.ItemFlag.ItemIsDragEnabled

    def mimeTypes(self):
        return ["text/uri-list", CUE_MIME]

    def mimeData(self, indexes):
        cues = [self.cue_at(r) for r in sorted({i.row() for i in indexes})]
        return cue_mime_data([c for c in cues if c is not None])


class WaveformDelegate(QStyledItemDelegate):
    """Paints a row's overview from the cache, asking for it when it is not there yet."""

    def __init__(self, waveforms, parent=None):
        super().__init__(parent)
        self._waveforms = waveforms
        self._images: OrderedDict = OrderedDict()  # (sha256, width, height) → QImage

    def paint(self, painter, option, index) -> None:
        super().paint(painter, option, index)  # selection background
        cue = index.data(Qt.ItemDataRole.UserRole)
        if cue is None:  # the row is still loading
            return
        full = self._waveforms.common_scale
        key = (cue.sha256, option.rect.width(), option.rect.height() - 4, full)
        image = self._images.get(key)
        if image is None:
            data = self._waveforms.get(cue)
            image = overview_image(data, key[1], key[2], option.palette.highlight().color(), full)
            if data is not None:
                self._images[key] = image
                while len(self._images) > 2000:
                    self._images.popitem(last=False)
        painter.drawImage(option.rect.left(), option.rect.top() + 2, image)

    def sizeHint(self, option, index) -> QSize:
        return QSize(140, 28)


class LibraryPanel(QWidget):
    current_changed = Signal(object)  # Cue or None
    add_to_timeline = Signal(list)  # [Cue]
    export_requested = Signal(object)  # Cue
    reveal_requested = Signal(object)  # Cue

    def __init__(self, store, actions, waveforms, parent=None):
        super().__init__(parent)
        self.store = store
        self.actions = actions
        self.auto_audition = False
        self._asked = 0  # the latest search asked for; older answers are dropped
        self.search = QLineEdit(placeholderText="Search prompt, tags, notes, CatID, category, model  (Ctrl+F)",
                                clearButtonEnabled=True)
        self.kept = QCheckBox("Kept only", toolTip="Show only the cues marked keep (K)")
        self.tag = QComboBox(editable=True)
        self.tag.lineEdit().setPlaceholderText("any tag")
        self.rating = QComboBox()
        self.rating.addItem("any rating", None)
        for n in range(1, 6):
            self.rating.addItem("★" * n + " or more", n)
        self.model_filter = QComboBox()
        self.model_filter.addItem("any model", None)
        for name in registry.MODELS:
            self.model_filter.addItem(name, name)
        self.category = QComboBox()
        self.category.addItem("any UCS category", None)
        for name in sorted({c.category for c in ucs.categories().values()}):
            self.category.addItem(name, name)
        self.tempo = QLineEdit(placeholderText="any BPM", clearButtonEnabled=True,
                               toolTip="Measured tempo: 120 (±2) or a range, 110-130")
        self.key = QComboBox()
        self.key.addItem("any key", None)
        for key in analysis.KEYS:
            self.key.addItem(key, key)
        self.tone = QComboBox(toolTip="Measured brightness (spectral centroid)")
        self.tone.addItem("any tone", None)
        for tone in analysis.TONES:
            self.tone.addItem(tone, tone)
        self._sort = ("newest", False)
        self.count = QLabel("")
        self.model = CueTableModel(store, self)
        self.model.sort_requested.connect(self._sort_by)
        self.view = QTableView()
        self.view.setModel(self.model)
        self.view.setItemDelegateForColumn(WAVE_COLUMN, WaveformDelegate(waveforms, self.view))
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.setDragEnabled(True)
        self.view.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.view.setWordWrap(False)
        self.view.verticalHeader().hide()
        self.view.verticalHeader().setDefaultSectionSize(30)
        # Fixed row heights: a reset with tens of thousands of rows costs nothing to lay out.
        self.view.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.view.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.view.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self.view.setSortingEnabled(True)
        for column, width in enumerate([140, 70, 0, 90, 60, 95, 80, 110, 40, 55, 80, 60]):
            if width:
                self.view.setColumnWidth(column, width)
        self.view.installEventFilter(self)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._context_menu)

        filters, measured = QHBoxLayout(), QHBoxLayout()  # what a cue is; what it sounds like
        for row, widgets in ((filters, (self.tag, self.rating, self.model_filter, self.category)),
                             (measured, (self.tempo, self.key, self.tone))):
            for w in widgets:
                if isinstance(w, QComboBox):
                    w.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
                    w.setMinimumContentsLength(4)
                row.addWidget(w)
        search = QHBoxLayout()
        search.addWidget(self.search, 1)
        search.addWidget(self.kept)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(search)
        layout.addLayout(filters)
        layout.addLayout(measured)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.count)

        self._debounce = QTimer(self, singleShot=True, interval=150)
        self._debounce.timeout.connect(self.refresh)
        self.search.textChanged.connect(self._debounce.start)
        self.tag.currentTextChanged.connect(self._debounce.start)
        for combo in (self.rating, self.model_filter, self.category, self.key, self.tone):
            combo.currentIndexChanged.connect(self._debounce.start)
        self.tempo.textChanged.connect(self._debounce.start)
        self.kept.toggled.connect(self._debounce.start)
        self.view.selectionModel().currentRowChanged.connect(self._row_changed)
        waveforms.ready.connect(self.model.refresh_rows_of)

    def query(self) -> dict:
        return {"text": self.search.text(), "tag": self.tag.currentText().strip() or None,
                "min_rating": self.rating.currentData(), "model": self.model_filter.currentData(),
                "category": self.category.currentData(), "kept": self.kept.isChecked(),
                "bpm": self._tempo_range(), "key": self.key.currentData(), "tone": self.tone.currentData(),
                "sort": self._sort[0], "descending": self._sort[1]}

    def _tempo_range(self) -> tuple[float, float] | None:
        """The tempo filter, or None for none or while what is typed is not a tempo yet (then
        the field says so in red)."""
        text = self.tempo.text().strip()
        try:
            found = analysis.parse_bpm_range(text) if text else None
        except ValueError as e:
            self.tempo.setStyleSheet(f"color: {theme.ERROR}")
            self.tempo.setToolTip(str(e))
            return None
        self.tempo.setStyleSheet("")
        self.tempo.setToolTip("Measured tempo: 120 (±2) or a range, 110-130")
        return found

    def _sort_by(self, sort: str, descending: bool) -> None:
        self._sort = (sort, descending)
        self.refresh()

    def selected_cues(self) -> list[Cue]:
        """The selected rows' cues (the current one when none is selected)."""
        rows = sorted({i.row() for i in self.view.selectionModel().selectedRows()})
        if not rows and self.view.currentIndex().isValid():
            rows = [self.view.currentIndex().row()]
        return [c for c in (self.model.cue_at(r) for r in rows) if c is not None]

    def focus_list(self) -> None:
        self.view.setFocus()

    def focus_search(self) -> None:
        self.search.setFocus()
        self.search.selectAll()

    def refresh(self) -> None:
        """Search again with the current filters (off the UI thread)."""
        self._asked += 1
        asked = self._asked
        self.store.find(lambda ids: self._answer(asked, ids), **self.query())
        self.store.tags(self._set_tags)

    def cue_changed(self, cue: Cue) -> None:
        self.model.update_cue(cue)

    def _answer(self, asked: int, ids: list[int]) -> None:
        if asked != self._asked:
            return
        current = self.view.currentIndex().data(Qt.ItemDataRole.UserRole)
        self.model.set_ids(ids)
        self.count.setText(f"{len(ids)} cue{'s' * (len(ids) != 1)}")
        row = self.model.row_of(current.id) if current else None
        if row is not None:
            self.view.setCurrentIndex(self.model.index(row, 2))

    def _set_tags(self, tags: list[tuple[str, int]]) -> None:
        text = self.tag.currentText()
        self.tag.blockSignals(True)
        self.tag.clear()
        self.tag.addItems([""] + [t for t, _ in tags])
        self.tag.setEditText(text)
        self.tag.blockSignals(False)

    def _row_changed(self, current: QModelIndex, previous: QModelIndex) -> None:
        cue = self.model.cue_at(current.row())
        self.current_changed.emit(cue)
        if cue and self.auto_audition and self.view.hasFocus():
            self.actions.play(cue)

    def eventFilter(self, watched, event) -> bool:
        if watched is self.view and event.type() == event.Type.KeyPress:
            cues = self.selected_cues()
            action = cue_action(event)
            if cues and action == ("tag", None):
                self.ask_tags(cues)
                return True
            if cues and action == ("catid", None):
                self.ask_catid(cues)
                return True
            if cues and action:
                return self.actions.perform(action, cues)
        return super().eventFilter(watched, event)

    def ask_tags(self, cues: list[Cue]) -> None:
        """Tags for every selected cue, asked in a small dialog (T)."""
        self._ask("Add tags", f"Tags for {_what(cues)}, comma-separated:",
                  lambda text: self.actions.add_tags(cues, text))

    def ask_catid(self, cues: list[Cue]) -> None:
        """One UCS CatID for every selected cue (C), with completion."""
        dialog = self._ask("UCS CatID", f"CatID for {_what(cues)}:",
                           lambda text: self.actions.set_catid(cues, text.strip().split(" ")[0]))
        dialog.findChild(QLineEdit).setCompleter(ucs_completer(dialog))

    def _ask(self, title: str, label: str, done) -> QInputDialog:
        dialog = QInputDialog(self)
        dialog.setWindowTitle(title)
        dialog.setLabelText(label)
        dialog.textValueSelected.connect(done)
        dialog.open()
        self.input_dialog = dialog  # kept alive while it is open (and reachable from tests)
        return dialog

    def _context_menu(self, pos) -> None:
        cues = self.selected_cues()
        if not cues:
            return
        one = cues[0] if len(cues) == 1 else None
        what = _what(cues)
        menu = QMenu(self)
        if one:
            menu.addAction("Play\tSpace", lambda: self.actions.play(one))
        menu.addAction(f"Add {what} to the timeline", lambda: self.add_to_timeline.emit(cues))
        if one:
            menu.addAction("Show the file in its folder", lambda: self.reveal_requested.emit(one))
            menu.addAction("Export…\tCtrl+E", lambda: self.export_requested.emit(one))
        rate = menu.addMenu("Rate")
        for n in range(6):
            rate.addAction("★" * n or "No rating", lambda n=n: self.actions.rate(cues, n))
        menu.addAction("Keep / unkeep\tK", lambda: self.actions.toggle_keep(cues))
        menu.addAction("Add tags…\tT", lambda: self.ask_tags(cues))
        menu.addAction("UCS CatID…\tC", lambda: self.ask_catid(cues))
        menu.addAction("Suggested CatID\tShift+C", lambda: self.actions.file_under_suggestion(cues))
        menu.addAction(f"Transcribe {what} to MIDI\tN", lambda: self.actions.perform(("midi", None), cues))
        wholes = [c for c in cues if not c.role]
        if wholes:
            menu.addAction(f"Split {_what(wholes)} into stems\tS",
                           lambda: self.actions.perform(("stems", None), wholes))
        if one and (one.role or wholes):
            menu.addAction("Stems to tracks", lambda: self.actions.stems_to_tracks(one.id))
        menu.addSeparator()
        menu.addAction(f"Delete {what}\tDelete", lambda: self.actions.delete(cues))
        menu.popup(self.view.viewport().mapToGlobal(pos))
        self.context_menu = menu  # for tests and to keep it alive while shown


def _what(cues: list[Cue]) -> str:
    return f"cue {cues[0].id}" if len(cues) == 1 else f"{len(cues)} cues"
