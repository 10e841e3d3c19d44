"""Settings: audio output device, auto-audition, loudness-matched audition, where the engine
runs (CUDA, Apple MPS or the CPU), and the theme."""

from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QDialogButtonBox, QFormLayout, QLabel,
                               QLineEdit)

from engine import cluster, resources
from engine.errors import BadInput
from engine.player import output_devices

from . import theme

class SettingsDialog(QDialog):
    def __init__(self, background, device, auto_audition: bool, match_loudness: bool,
                 engine_device: str = "auto", precision: str = "fp32", theme_choice: str = "system",
                 cluster_address: str = "", parent=None):
        super().__init__(parent)
        self.setWindowTitle("CueDeck settings")
        self.device = QComboBox()
        self.device.addItem("System default", None)
        self.device.setEnabled(False)
        self._wanted = device
        self.device_note = QLabel("Looking for audio devices…")
        self.auto_audition = QCheckBox("Play a cue when moving to it (auto-audition)")
        self.auto_audition.setChecked(auto_audition)
        self.match_loudness = QCheckBox("Match loudness when auditioning (files are not changed)")
        self.match_loudness.setChecked(match_loudness)
        self.engine_device = QComboBox(toolTip="Where models run; CUDA runs them in half precision")
        for label, value in [("Automatic: CUDA, else Apple MPS, else CPU", "auto"), ("CPU", "cpu"),
                             ("CUDA (NVIDIA GPU)", "cuda"), ("Apple MPS", "mps")]:
            self.engine_device.addItem(label, value)
        self.engine_device.setCurrentIndex(max(self.engine_device.findData(engine_device), 0))
        self.precision = QComboBox(toolTip="How CueDeck's decoder computes: fp32 makes exactly "
                                           "audiocraft's tokens; int8 is several times faster on a CPU")
        bf16 = {True: "bf16 (this CPU computes it natively; GPUs)",
                False: "bf16 (on GPUs; this CPU lacks AVX512-BF16 and AMX, so it runs fp32)",
                None: "bf16 (CPUs with AVX512-BF16 or AMX, GPUs; fp32 on other CPUs)"}[resources.cpu_has_bf16()]
        for label, value in [("Exact (fp32, the same tokens as audiocraft)", "fp32"),
                             ("Fast (int8 weights, about 3× on a CPU)", "int8"), (bf16, "bf16")]:
            self.precision.addItem(label, value)
        self.precision.setCurrentIndex(max(self.precision.findData(precision), 0))
        self.cluster = QLineEdit(cluster_address, placeholderText="this computer",
                                 toolTip="host:port of a Ray cluster to generate on; empty: this computer")
        self.cluster_note = QLabel(wordWrap=True)
        self.cluster.textChanged.connect(self._cluster_changed)
        self._cluster_changed(cluster_address)
        self.theme = QComboBox(toolTip="Dark, light, or the desktop's own choice (dark when it has none)")
        for label, value in theme.CHOICES:
            self.theme.addItem(label, value)
        self.theme.setCurrentIndex(max(self.theme.findData(theme_choice), 0))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok |
                                   QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("Output device", self.device)
        form.addRow("", self.device_note)
        form.addRow(self.auto_audition)
        form.addRow(self.match_loudness)
        form.addRow("Generate on", self.cluster)
        form.addRow("", self.cluster_note)
        form.addRow("Device", self.engine_device)
        form.addRow("Precision", self.precision)
        form.addRow("Theme", self.theme)
        form.addRow(buttons)
        background.files(output_devices, self._devices_found, self._no_devices)

    def _cluster_changed(self, text: str) -> None:
        """Say what is wrong with the address, or warn when it reaches another computer
        without Ray's token authentication."""
        text = text.strip()
        try:
            unprotected = bool(text) and cluster.unprotected(text)
            note = (f"{text} is another computer and RAY_AUTH_MODE=token is not set: anyone who can reach "
                    "it can run code on it" if unprotected else "")
        except BadInput as e:
            note = str(e)
        self.cluster_note.setText(note)
        self.cluster_note.setVisible(bool(note))

    def accept(self) -> None:
        try:
            if self.chosen_cluster():
                cluster.check_address(self.chosen_cluster())
        except BadInput:
            self.cluster.setFocus()  # the note under it says why
            return
        super().accept()

    def chosen_cluster(self) -> str:
        return self.cluster.text().strip()

    def _devices_found(self, devices: list[dict]) -> None:
        for d in devices:
            self.device.addItem(f"{d['name']} ({d['hostapi']})", d["name"])
        index = self.device.findData(self._wanted)
        self.device.setCurrentIndex(max(index, 0))
        self.device.setEnabled(True)
        self.device_note.setText(f"{len(devices)} output device(s) found")

    def _no_devices(self, message: str) -> None:
        self.device_note.setText(message)

    def chosen_device(self):
        return self.device.currentData()

    def chosen_engine_device(self) -> str:
        return self.engine_device.currentData()

    def chosen_precision(self) -> str:
        return self.precision.currentData()

    def chosen_theme(self) -> str:
        return self.theme.currentData()
