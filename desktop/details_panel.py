"""The side panel: the current cue's provenance and notes (saved as you pause typing)."""

from PySide6.QtCore import QTimer
from PySide6.QtGui import QTextOption
from PySide6.QtWidgets import QLabel, QPlainTextEdit, QVBoxLayout, QWidget

from engine.cue import Cue, provenance_text


class DetailsPanel(QWidget):
    def __init__(self, store, parent=None):
        super().__init__(parent)
        self.store = store
        self.cue: Cue | None = None
        self.info = QPlainTextEdit(readOnly=True, plainText="Select a cue to see where it came from.")
        self.info.setFrameShape(QPlainTextEdit.Shape.NoFrame)
        self.info.setWordWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)  # paths, sha256
        self.notes = QPlainTextEdit(placeholderText="Notes")
        self.notes.setEnabled(False)
        self._save = QTimer(self, singleShot=True, interval=600)
        self._save.timeout.connect(self._save_notes)
        self.notes.textChanged.connect(self._save.start)
        layout = QVBoxLayout(self)
        layout.addWidget(self.info, 1)
        layout.addWidget(QLabel("Notes"))
        layout.addWidget(self.notes)

    def show_cue(self, cue: Cue | None) -> None:
        if self._save.isActive():  # a pending edit belongs to the cue shown until now
            self._save.stop()
            self._save_notes()
        self.cue = cue
        self.info.setPlainText(provenance_text(cue) if cue else "Select a cue to see where it came from.")
        self.notes.setEnabled(cue is not None)
        self.notes.blockSignals(True)
        self.notes.setPlainText(cue.notes if cue else "")
        self.notes.blockSignals(False)

    def cue_changed(self, cue: Cue) -> None:
        if self.cue and cue.id == self.cue.id:
            self.cue = cue
            self.info.setPlainText(provenance_text(cue))

    def flush(self) -> None:
        if self._save.isActive():
            self._save.stop()
            self._save_notes()

    def _save_notes(self) -> None:
        if self.cue and self.notes.toPlainText() != self.cue.notes:
            self.store.set_notes(self.cue, self.notes.toPlainText())
