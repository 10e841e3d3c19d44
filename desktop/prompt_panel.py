"""The prompt panel: what to generate. Builds a GenerationRequest; remembers the last one."""

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout,
                               QHBoxLayout, QLabel, QLineEdit, QPlainTextEdit, QPushButton, QSizePolicy, QSpinBox,
                               QToolButton, QVBoxLayout, QWidget)

from engine import registry
from engine.analysis import KEYS, MAX_BPM
from engine.request import (MAX_CANDIDATES, MAX_CFG, MAX_SEED, MAX_TEMPERATURE, MIN_DURATION,
                            GenerationRequest)

from .flow_layout import FlowLayout



class PromptPanel(QWidget):
    generate_requested = Signal()
    install_requested = Signal(str)  # a model that is not on this machine yet
    model_changed = Signal()
    text_changed = Signal()  # the prompt is being typed
    melody_from_cue_requested = Signal()  # the window answers with set_melody("cue:ID", label)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.prompt = QPlainTextEdit(placeholderText="Describe the cue, e.g. “tense low strings, "
                                     "slow pulse, distant thunder”   (Ctrl+Enter generates)")
        self.prompt.setMaximumHeight(60)
        self.prompt.setTabChangesFocus(True)
        self.prompt.textChanged.connect(self.text_changed)
        self.negative = QLineEdit(placeholderText="optional, e.g. “vocals, drums”", clearButtonEnabled=True)
        self.negative.setToolTip("What the cues should not have: guidance steers away from it (needs CFG above 1)")
        self.model = QComboBox()
        self._present = {name: info.tiny for name, info in registry.MODELS.items()}
        for info in registry.MODELS.values():
            self.model.addItem(info.name, info.name)
        self.model.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.model.setMinimumContentsLength(18)
        self.model_info = QLabel(wordWrap=True, textFormat=Qt.TextFormat.PlainText)
        self.model_info.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Minimum)
        self.install = QPushButton("Install…", visible=False,
                                   toolTip="Download this model once (progress, cancel and resume in File → Models)")
        self._install_target = ""
        self.install.clicked.connect(lambda: self.install_requested.emit(self._install_target))
        self.candidates = QSpinBox(minimum=1, maximum=MAX_CANDIDATES, value=4)
        self.duration = QDoubleSpinBox(minimum=MIN_DURATION, maximum=30.0, value=8.0,
                                       singleStep=0.5, decimals=1, suffix=" s")
        self._melody: str | None = None  # a file path or "cue:ID"
        self.melody = QLabel("none: the prompt alone", textFormat=Qt.TextFormat.PlainText)
        melody_file = QToolButton(text="File…", toolTip="Follow the melody of an audio file (WAV, FLAC, OGG, MP3)")
        melody_file.clicked.connect(self._pick_melody_file)
        melody_cue = QToolButton(text="Selected cue", toolTip="Follow the melody of the cue selected in the grid or library")
        melody_cue.clicked.connect(self.melody_from_cue_requested)
        melody_clear = QToolButton(text="✕", toolTip="No melody")
        melody_clear.clicked.connect(lambda: self.set_melody(None, ""))
        self.melody_row = QWidget()
        melody_layout = QHBoxLayout(self.melody_row)
        melody_layout.setContentsMargins(0, 0, 0, 0)
        melody_layout.addWidget(self.melody, 1)
        for button in (melody_file, melody_cue, melody_clear):
            melody_layout.addWidget(button)
        self.generate = QPushButton("Generate")
        self.generate.setDefault(True)
        self.generate.setToolTip("Generate the candidates (Ctrl+Enter)")

        self.fixed_seed = QCheckBox("Fixed seed")
        self.seed = QSpinBox(minimum=0, maximum=min(MAX_SEED, 2**31 - 1), value=1)
        self.seed.setEnabled(False)
        self.top_k = QSpinBox(minimum=0, maximum=2048, value=250)
        self.top_p = QDoubleSpinBox(minimum=0.0, maximum=1.0, singleStep=0.05, decimals=2)
        self.temperature = QDoubleSpinBox(minimum=0.0, maximum=MAX_TEMPERATURE, value=1.0,
                                          singleStep=0.1, decimals=2)
        self.cfg = QDoubleSpinBox(minimum=0.0, maximum=MAX_CFG, value=3.0, singleStep=0.5,
                                  decimals=1)
        self.top_k.setToolTip("Sample from the K most likely codes (0 = all)")
        self.top_p.setToolTip("Nucleus sampling; 0 uses top-k instead")
        self.temperature.setToolTip("Higher is wilder; 0 is greedy (always the most likely code)")
        self.cfg.setToolTip("Classifier-free guidance: how closely to follow the prompt")
        # 0 and "" want nothing: the candidates keep their order
        self.bpm = QDoubleSpinBox(minimum=0.0, maximum=MAX_BPM, value=0.0, decimals=1, suffix=" BPM",
                                  specialValueText="any tempo")
        self.key = QComboBox()
        self.key.addItem("any key", "")
        for key in KEYS:
            self.key.addItem(key, key)
        self.bpm.setToolTip("The tempo: candidates come best first by how close their measured tempo came, "
                            "and a loop of bars lasts that many bars at it")
        self.key.setToolTip("Rank the candidates by how close their measured key came to this (best first)")
        self.loop = QCheckBox("Loop", toolTip="Each candidate a seamless loop: its end flows into its start; "
                                              "samplers and DAWs read its loop points and tempo")
        self.bars = QSpinBox(minimum=0, maximum=64, value=4, suffix=" bars", specialValueText="duration",
                             toolTip="The loop's length in bars at the tempo (or \u201cduration\u201d: the "
                                     "Duration's seconds, for ambiences and effects)")
        self.beats_per_bar = QSpinBox(minimum=1, maximum=16, value=4, suffix="/4", toolTip="Beats per bar")
        for box in (self.seed, self.top_k, self.top_p, self.temperature, self.cfg):
            box.setMinimumWidth(100)  # room for the digits at any window size

        self.advanced = QToolButton(text="Advanced", checkable=True, autoRaise=True)
        self.advanced.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.advanced.setArrowType(Qt.ArrowType.RightArrow)
        fields = QWidget()
        advanced = QFormLayout(fields)
        advanced.setContentsMargins(0, 0, 0, 0)
        seed_row = QHBoxLayout()
        seed_row.addWidget(self.fixed_seed)
        seed_row.addWidget(self.seed, 1)
        advanced.addRow("Seed", seed_row)
        advanced.addRow("Top-k", self.top_k)
        advanced.addRow("Top-p", self.top_p)
        advanced.addRow("Temperature", self.temperature)
        advanced.addRow("CFG", self.cfg)
        self.advanced.toggled.connect(fields.setVisible)
        self.advanced.toggled.connect(lambda on: self.advanced.setArrowType(
            Qt.ArrowType.DownArrow if on else Qt.ArrowType.RightArrow))
        fields.setVisible(False)

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Not", self.negative)
        form.addRow("Model", self.model)
        info_row = QHBoxLayout()
        info_row.addWidget(self.model_info, 1)
        info_row.addWidget(self.install, 0, Qt.AlignmentFlag.AlignTop)
        form.addRow("", info_row)
        form.addRow("Melody", self.melody_row)
        self._melody_label = form.labelForField(self.melody_row)
        # One line where the panel is wide, wrapping where it is not (a laptop keeps room for the cards).
        self._settings = QWidget()
        self._flow = FlowLayout(self._settings, spacing=10)
        for widgets in ((QLabel("Candidates"), self.candidates, QLabel("Duration"), self.duration),
                        (self.bpm, self.key, self.loop, self.bars, self.beats_per_bar)):
            self._flow.addWidget(_together(*widgets))
        row = QHBoxLayout()
        row.addWidget(self._settings, 1)
        row.addWidget(self.generate, 0, Qt.AlignmentFlag.AlignTop)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.prompt)
        layout.addLayout(form)
        layout.addLayout(row)
        layout.addWidget(self.advanced)
        layout.addWidget(fields)

        self.model.currentIndexChanged.connect(self._model_changed)
        self.model.currentIndexChanged.connect(self.model_changed)
        self.fixed_seed.toggled.connect(self.seed.setEnabled)
        for changed in (self.loop.toggled, self.bars.valueChanged, self.bpm.valueChanged,
                        self.beats_per_bar.valueChanged):
            changed.connect(self._loop_changed)
        self.generate.clicked.connect(self.generate_requested)
        for keys in ("Ctrl+Return", "Ctrl+Enter"):
            QShortcut(QKeySequence(keys), self, self.generate_requested.emit,
                      context=Qt.ShortcutContext.WindowShortcut)
        self._model_changed()
        self._loop_changed()

    def set_presence(self, present: dict[str, bool]) -> None:
        """Mark which models are on this machine (checked off the UI thread)."""
        self._present.update(present)
        for i in range(self.model.count()):
            info = registry.get(self.model.itemData(i))
            size = "built in" if info.tiny else f"{info.download_bytes / 1e9:.1f} GB"
            state = "" if self._present.get(info.name) else ", not downloaded"
            self.model.setItemText(i, f"{info.name}  ({info.kind}, {size}{state})")
        self._model_changed()

    def _model_changed(self) -> None:
        info = registry.get(self.model.currentData())
        self.duration.setMaximum(info.longest)
        self.top_k.setMaximum(info.card)
        melodic = "melody" in info.conditioning
        self.melody_row.setVisible(melodic)
        self._melody_label.setVisible(melodic)
        present = bool(self._present.get(info.name))
        where = "on this machine" if present else "not downloaded yet"
        # the tiny melody model needs only the stem separator melody models run
        self._install_target = registry.SEPARATOR_MODEL.name if info.tiny else info.name
        self.install.setVisible(not present)
        self.install.setText(f"Install {self._install_target}…")
        self.model_info.setText(f"{info.label}, {where}.")

    def _loop_changed(self) -> None:
        """A loop of bars lasts what its bars take at the tempo: the duration shows it."""
        loop = self.loop.isChecked()
        self.bars.setEnabled(loop)
        self.beats_per_bar.setEnabled(loop and self.bars.value() > 0)
        of_bars = loop and self.bars.value() > 0 and self.bpm.value() > 0
        if of_bars:
            self.duration.setValue(self.bars.value() * self.beats_per_bar.value() * 60 / self.bpm.value())
        self.duration.setEnabled(not (loop and self.bars.value() > 0))

    def resizeEvent(self, event) -> None:
        """Room for the settings' wrapped lines on a narrow window (a splitter holds the panel,
        and a splitter does not ask a layout for its height at a width)."""
        super().resizeEvent(event)
        wrapped = self._flow.heightForWidth(self._settings.width()) - self._flow.minimumSize().height()
        self.setMinimumHeight(self.layout().minimumSize().height() + max(0, wrapped))

    def focus_prompt(self) -> None:
        self.prompt.setFocus()

    def request(self) -> GenerationRequest:
        return GenerationRequest(
            prompt=self.prompt.toPlainText(), negative=self.negative.text(), model=self.model.currentData(),
            candidates=self.candidates.value(), duration=self.duration.value(),
            top_k=self.top_k.value(), top_p=self.top_p.value(),
            temperature=self.temperature.value(), cfg_coef=self.cfg.value(),
            seed=self.seed.value() if self.fixed_seed.isChecked() else None,
            melody=self._melody if self.melody_row.isVisibleTo(self) else None,
            bpm=self.bpm.value() or None, key=self.key.currentData() or None, loop=self.loop.isChecked(),
            bars=(self.bars.value() or None) if self.loop.isChecked() else None,
            beats_per_bar=self.beats_per_bar.value())

    def set_melody(self, melody: str | None, label: str) -> None:
        self._melody = melody
        self.melody.setText(label if melody else "none: the prompt alone")

    def _pick_melody_file(self) -> None:
        from PySide6.QtWidgets import QFileDialog

        path, _ = QFileDialog.getOpenFileName(self, "Melody to follow", "",
                                              "Audio (*.wav *.flac *.ogg *.mp3);;All files (*)")
        if path:
            self.set_melody(path, path.rsplit("/", 1)[-1])

    def save(self, settings) -> None:
        settings.set("prompt/text", self.prompt.toPlainText())
        settings.set("prompt/negative", self.negative.text())
        settings.set("prompt/model", self.model.currentData())
        for key, box in self._numbers().items():
            settings.set(f"prompt/{key}", box.value())
        settings.set("prompt/fixed_seed", self.fixed_seed.isChecked())
        settings.set("prompt/advanced", self.advanced.isChecked())
        settings.set("prompt/key", self.key.currentData())
        settings.set("prompt/loop", self.loop.isChecked())

    def restore(self, settings) -> None:
        self.prompt.setPlainText(settings.get("prompt/text"))
        self.negative.setText(settings.get("prompt/negative"))
        index = self.model.findData(settings.get("prompt/model"))
        self.model.setCurrentIndex(max(index, 0))
        for key, box in self._numbers().items():
            box.setValue(settings.get(f"prompt/{key}"))
        self.fixed_seed.setChecked(settings.get("prompt/fixed_seed"))
        self.advanced.setChecked(settings.get("prompt/advanced"))
        self.key.setCurrentIndex(max(self.key.findData(settings.get("prompt/key")), 0))
        self.loop.setChecked(settings.get("prompt/loop"))
        self._loop_changed()

    def _numbers(self) -> dict:
        return {"candidates": self.candidates, "duration": self.duration, "seed": self.seed,
                "top_k": self.top_k, "top_p": self.top_p, "temperature": self.temperature,
                "cfg": self.cfg, "bpm": self.bpm, "bars": self.bars, "beats_per_bar": self.beats_per_bar}


def _together(*widgets) -> QWidget:
    """Widgets that stay on one line (a label with its field) when a flow wraps."""
    group = QWidget()
    layout = QHBoxLayout(group)
    layout.setContentsMargins(0, 0, 0, 0)
    for widget in widgets:
        layout.addWidget(widget)
    return group
