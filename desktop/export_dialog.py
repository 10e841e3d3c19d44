"""Export options: the folder, sample rate, bit depth and format (48 kHz, 24-bit WAV by default);
for a timeline, also each stem's notes as MIDI; the weights licences of what is exported, and
commercial delivery (which refuses non-commercial weights)."""

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QDialogButtonBox, QFileDialog, QFormLayout,
                               QHBoxLayout, QLabel, QLineEdit, QPushButton, QWidget)

from engine.export import RATES


class ExportDialog(QDialog):
    def __init__(self, what: str, folder: str, rate: int | None = 48000, parent=None, stems: bool = False,
                 midi: bool = False, licences: str = "", commercial: bool = False):
        super().__init__(parent)
        self.setWindowTitle(f"Export {what}")
        self.folder = QLineEdit(folder or str(Path.home()))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row = QWidget()
        row_layout = QHBoxLayout(row)
        row_layout.setContentsMargins(0, 0, 0, 0)
        row_layout.addWidget(self.folder)
        row_layout.addWidget(browse)
        self.rate = QComboBox()
        if rate is None:
            self.rate.addItem("the cue's own rate", None)
        for r in RATES:
            self.rate.addItem(f"{r / 1000:g} kHz", r)
        self.rate.setCurrentIndex(0 if rate is None else RATES.index(rate))
        self.bits = QComboBox()
        for label, value in [("16-bit (dithered)", "16"), ("24-bit", "24"), ("32-bit float", "32f")]:
            self.bits.addItem(label, value)
        self.bits.setCurrentIndex(1)
        self.format = QComboBox()
        self.format.addItem("WAV (Broadcast WAV: bext + iXML)", "wav")
        self.format.addItem("FLAC", "flac")
        self.format.currentIndexChanged.connect(self._format_changed)
        form = QFormLayout(self)
        form.addRow("Into folder", row)
        form.addRow("Sample rate", self.rate)
        form.addRow("Bit depth", self.bits)
        form.addRow("Format", self.format)
        self._stems = stems
        self.midi = QCheckBox("Each stem's notes as a MIDI file beside it, at the timeline's tempo", checked=midi)
        if stems:
            form.addRow("MIDI", self.midi)
        self.licences = QLabel(licences, wordWrap=True, textFormat=Qt.TextFormat.PlainText)
        form.addRow("Weights", self.licences)
        self.commercial = QCheckBox("Commercial delivery: refuse cues whose weights are non-commercial",
                                    checked=commercial)
        form.addRow("Delivery", self.commercial)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Export")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def options(self) -> dict:
        options = {"out_dir": Path(self.folder.text()).expanduser(), "rate": self.rate.currentData(),
                   "bits": self.bits.currentData(), "fmt": self.format.currentData(),
                   "commercial": self.commercial.isChecked()}
        return {**options, "midi": self.midi.isChecked()} if self._stems else options

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export into", self.folder.text())
        if folder:
            self.folder.setText(folder)

    def _format_changed(self) -> None:
        float_item = self.bits.model().item(2)
        float_item.setEnabled(self.format.currentData() == "wav")  # FLAC holds 16 or 24 bits
        if self.format.currentData() == "flac" and self.bits.currentData() == "32f":
            self.bits.setCurrentIndex(1)
