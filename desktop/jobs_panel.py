"""The job queue: progress and cancel per job; errors stay on the job, not in a dialog.
Each row is two lines (what, then bar and Cancel) so it fits a narrow dock without a
horizontal scroll bar."""

from html import escape

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QHBoxLayout, QLabel, QProgressBar, QPushButton, QScrollArea,
                               QSizePolicy, QVBoxLayout, QWidget)

from engine.request import GenerationRequest

from . import theme

KEEP_FINISHED = 20
MIN_WIDTH = 220


def request_text(request: GenerationRequest) -> str:
    """A generation job in words, for its row."""
    more = f" · more like cue {request.parent_id}" if request.parent_id else ""
    return f"{request.prompt} · {request.model} · {request.candidates} × {request.duration:g} s{more}"


class JobRow(QWidget):
    def __init__(self, job_id: str, text: str, on_cancel, where: str = ""):
        super().__init__()
        self.job_id = job_id
        self.finished = False
        text += f" · on {where}" if where else ""
        self.title = QLabel(textFormat=Qt.TextFormat.PlainText, toolTip=text)
        self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self._text = text
        self.bar = QProgressBar(maximum=1000, textVisible=True, format="queued")
        self.bar.setMinimumWidth(80)
        self.cancel = QPushButton("Cancel", toolTip="Stop this job; nothing of it is kept")
        self.cancel.clicked.connect(lambda: on_cancel(job_id))
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.status.hide()
        row = QHBoxLayout()
        row.addWidget(self.bar, 1)
        row.addWidget(self.cancel)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.setSpacing(2)
        layout.addWidget(self.title)
        layout.addLayout(row)
        layout.addWidget(self.status)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.title.setText(self.title.fontMetrics().elidedText(
            self._text, Qt.TextElideMode.ElideRight, max(self.title.width(), 20)))

    def progress(self, fraction: float, stage: str) -> None:
        self.bar.setValue(int(fraction * 1000))
        self.bar.setFormat(f"{stage} · %p%")

    def end(self, text: str, error: bool = False, muted: bool = False) -> None:
        """Finished: done (a full bar), failed (the message in red) or cancelled (grey)."""
        self.finished = True
        self.cancel.hide()
        if error or muted:
            self.bar.hide()
            color = theme.ERROR if error else self.palette().placeholderText().color().name()
            self.status.setText(f"<span style='color:{color}'>{escape(text)}</span>")
            self.status.show()
        else:
            self.bar.setValue(1000)
            self.bar.setFormat(text)


class JobsPanel(QScrollArea):
    cancel_requested = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setMinimumSize(MIN_WIDTH, 90)
        body = QWidget()
        self._layout = QVBoxLayout(body)
        self._empty = QLabel("No jobs yet: generating, and transcribing to MIDI, show their progress here.",
                             wordWrap=True)
        self._empty.setEnabled(False)
        self._layout.addWidget(self._empty)
        self._layout.addStretch(1)
        self.setWidget(body)
        self._rows: dict[str, JobRow] = {}

    def add(self, job_id: str, text: str, where: str = "") -> None:
        """A row for a new job (`text` says what it does); `where` it runs when not on this computer."""
        self._empty.hide()
        row = JobRow(job_id, text, self.cancel_requested.emit, where)
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
            row.end(f"cancelled at {row.bar.value() / 10:.0f} %; nothing was kept", muted=True)

    def row(self, job_id: str) -> JobRow | None:
        return self._rows.get(job_id)

    def _drop(self, row: JobRow) -> None:
        del self._rows[row.job_id]
        row.deleteLater()
