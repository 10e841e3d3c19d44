"""Export options: the folder, sample rate, bit depth and format (48 kHz, 24-bit WAV by default);
for a timeline, also each stem's notes as MIDI; the weights licences of what is exported, and
the delivery: commercial (which refuses non-commercial weights), a loudness preset, content
credentials (who signs them, with the prompts or not). Remembered in the settings."""

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QDialogButtonBox, QDoubleSpinBox, QFileDialog,
                               QFormLayout, QHBoxLayout, QLabel, QLineEdit, QPushButton, QWidget)

from engine import credentials, loudness
from engine.export import RATES, Delivery

DELIVERY_SETTINGS = {"commercial": "export/commercial", "loudness": "export/loudness", "target_lufs": "export/lufs",
                     "ceiling_dbtp": "export/true_peak", "stems_follow": "export/stems_follow",
                     "sign": "export/sign", "prompts": "export/private", "aaf": "export/aaf"}


def delivery_from(settings) -> Delivery:
    """The delivery last chosen."""
    values = {field: settings.get(key) for field, key in DELIVERY_SETTINGS.items()}
    return Delivery(**{**values, "prompts": not values["prompts"]})


def remember(settings, options: dict) -> None:
    """Keep the folder and delivery of an export for the next one."""
    settings.set("export/folder", str(options["out_dir"]))
    delivery = options.get("delivery")
    for field, key in DELIVERY_SETTINGS.items() if delivery else ():
        value = getattr(delivery, field)
        if value is not None:  # a preset's target stays the last custom one
            settings.set(key, not value if field == "prompts" else value)


class ExportDialog(QDialog):
    def __init__(self, what: str, folder: str, rate: int | None = 48000, parent=None, stems: bool = False,
                 midi: bool = False, licences: str = "", delivery: Delivery = Delivery()):
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
                                    checked=delivery.commercial)
        form.addRow("Delivery", self.commercial)
        self.loudness = QComboBox()
        for preset in loudness.PRESETS.values():
            self.loudness.addItem(preset.label, preset.name)
        self.loudness.addItem("Custom…", loudness.CUSTOM)
        self.loudness.setCurrentIndex(max(0, self.loudness.findData(delivery.loudness)))
        self.target = QDoubleSpinBox(minimum=-60, maximum=0, singleStep=0.5, suffix=" LUFS", decimals=1,
                                     value=-23.0 if delivery.target_lufs is None else delivery.target_lufs)
        self.ceiling = QDoubleSpinBox(minimum=-20, maximum=0, singleStep=0.5, suffix=" dBTP", decimals=1,
                                      value=-1.0 if delivery.ceiling_dbtp is None else delivery.ceiling_dbtp)
        custom = QWidget()
        custom_layout = QHBoxLayout(custom)
        custom_layout.setContentsMargins(0, 0, 0, 0)
        custom_layout.addWidget(self.target)
        custom_layout.addWidget(self.ceiling)
        self.custom = custom
        self.loudness.currentIndexChanged.connect(self._loudness_changed)
        form.addRow("Loudness", self.loudness)
        form.addRow("Custom target", custom)
        self.stems_follow = QCheckBox("Stems take the mix's gain (and the true-peak ceiling)",
                                      checked=delivery.stems_follow)
        self.aaf = QComboBox()
        for label, value in [("Linked: the stems beside it", "linked"),
                             ("Embedded: one self-contained file (16/24-bit WAV)", "embedded"), ("None", "none")]:
            self.aaf.addItem(label, value)
        self.aaf.setCurrentIndex(max(0, self.aaf.findData(delivery.aaf)))
        if stems:
            form.addRow("Stems", self.stems_follow)
            form.addRow("AAF (Pro Tools)", self.aaf)
        self.sign = QCheckBox("Sign content credentials (C2PA) into every audio file", checked=delivery.sign)
        self.prompts = QCheckBox("With the prompts in them", checked=delivery.prompts)
        self.signer = QLabel(credentials.signer_description(), wordWrap=True, textFormat=Qt.TextFormat.PlainText)
        self.sign.toggled.connect(self.prompts.setEnabled)
        self.prompts.setEnabled(delivery.sign)
        form.addRow("Credentials", self.sign)
        form.addRow("", self.prompts)
        form.addRow("Signed by", self.signer)
        self._loudness_changed()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Export")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def options(self) -> dict:
        custom = self.loudness.currentData() == loudness.CUSTOM
        delivery = Delivery(commercial=self.commercial.isChecked(), loudness=self.loudness.currentData(),
                            target_lufs=self.target.value() if custom else None,
                            ceiling_dbtp=self.ceiling.value() if custom else None,
                            stems_follow=self.stems_follow.isChecked(), sign=self.sign.isChecked(),
                            prompts=self.prompts.isChecked(), aaf=self.aaf.currentData())
        options = {"out_dir": Path(self.folder.text()).expanduser(), "rate": self.rate.currentData(),
                   "bits": self.bits.currentData(), "fmt": self.format.currentData(), "delivery": delivery}
        return {**options, "midi": self.midi.isChecked()} if self._stems else options

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export into", self.folder.text())
        if folder:
            self.folder.setText(folder)

    def _loudness_changed(self) -> None:
        self.custom.setEnabled(self.loudness.currentData() == loudness.CUSTOM)

    def _format_changed(self) -> None:
        float_item = self.bits.model().item(2)
        float_item.setEnabled(self.format.currentData() == "wav")  # FLAC holds 16 or 24 bits
        if self.format.currentData() == "flac" and self.bits.currentData() == "32f":
            self.bits.setCurrentIndex(1)
