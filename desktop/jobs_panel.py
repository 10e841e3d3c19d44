"""The job queue: progress and cancel per job; errors stay on the job, not in a dialog."""

from html import escape

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QHBoxLayout, QLabel, QProgressBar, QPushButton, QScrollArea,
                               QVBoxLayout, QWidget)

from engine.request import GenerationRequest

KEEP_FINISHED = 20


class JobRow(QWidget):
    def __init__(self, job_id: str, request: GenerationRequest, on_cancel):
        super().__init__()
        self.job_id = job_id
        self.finished = False
        prompt = request.prompt if len(request.prompt) <= 60 else request.prompt[:59] + "…"
        more = f" · more like cue {request.parent_id}" if request.parent_id else ""
        self.title = QLabel(f"{prompt} · {request.model} · {request.candidates} × {request.duration:g} s{more}")
        self.bar = QProgressBar(maximum=1000, textVisible=True, format="queued")
        self.cancel = QPushButton("Cancel")
        self.cancel.clicked.connect(lambda: on_cancel(job_id))
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.status.hide()
        row = QHBoxLayout()
        row.addWidget(self.title, 2)
        row.addWidget(self.bar, 1)
        row.addWidget(self.cancel)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.addLayout(row)
        layout.addWidget(self.status)

    def progress(self, fraction: float, stage: str) -> None:
        self.bar.setValue(int(fraction * 1000))
        self.bar.setFormat(f"{stage} %p%")

    def end(self, text: str, error: bool = False) -> None:
        self.finished = True
        self.cancel.hide()
        if error:
            self.bar.hide()
            self.status.setText(f"<span style='color:#c0392b'>{escape(text)}</span>")
            self.status.show()
        else:
            self.bar.setValue(1000)
            self.bar.setFormat(text)


class JobsPanel(QScrollArea):
    cancel_requested = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWidgetResizable(True)
        body = QWidget()
        self._layout = QVBoxLayout(body)
        self._layout.addStretch(1)
        self.setWidget(body)
        self._rows: dict[str, JobRow] = {}

    def add(self, job_id: str, request: GenerationRequest) -> None:
        row = JobRow(job_id, request, self.cancel_requested.emit)
        self._rows[job_id] = row
        self._layout.insertWidget(0, row)
        finished = [r for r in self._rows.values() if r.finished]
        for old in finished[:-KEEP_FINISHED]:
            self._drop(old)

    def progress(self, job_id: str, fraction: float, stage: str) -> None:
        if row := self._rows.get(job_id):
            row.progress(fraction, stage)

    def done(self, job_id: str, seconds: float | None = None) -> None:
        if row := self._rows.get(job_id):
            row.end("done" if seconds is None else f"done in {seconds:.1f} s")

    def failed(self, job_id: str, message: str) -> None:
        if row := self._rows.get(job_id):
            row.end(message, error=True)

    def cancelled(self, job_id: str) -> None:
        if row := self._rows.get(job_id):
            row.end("cancelled")

    def row(self, job_id: str) -> JobRow | None:
        return self._rows.get(job_id)

    def _drop(self, row: JobRow) -> None:
        del self._rows[row.job_id]
        row.deleteLater()
