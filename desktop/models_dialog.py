"""The model manager dialog: every model with its state, size, place and weights licence;
install (progress, cancel, resume), import a folder, remove.

Installs and imports run as `cuedeck models …` processes (QProcess): the UI process never
loads torch, never waits on the network, and a cancel is a SIGINT that keeps the partial
files for the next install to resume."""

import json
import os
import signal

from PySide6.QtCore import QProcess, Qt, Signal
from PySide6.QtWidgets import (QAbstractItemView, QDialog, QFileDialog, QHBoxLayout, QLabel,
                               QMessageBox, QProgressBar, QPushButton, QTableWidget,
                               QTableWidgetItem, QVBoxLayout)

from engine import models, processes, registry
from engine.registry import WEIGHTS_LICENCE

COLUMNS = ["Model", "Kind", "State", "Size", "Weights licence", "Where"]


class ModelsDialog(QDialog):
    changed = Signal()  # a model was installed, imported or removed

    def __init__(self, background, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Models")
        self.resize(980, 520)
        self.background = background
        self._process: QProcess | None = None
        self._cancelled = False
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.itemSelectionChanged.connect(self._selection)
        note = QLabel(f"MusicGen, AudioGen and MAGNeT weights are <b>{WEIGHTS_LICENCE}</b>: "
                      "non-commercial use only. Real models also need the T5 text encoder "
                      "(about 0.9 GB, downloaded once with the first model). Downloads resume "
                      "where they stopped.", wordWrap=True)
        self.install = QPushButton("Install")
        self.cancel = QPushButton("Cancel download", visible=False)
        self.import_button = QPushButton("Import folder…")
        self.remove = QPushButton("Remove")
        self.progress = QProgressBar(visible=False)
        self.status = QLabel("", wordWrap=True, textFormat=Qt.TextFormat.PlainText)
        self.install.clicked.connect(self._install)
        self.cancel.clicked.connect(self._cancel)
        self.import_button.clicked.connect(self._import)
        self.remove.clicked.connect(self._remove)
        buttons = QHBoxLayout()
        for b in (self.install, self.cancel, self.import_button, self.remove):
            buttons.addWidget(b)
        buttons.addWidget(self.progress, 1)
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(note)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.status)
        layout.addLayout(buttons)
        self._states: list = []
        self._wanted: str | None = None
        self.refresh()

    # -- the list ------------------------------------------------------------------------

    def refresh(self) -> None:
        self.background.files(models.states, self._show, self._say)

    def _show(self, states) -> None:
        selected = self._wanted or self.selected_name()
        self._wanted = None
        self._states = states
        self.table.setRowCount(len(states))
        for row, s in enumerate(states):
            size = "built in" if s.info.tiny else (f"{s.size_bytes / 1e9:.2f} GB" if s.size_bytes
                                                   else f"~{s.info.download_bytes / 1e9:.1f} GB download")
            state = s.state + (f": {s.detail}" if s.detail and not s.info.tiny else "")
            where = str(s.path) if s.path and not s.info.tiny else ""
            values = [s.info.name, s.info.audio, state, size, s.info.licence, where]
            for column, value in enumerate(values):
                item = QTableWidgetItem(value)
                item.setToolTip(value)
                self.table.setItem(row, column, item)
            if s.info.name == selected:
                self.table.selectRow(row)
        self.table.resizeColumnsToContents()
        self._selection()

    def selected_name(self) -> str | None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        return self.table.item(rows[0].row(), 0).text() if rows else None

    def select(self, name: str) -> None:
        """Select `name` (now, and again when the list being read arrives)."""
        self._wanted = name
        for row in range(self.table.rowCount()):
            if self.table.item(row, 0).text() == name:
                self.table.selectRow(row)

    def _selection(self) -> None:
        name = self.selected_name()
        state = next((s for s in self._states if s.info.name == name), None)
        busy = self._process is not None
        real = state is not None and not state.info.tiny
        self.install.setEnabled(real and not busy and state.state != "present")
        self.import_button.setEnabled(real and not busy)
        self.remove.setEnabled(real and not busy and state.state in ("present", "broken", "not present")
                               and state.path is not None)

    def _say(self, message: str) -> None:
        self.status.setText(message)

    # -- install, import, remove ----------------------------------------------------------

    def _install(self) -> None:
        name = self.selected_name()
        if name:
            self._run(["models", "install", name, "--progress-json"], f"installing {name}", name)

    def _import(self) -> None:
        name = self.selected_name()
        if not name:
            return
        holds = (f"{registry.SEPARATOR_BAG} and its .safetensors files" if name == registry.SEPARATOR_MODEL.name
                 else "state_dict.bin and compression_state_dict.bin")
        folder = QFileDialog.getExistingDirectory(self, f"Folder holding {name}'s {holds}")
        if folder:
            self._run(["models", "import", name, folder], f"importing {name}", name)

    def _remove(self) -> None:
        name = self.selected_name()
        if name and QMessageBox.question(self, "Remove model", f"Delete {name}'s files from this machine?") \
                == QMessageBox.StandardButton.Yes:
            self.background.files(lambda: models.remove(name),
                                  lambda removed: (self._say(f"removed {name}"), self.refresh(), self.changed.emit()),
                                  self._say)

    def _run(self, args: list[str], what: str, name: str) -> None:
        process = self._process = QProcess(self)
        program, *arguments = processes.command("engine.cli", *args)
        process.setProgram(program)
        process.setArguments(arguments)
        process.setProcessChannelMode(QProcess.ProcessChannelMode.SeparateChannels)
        process.readyReadStandardOutput.connect(self._output)
        process.finished.connect(lambda code, _: self._finished(code, what, name))
        self._cancelled = False
        self.progress.setRange(0, 0)
        self.progress.show()
        self.cancel.setVisible(args[1] == "install")
        self._say(f"{what}…")
        self._selection()
        process.start()

    def _output(self) -> None:
        while self._process and self._process.canReadLine():
            line = bytes(self._process.readLine()).decode(errors="replace").strip()
            if line.startswith("{"):
                progress = json.loads(line)
                self.progress.setRange(0, 1000)
                self.progress.setValue(int(1000 * progress["done"] / max(progress["total"], 1)))
                self.progress.setFormat(f"{progress['done'] / 1e6:.0f} / {progress['total'] / 1e6:.0f} MB")

    def _cancel(self) -> None:
        if self._process and self._process.processId():
            self._cancelled = True
            os.kill(self._process.processId(), signal.SIGINT)  # keeps the partial files

    def _finished(self, code: int, what: str, name: str) -> None:
        error = bytes(self._process.readAllStandardError()).decode(errors="replace").strip()
        self._process.deleteLater()
        self._process = None
        self.progress.hide()
        self.cancel.hide()
        self._selection()
        if code == 0:
            self._say(f"{what}: done")
            self.changed.emit()
        elif self._cancelled:
            self._say(f"{what}: cancelled; Install again resumes the download")
        else:
            self._say(error.splitlines()[-1].removeprefix("cuedeck: ") if error else f"{what} failed ({code})")
        self.refresh()

    def shutdown(self) -> None:
        """The app is quitting: stop a running download (its partial files stay)."""
        if self._process is not None:
            self._cancel()
            self._process.waitForFinished(5_000)
